COPY landing.records (batch_id, page_no, record_no, payload, raw) FROM STDIN
