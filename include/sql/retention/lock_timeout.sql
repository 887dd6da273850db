-- How long this transaction waits for a table lock (a load writing the table) before it fails.
SELECT set_config('lock_timeout', %(timeout)s, true)
