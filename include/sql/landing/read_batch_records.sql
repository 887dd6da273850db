-- payload as text: the loader parses it with orjson, several times faster than json.
SELECT page_no, record_no, payload::text
FROM landing.records
WHERE batch_id = %(batch_id)s
ORDER BY page_no, record_no
