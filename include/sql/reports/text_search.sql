-- Which stored tables hold a text (the demo's check that a password reached none of them).
SELECT 'landing.records' FROM landing.records
WHERE strpos(coalesce(payload::text, convert_from(raw, 'UTF8')), %(text)s) > 0
UNION
SELECT 'audit.access_events' FROM audit.access_events e WHERE strpos(e::text, %(text)s) > 0
UNION
SELECT 'dq.quarantine' FROM dq.quarantine q WHERE strpos(q::text, %(text)s) > 0
UNION
SELECT 'audit.batches' FROM audit.batches b WHERE strpos(b::text, %(text)s) > 0
