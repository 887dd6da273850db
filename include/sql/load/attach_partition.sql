SELECT audit.attach_access_event_partition(%(month)s)
