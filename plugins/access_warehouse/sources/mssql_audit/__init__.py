"""Source kind ``mssql_audit`` (being written)."""
