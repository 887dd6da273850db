-- The reading session of mysql_general_log, one statement per line group (run in order).
-- UTC: a TIMESTAMP column (event_time) comes back in the session's zone, so every value and
-- both window bounds are UTC whatever the server's time_zone. Read only: the reader changes
-- nothing, even with more privileges than it needs. A slow consumer (landing a page) must not
-- make the server drop the streamed result: writes to the client may wait up to 10 minutes.
SET SESSION time_zone = '+00:00';
SET SESSION TRANSACTION READ ONLY;
SET SESSION net_write_timeout = 600;
