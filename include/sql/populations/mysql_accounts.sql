-- MySQL 5.7/8: every account of mysql.user (SELECT on it is all the reading login needs); no
-- authentication_string. MySQL's roles are locked accounts this table cannot tell apart.
SELECT User AS user,
       Host AS host,
       'N' AS is_role,
       password_expired AS password_expired,
       account_locked AS account_locked,
       UNIX_TIMESTAMP(password_last_changed) AS password_last_changed,
       password_lifetime AS password_lifetime,
       plugin AS plugin,
       Super_priv AS super_priv,
       Grant_priv AS grant_priv,
       Create_user_priv AS create_user_priv,
       max_user_connections AS max_user_connections,
       NULL AS default_role
FROM mysql.user
ORDER BY User, Host
