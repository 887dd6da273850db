-- The demo's two most active member users of a sign-in source (first.last@ UPNs, no guests).
SELECT lower(actor_principal_name)
FROM audit.access_events
WHERE source_id = %(source_id)s AND actor_type = 'user'
  AND actor_principal_name ~ '^[A-Za-z]+\.[A-Za-z]+@' AND actor_principal_name NOT ILIKE '%%#ext#%%'
GROUP BY 1
ORDER BY count(*) DESC, 1
LIMIT 2
