-- The source's open quarantine rows to re-process (all, or only those of one batch, those with
-- a reason containing a text (case-insensitive; ILIKE wildcards work), or those with the given
-- ids), one page per batch they first came from, with that batch's window: the load holds each
-- record to that window, as when it was quarantined (a bookmark batch has none).
INSERT INTO reprocess_chosen
SELECT q.quarantine_id, q.batch_id, q.payload, q.raw,
       coalesce(b.window_start, e.window_start), coalesce(b.window_end, e.window_end),
       (dense_rank() OVER (ORDER BY q.batch_id) - 1)::integer,
       (row_number() OVER (PARTITION BY q.batch_id ORDER BY q.quarantine_id) - 1)::integer
FROM dq.quarantine q
LEFT JOIN audit.batches b ON b.batch_id = q.batch_id
LEFT JOIN landing.extract_batches e ON e.batch_id = q.batch_id
WHERE q.source_id = %(source_id)s
  AND q.released_at IS NULL
  AND (%(from_batch_id)s::uuid IS NULL OR q.batch_id = %(from_batch_id)s::uuid)
  AND (%(reason_like)s::text IS NULL
       OR EXISTS (SELECT 1 FROM unnest(q.reasons) AS reason
                  WHERE reason ILIKE '%%' || %(reason_like)s::text || '%%'))
  AND (%(ids)s::bigint[] IS NULL OR q.quarantine_id = ANY (%(ids)s::bigint[]))
  -- a DAG run's own load just quarantined these with the same code
  AND q.batch_id IS DISTINCT FROM %(except_batch_id)s::uuid
