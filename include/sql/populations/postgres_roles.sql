-- Every role of the server but the built-in pg_* ones, as pg_roles shows it (readable by any
-- login; no password hashes in it). enabled: it may log in now (LOGIN, and VALID UNTIL not
-- passed). member_of: the roles it is granted, which an access review needs with the role.
SELECT r.rolname AS name,
       r.oid::bigint AS oid,
       r.rolcanlogin AS can_login,
       r.rolcanlogin AND (r.rolvaliduntil IS NULL OR r.rolvaliduntil > now()) AS enabled,
       r.rolsuper AS superuser,
       r.rolcreaterole AS create_role,
       r.rolcreatedb AS create_db,
       r.rolreplication AS replication,
       r.rolbypassrls AS bypass_rls,
       r.rolinherit AS inherit,
       r.rolconnlimit AS connection_limit,
       -- text: psycopg cannot return 'infinity' as a datetime
       CASE WHEN r.rolvaliduntil IS NULL THEN NULL
            WHEN r.rolvaliduntil = 'infinity' THEN 'infinity'
            ELSE to_char(r.rolvaliduntil AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
       END AS valid_until,
       ARRAY(SELECT DISTINCT g.rolname::text
             FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
             WHERE m.member = r.oid
             ORDER BY 1) AS member_of
FROM pg_roles r
WHERE r.rolname NOT LIKE 'pg\_%'
ORDER BY r.rolname
