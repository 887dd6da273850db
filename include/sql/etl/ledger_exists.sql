-- Whether the migrations' ledger exists: bootstrap (DDL) only runs when it does not, so that a
-- login without the owner's rights (warehouse_loader) finds an up-to-date warehouse a no-op.
SELECT to_regclass('etl.schema_migrations') IS NOT NULL
