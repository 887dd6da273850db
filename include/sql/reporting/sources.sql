-- Every registered source and its record kind (retention of the source's own events is
-- configured by kind or source id).
SELECT source_id, kind FROM audit.sources ORDER BY source_id
