-- One time window of a SQL Server audit's files, read with sys.fn_get_audit_file.
--
-- The columns are the ones Microsoft documents for SQL Server 2017 and later, by name and in
-- the documented order (sys.fn_get_audit_file, "Tables returned"); columns the docs give no
-- SQL Server version for are added from the kind's allow-list at the marker below.
-- pattern: the audit file pattern (nvarchar(260)), a bound parameter, never spliced.
-- start, end: the window as naive UTC datetimes (event_time is UTC datetime2).
-- Ordered so that the parts of one long record (same sequence_group_id) come together.
SELECT
    event_time,
    sequence_number,
    action_id,
    succeeded,
    permission_bitmask,
    is_column_permission,
    session_id,
    server_principal_id,
    database_principal_id,
    target_server_principal_id,
    target_database_principal_id,
    object_id,
    class_type,
    session_server_principal_name,
    server_principal_name,
    server_principal_sid,
    database_principal_name,
    target_server_principal_name,
    target_server_principal_sid,
    target_database_principal_name,
    server_instance_name,
    database_name,
    schema_name,
    object_name,
    statement,
    additional_information,
    file_name,
    audit_file_offset,
    user_defined_event_id,
    user_defined_information,
    audit_schema_version,
    sequence_group_id,
    transaction_id,
    client_ip,
    application_name
    /* extra columns */
FROM sys.fn_get_audit_file(%(pattern)s, DEFAULT, DEFAULT)
WHERE event_time >= %(start)s
  AND event_time < %(end)s
ORDER BY event_time, sequence_group_id, sequence_number
