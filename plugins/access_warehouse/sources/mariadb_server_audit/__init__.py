"""Source kind ``mariadb_server_audit`` (being written)."""
