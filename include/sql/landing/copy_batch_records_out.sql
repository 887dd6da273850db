-- A landed batch in landing order, as binary COPY: jsonb's binary form is a version byte and
-- the JSON text, which the loader parses with orjson as it comes. raw holds the records jsonb
-- could not (payload is then NULL).
COPY (
    SELECT page_no, record_no, payload, raw
    FROM landing.records
    WHERE batch_id = %(batch_id)s
    ORDER BY page_no, record_no
) TO STDOUT (FORMAT binary)
