-- The population as configured now (kind, the sources whose events are its accounts' accesses).
INSERT INTO audit.populations (population_id, kind, source_ids, conn_id)
VALUES (%(population_id)s, %(kind)s, %(source_ids)s, %(conn_id)s)
ON CONFLICT (population_id) DO UPDATE
SET kind = EXCLUDED.kind, source_ids = EXCLUDED.source_ids, conn_id = EXCLUDED.conn_id
WHERE (audit.populations.kind, audit.populations.source_ids, audit.populations.conn_id)
      IS DISTINCT FROM (EXCLUDED.kind, EXCLUDED.source_ids, EXCLUDED.conn_id)
