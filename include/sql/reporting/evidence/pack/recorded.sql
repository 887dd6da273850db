-- What the warehouse recorded of a pack when it was written.
SELECT pack_id, period_start, period_end, created_at, created_by, dag_id, run_id, location,
       manifest_sha256, chain_head, files
FROM reporting.evidence_packs
WHERE pack_id = %(pack_id)s
