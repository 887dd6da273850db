-- Detach and drop one monthly partition (a function with the owner's rights: DDL).
SELECT audit.drop_access_event_partition(%(partition)s)
