-- A retention purge's manifest entry, written before the rows go: per batch, how many of its
-- rows in [occurred_from, occurred_to) are removed and their lane sums, so that the verifier
-- expects them gone; and SHA-256 over all of them in canonical order (what an archive of the
-- purged rows can be checked against). The trigger on audit.manifests numbers and chains it.
WITH removed AS MATERIALIZED (
    SELECT e.batch_id, e.event_id, e.occurred_at, audit.event_fingerprint(e) AS fingerprint
    FROM audit.access_events e
    WHERE e.source_id = %(source_id)s
      AND e.occurred_at >= %(occurred_from)s
      AND e.occurred_at < %(occurred_to)s
), per_batch AS (
    SELECT batch_id, count(*) AS row_count,
           ARRAY[sum(audit.fingerprint_lane(fingerprint, 0)),
                 sum(audit.fingerprint_lane(fingerprint, 1)),
                 sum(audit.fingerprint_lane(fingerprint, 2)),
                 sum(audit.fingerprint_lane(fingerprint, 3))] AS lanes
    FROM removed
    GROUP BY batch_id
), digest AS (
    SELECT count(*) AS row_count,
           encode(sha256(coalesce(string_agg(fingerprint, ''::bytea
                                             ORDER BY event_id COLLATE "C", occurred_at),
                                  ''::bytea)), 'hex') AS removed_sha256
    FROM removed
)
INSERT INTO audit.manifests (
    source_id, kind, retention_run_id, window_start, window_end, row_count, content_sha256,
    lanes, removed_row_count, removed_sha256, removed)
SELECT %(source_id)s, 'purge', %(retention_run_id)s, %(occurred_from)s, %(occurred_to)s, 0,
       encode(sha256(''::bytea), 'hex'), ARRAY[0, 0, 0, 0]::numeric[], d.row_count,
       d.removed_sha256,
       coalesce((SELECT jsonb_agg(jsonb_build_object('batch_id', p.batch_id,
                                                     'rows', p.row_count,
                                                     'lanes', to_jsonb(p.lanes))
                                  ORDER BY p.batch_id)
                 FROM per_batch p), '[]'::jsonb)
FROM digest d
RETURNING entry_no, entry_hash, prev_hash, recorded_at, removed_row_count, removed_sha256,
          removed
