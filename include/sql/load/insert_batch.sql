-- One row per successful load, chained to the previous row by hash (global order). The hashed
-- fields of a window batch are those of the chain before bookmarks existed.
INSERT INTO audit.batches (
    batch_id, source_id, dag_id, run_id, window_start, window_end, lookback, bookmark_from,
    bookmark_to, pages, extracted, loaded,
    quarantined, excluded, duplicates, inserted, updated, unchanged, new_users, new_config_items, details,
    extract_started_at, loaded_at, duration_s, content_digest, prev_hash, batch_hash)
SELECT %(batch_id)s, %(source_id)s, %(dag_id)s, %(run_id)s, b.window_start, b.window_end,
       b.lookback, b.bookmark_from, b.bookmark_to, b.pages, %(extracted)s, %(loaded)s, %(quarantined)s, %(excluded)s, %(duplicates)s, %(inserted)s,
       %(updated)s, %(unchanged)s, %(new_users)s, %(new_config_items)s, %(details)s,
       b.started_at, now(), extract(epoch FROM clock_timestamp() - b.started_at),
       digest.content_digest, prev.batch_hash,
       encode(sha256(convert_to(concat_ws('|', prev.batch_hash, %(batch_id)s::text,
                                          %(source_id)s::text, b.window_start, b.window_end,
                                          -- NULL for window batches: concat_ws skips them
                                          b.bookmark_from::text, b.bookmark_to::text,
                                          %(extracted)s::text, %(loaded)s::text,
                                          %(quarantined)s::text, digest.content_digest),
                                'UTF8')), 'hex')
FROM landing.extract_batches b
CROSS JOIN (SELECT encode(sha256(convert_to(coalesce(string_agg(content_hash, ','
                ORDER BY source_id, event_id, occurred_at), ''), 'UTF8')), 'hex') AS content_digest
            FROM staging_events) digest
LEFT JOIN LATERAL (SELECT batch_hash FROM audit.batches
                   ORDER BY sequence_no DESC LIMIT 1) prev ON true
WHERE b.batch_id = %(batch_id)s
RETURNING duration_s, batch_hash
