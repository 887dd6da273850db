-- SQL type names of result columns, from their type OIDs, in the order given.
SELECT format_type(t.oid, NULL)
FROM unnest(%(oids)s::oid[]) WITH ORDINALITY AS t (oid, n)
ORDER BY t.n
