-- Large JSON values (landed payloads, event properties) skip pglz: compressing them cost more
-- than the rest of landing and of the upsert (COPY of 100k 3 KB sign-ins into jsonb: 7.7 s
-- with pglz, 4.7 s stored out of line uncompressed, for 45% more disk). A server built with
-- lz4, which is both fast and small, compresses them with it; others keep them uncompressed.
-- New partitions of audit.access_events copy the setting (audit.attach_access_event_partition).
DO $$
BEGIN
    ALTER TABLE landing.records ALTER COLUMN payload SET COMPRESSION lz4;
    ALTER TABLE audit.access_events ALTER COLUMN properties SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    ALTER TABLE landing.records ALTER COLUMN payload SET STORAGE EXTERNAL;
    ALTER TABLE audit.access_events ALTER COLUMN properties SET STORAGE EXTERNAL;
END
$$;
