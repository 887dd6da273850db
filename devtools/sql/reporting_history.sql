-- benchmarks/reporting_build.py: %(days)s days of synthetic sign-ins ending on %(last_day)s,
-- %(per_day)s a day, by 500 people to 20 applications from 50 IPs, each day loaded by one
-- window that reconciles (so every day is covered). Written straight into the audit tables:
-- the benchmark times the reporting build, not the load.
INSERT INTO audit.sources (source_id, source_uuid, kind)
VALUES ('bench:signins', md5('bench:signins')::uuid, 'bench_events')
ON CONFLICT DO NOTHING;
INSERT INTO audit.external_users (id, actor_type, principal_name, is_stub)
SELECT md5('user' || n)::uuid, 'user', 'user' || n || '@bench.example', false
FROM generate_series(0, 499) AS n
ON CONFLICT DO NOTHING;
INSERT INTO audit.config_items (id, type, external_id, name)
SELECT md5('app' || n)::uuid, 'application', 'app-' || n, 'App ' || n
FROM generate_series(0, 19) AS n
ON CONFLICT DO NOTHING;
SELECT audit.ensure_access_event_partitions(
    (%(last_day)s::date - %(days)s::int + 1)::timestamp AT TIME ZONE 'UTC',
    (%(last_day)s::date + 1)::timestamp AT TIME ZONE 'UTC');
INSERT INTO audit.batches (
    batch_id, source_id, window_start, window_end, lookback, pages, extracted, loaded,
    quarantined, duplicates, inserted, updated, unchanged, new_users, new_config_items,
    extract_started_at, loaded_at, duration_s, content_digest, batch_hash)
SELECT md5('batch' || d)::uuid, 'bench:signins', d::timestamp AT TIME ZONE 'UTC',
       (d + 1)::timestamp AT TIME ZONE 'UTC', '0', 1, %(per_day)s::int, %(per_day)s::int, 0, 0,
       %(per_day)s::int, 0, 0, 0, 0, (d + 1)::timestamp AT TIME ZONE 'UTC' + interval '1 hour',
       (d + 1)::timestamp AT TIME ZONE 'UTC' + interval '1 hour', 1, 'bench', 'bench'
FROM generate_series(%(last_day)s::date - %(days)s::int + 1, %(last_day)s::date, '1 day') AS g (d0),
     LATERAL (SELECT d0::date AS d) AS day;
INSERT INTO audit.access_events (
    source_id, event_id, occurred_at, category, action, outcome, actor_type,
    actor_principal_name, target_type, target_name, mfa, source_ip, country, error_code,
    external_user_id, config_id, batch_id, ingested_at, content_hash)
SELECT 'bench:signins', 'e' || i,
       (%(last_day)s::date - %(days)s::int + 1 + i / %(per_day)s::int)::timestamp AT TIME ZONE 'UTC'
           + ((i %% %(per_day)s::int) * (86400.0 / %(per_day)s::int)) * interval '1 second',
       'authentication', 'signIn',
       CASE WHEN i %% 10 = 0 THEN 'failure' ELSE 'success' END,
       'user', 'user' || (i %% 500) || '@bench.example', 'application', 'App ' || (i %% 20),
       CASE i %% 3 WHEN 0 THEN true WHEN 1 THEN false END,
       '10.0.' || (i %% 50) || '.1', (ARRAY['DE', 'FR', 'NL'])[1 + i %% 3],
       CASE WHEN i %% 10 = 0 THEN '50126' END,
       md5('user' || (i %% 500))::uuid, md5('app' || (i %% 20))::uuid,
       md5('batch' || (%(last_day)s::date - %(days)s::int + 1 + i / %(per_day)s::int))::uuid,
       now(), md5(i::text)
FROM generate_series(0, %(days)s::int * %(per_day)s::int - 1) AS i;
ANALYZE audit.access_events;
