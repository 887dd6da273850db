-- Batches of this source still 'extracting' whose extracting session is gone (their lock is
-- free) are marked failed, so they can neither load nor be mistaken for work in progress.
UPDATE landing.extract_batches
SET status = 'failed', finished_at = now(),
    error = 'abandoned: the extract ended without finishing this batch (found by the next '
            'extract of the source)'
WHERE source_id = %(source_id)s
  AND status = 'extracting'
  AND pg_try_advisory_xact_lock(('x' || substr(md5(batch_id::text), 1, 16))::bit(64)::bigint)
RETURNING batch_id
