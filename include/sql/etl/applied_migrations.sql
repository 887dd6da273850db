SELECT version, checksum FROM etl.schema_migrations
