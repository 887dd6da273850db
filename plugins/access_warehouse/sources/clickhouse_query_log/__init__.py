"""Source kind ``clickhouse_query_log`` (being written)."""
