INSERT INTO dq.reprocess_records (batch_id, quarantine_id, page_no, record_no)
SELECT %(batch_id)s, quarantine_id, page_no, record_no
FROM reprocess_chosen
