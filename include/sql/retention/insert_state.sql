INSERT INTO reporting.retention_state (
    family, table_name, source_id, policy, policy_origin, cutoff, rows_kept, oldest_kept,
    complete_from, kept_past_policy, kept_because, config_holds, next_purge, note, as_of)
VALUES (%(family)s, %(table_name)s, %(source_id)s, %(policy)s, %(policy_origin)s, %(cutoff)s,
        %(rows_kept)s, %(oldest_kept)s, %(complete_from)s, %(kept_past_policy)s,
        %(kept_because)s, %(config_holds)s, %(next_purge)s, %(note)s, %(as_of)s)
