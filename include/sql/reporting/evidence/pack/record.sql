-- One row per evidence pack written (its own short transaction, after the read).
INSERT INTO reporting.evidence_packs (
    pack_id, period_start, period_end, created_at, dag_id, run_id, location, manifest_sha256,
    chain_head, files)
VALUES (
    %(pack_id)s, %(period_start)s, %(period_end)s, %(created_at)s, %(dag_id)s, %(run_id)s,
    %(location)s, %(manifest_sha256)s, %(chain_head)s, %(files)s)
