SELECT page_no, record_no, payload
FROM landing.records
WHERE batch_id = %(batch_id)s
ORDER BY page_no, record_no
