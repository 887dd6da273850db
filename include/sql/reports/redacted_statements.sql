-- Statements of a source whose secrets the extract masked before landing.
SELECT DISTINCT properties ->> 'statement' FROM audit.access_events
WHERE source_id = %(source_id)s AND strpos(properties ->> 'statement', '[REDACTED]') > 0
ORDER BY 1
