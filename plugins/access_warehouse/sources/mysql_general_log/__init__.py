"""Source kind ``mysql_general_log`` (being written)."""
