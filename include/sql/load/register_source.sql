INSERT INTO audit.sources (source_id, source_uuid, kind, tenant_id, conn_id)
VALUES (%(source_id)s, %(source_uuid)s, %(kind)s, %(tenant_id)s, %(conn_id)s)
ON CONFLICT (source_id) DO NOTHING
