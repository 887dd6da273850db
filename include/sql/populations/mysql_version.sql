-- Which server this is: MariaDB keeps account locking in mysql.global_priv, MySQL in mysql.user.
SELECT VERSION()
