-- The load's manifest entry, in the load's transaction after the upsert: the rows it wrote
-- (the staged events classified new or changed, which now carry its batch id, as stored) and
-- the rows it took over from earlier batches (integrity/taken_over.sql). The trigger on
-- audit.manifests numbers and chains it.
WITH written AS MATERIALIZED (
    SELECT s.event_id, s.occurred_at,
           audit.event_fingerprint(s.source_id, s.event_id, s.occurred_at, s.content_hash,
                                   s.external_user_id, s.config_id) AS fingerprint
    FROM staging_events s
    WHERE s.change_kind IN ('new', 'changed')
), written_digest AS (
    SELECT count(*) AS row_count,
           encode(sha256(coalesce(string_agg(fingerprint, ''::bytea
                                             ORDER BY event_id COLLATE "C", occurred_at),
                                  ''::bytea)), 'hex') AS content_sha256,
           ARRAY[coalesce(sum(audit.fingerprint_lane(fingerprint, 0)), 0),
                 coalesce(sum(audit.fingerprint_lane(fingerprint, 1)), 0),
                 coalesce(sum(audit.fingerprint_lane(fingerprint, 2)), 0),
                 coalesce(sum(audit.fingerprint_lane(fingerprint, 3)), 0)] AS lanes
    FROM written
), per_batch AS (
    SELECT batch_id, count(*) AS row_count,
           ARRAY[sum(audit.fingerprint_lane(fingerprint, 0)),
                 sum(audit.fingerprint_lane(fingerprint, 1)),
                 sum(audit.fingerprint_lane(fingerprint, 2)),
                 sum(audit.fingerprint_lane(fingerprint, 3))] AS lanes
    FROM manifest_taken_over
    GROUP BY batch_id
), taken_digest AS (
    SELECT count(*) AS row_count,
           encode(sha256(coalesce(string_agg(fingerprint, ''::bytea
                                             ORDER BY event_id COLLATE "C", occurred_at),
                                  ''::bytea)), 'hex') AS removed_sha256
    FROM manifest_taken_over
)
INSERT INTO audit.manifests (
    source_id, kind, batch_id, window_start, window_end, bookmark_from, bookmark_to,
    row_count, content_sha256, lanes, removed_row_count, removed_sha256, removed)
SELECT %(source_id)s, %(kind)s, b.batch_id, b.window_start, b.window_end, b.bookmark_from,
       b.bookmark_to, w.row_count, w.content_sha256, w.lanes, t.row_count, t.removed_sha256,
       coalesce((SELECT jsonb_agg(jsonb_build_object('batch_id', p.batch_id,
                                                     'rows', p.row_count,
                                                     'lanes', to_jsonb(p.lanes))
                                  ORDER BY p.batch_id)
                 FROM per_batch p), '[]'::jsonb)
FROM landing.extract_batches b
CROSS JOIN written_digest w
CROSS JOIN taken_digest t
WHERE b.batch_id = %(batch_id)s
RETURNING entry_no, entry_hash, row_count, removed_row_count
