-- MariaDB 10.4+: every account and role. mysql.user is a view over mysql.global_priv, whose JSON
-- alone says whether an account is locked; only named keys are read from it, never the
-- authentication_string. The reading login needs SELECT on mysql.user and mysql.global_priv.
SELECT u.User AS user,
       u.Host AS host,
       u.is_role AS is_role,
       u.password_expired AS password_expired,
       JSON_VALUE(g.Priv, '$.account_locked') AS account_locked,
       JSON_VALUE(g.Priv, '$.password_last_changed') AS password_last_changed,
       JSON_VALUE(g.Priv, '$.password_lifetime') AS password_lifetime,
       u.plugin AS plugin,
       u.Super_priv AS super_priv,
       u.Grant_priv AS grant_priv,
       u.Create_user_priv AS create_user_priv,
       u.max_user_connections AS max_user_connections,
       u.default_role AS default_role
FROM mysql.user u
LEFT JOIN mysql.global_priv g ON g.Host = u.Host AND g.User = u.User
ORDER BY u.User, u.Host
