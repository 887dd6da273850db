-- Stub people first seen in a source other than Entra: logins no identity rule or mapping
-- matched.
SELECT display_name, identifiers, sources, successful_accesses FROM auditor.stub_users
WHERE NOT first_source_id LIKE 'entra:%%'
ORDER BY display_name
