INSERT INTO landing.extract_batches (batch_id, source_id, source_kind, dag_id, run_id, window_start,
                                     window_end, lookback, bookmark_from, status)
VALUES (%(batch_id)s, %(source_id)s, %(source_kind)s, %(dag_id)s, %(run_id)s, %(window_start)s,
        %(window_end)s, %(lookback)s, %(bookmark_from)s, 'extracting')
