-- One row per extract attempt; a later verdict on the same attempt (a load after a failed
-- batch-level check, a retried load) replaces the earlier one.
INSERT INTO dq.completeness AS c (batch_id, source_id, dag_id, run_id, window_start, window_end,
                                  lookback, asked, source_said, source_count, extracted, loaded,
                                  quarantined, excluded, status, problems)
VALUES (%(batch_id)s, %(source_id)s, %(dag_id)s, %(run_id)s, %(window_start)s, %(window_end)s,
        %(lookback)s, %(asked)s, %(source_said)s, %(source_count)s, %(extracted)s, %(loaded)s,
        %(quarantined)s, %(excluded)s, %(status)s, %(problems)s)
ON CONFLICT (batch_id) DO UPDATE
SET dag_id = coalesce(EXCLUDED.dag_id, c.dag_id), run_id = coalesce(EXCLUDED.run_id, c.run_id),
    asked = EXCLUDED.asked, source_said = EXCLUDED.source_said,
    source_count = EXCLUDED.source_count, extracted = EXCLUDED.extracted,
    loaded = EXCLUDED.loaded, quarantined = EXCLUDED.quarantined, excluded = EXCLUDED.excluded,
    status = EXCLUDED.status, problems = EXCLUDED.problems, recorded_at = now()
