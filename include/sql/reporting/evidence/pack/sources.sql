-- The registered sources (audit.sources), for the manifest.
SELECT source_id, source_uuid, kind, tenant_id, conn_id, created_at
FROM audit.sources
ORDER BY source_id COLLATE "C"
