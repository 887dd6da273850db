-- The global batch chain's links (audit.batches, insert_batch.sql): each row's prev_hash is the
-- batch_hash of the row before it. Rows retention removed from the start leave the first
-- remaining row pointing at a hash no longer stored, which is fine; a link broken anywhere
-- else means a row was deleted, inserted or rehashed in between.
SELECT source_id, batch_id, sequence_no, window_start, window_end, prev_hash, previous_hash
FROM (
    SELECT source_id, batch_id, sequence_no, window_start, window_end, prev_hash,
           lag(batch_hash) OVER (ORDER BY sequence_no) AS previous_hash,
           row_number() OVER (ORDER BY sequence_no) AS position
    FROM audit.batches
) chain
WHERE position > 1 AND prev_hash IS DISTINCT FROM previous_hash
ORDER BY sequence_no
