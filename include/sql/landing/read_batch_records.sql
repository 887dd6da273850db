-- payload as text: the loader parses it with orjson, several times faster than json. raw holds
-- the records jsonb could not (payload is then NULL).
SELECT page_no, record_no, payload::text, raw
FROM landing.records
WHERE batch_id = %(batch_id)s
ORDER BY page_no, record_no
