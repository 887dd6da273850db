-- Every source the verifier checks: those with a chain, with events, or with loads.
SELECT source_id FROM audit.manifests
UNION SELECT source_id FROM audit.sources
UNION SELECT DISTINCT source_id FROM audit.access_events
UNION SELECT source_id FROM audit.batches
ORDER BY 1
