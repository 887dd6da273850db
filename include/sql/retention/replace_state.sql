DELETE FROM reporting.retention_state
