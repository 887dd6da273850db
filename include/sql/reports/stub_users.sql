SELECT display_name, identifiers, sources, events FROM auditor.stub_users
WHERE %(source_id)s = ANY (sources) ORDER BY display_name
