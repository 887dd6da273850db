-- What a source's rows hold now, per batch id: how many, SHA-256 over their fingerprints in
-- canonical order, and the lane sums (the same digests the manifest entries recorded). Reads
-- every row of the source once (OFFSET 0: each row's fingerprint is computed once).
SELECT batch_id, count(*) AS row_count,
       encode(sha256(string_agg(fingerprint, ''::bytea
                                ORDER BY event_id COLLATE "C", occurred_at)), 'hex')
           AS content_sha256,
       ARRAY[sum(audit.fingerprint_lane(fingerprint, 0)),
             sum(audit.fingerprint_lane(fingerprint, 1)),
             sum(audit.fingerprint_lane(fingerprint, 2)),
             sum(audit.fingerprint_lane(fingerprint, 3))] AS lanes
FROM (
    SELECT e.batch_id, e.event_id, e.occurred_at, audit.event_fingerprint(e) AS fingerprint
    FROM audit.access_events e
    WHERE e.source_id = %(source_id)s
    OFFSET 0
) stored
GROUP BY batch_id
