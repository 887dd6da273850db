"""``mssql_audit``: the SQL file reads exactly the documented columns; pure mapping pieces."""

from __future__ import annotations

import re

import pytest

from access_warehouse.sources.mssql_audit import EXTRA_MARKER, MssqlAuditSource, select_query
from access_warehouse.sources.mssql_audit.mapping import (
    COLUMNS,
    landed_record,
    reassemble,
    source_ip_of,
)
from access_warehouse.warehouse import sql

#: Microsoft Learn, "sys.fn_get_audit_file (Transact-SQL)", Tables returned: the columns SQL
#: Server 2017 and later return, in the documented order (typed out here, not imported).
DOCUMENTED = [
    "event_time",
    "sequence_number",
    "action_id",
    "succeeded",
    "permission_bitmask",
    "is_column_permission",
    "session_id",
    "server_principal_id",
    "database_principal_id",
    "target_server_principal_id",
    "target_database_principal_id",
    "object_id",
    "class_type",
    "session_server_principal_name",
    "server_principal_name",
    "server_principal_sid",
    "database_principal_name",
    "target_server_principal_name",
    "target_server_principal_sid",
    "target_database_principal_name",
    "server_instance_name",
    "database_name",
    "schema_name",
    "object_name",
    "statement",
    "additional_information",
    "file_name",
    "audit_file_offset",
    "user_defined_event_id",
    "user_defined_information",
    "audit_schema_version",
    "sequence_group_id",
    "transaction_id",
    "client_ip",
    "application_name",
]


def select_list(text: str) -> list[str]:
    body = re.sub(r"--[^\n]*", "", text)  # line comments
    body = body.replace(EXTRA_MARKER, "")
    match = re.search(r"\bSELECT\b(?P<columns>.*?)\bFROM\b", body, re.DOTALL)
    assert match, "no SELECT ... FROM"
    return [column.strip() for column in match["columns"].split(",")]


def test_the_sql_file_selects_the_documented_columns_from_the_function() -> None:
    text = sql("sources/mssql_audit/select_window.sql")
    assert select_list(text) == DOCUMENTED == list(COLUMNS)
    assert EXTRA_MARKER in text
    code = re.sub(r"--[^\n]*", "", text)
    assert "FROM sys.fn_get_audit_file(%(pattern)s, DEFAULT, DEFAULT)" in code
    assert re.search(r"WHERE event_time >= %\(start\)s\s+AND event_time < %\(end\)s", code)
    # pymssql's pyformat: no other percent sign may appear
    assert sorted(set(re.findall(r"%\((\w+)\)s", code))) == ["end", "pattern", "start"]
    assert code.count("%") == 3


def test_extra_columns_come_from_the_allow_list_only() -> None:
    source = MssqlAuditSource(
        kind="mssql_audit",
        name="a",
        conn_id="c",
        audit_file_pattern=r"D:\Audit\*.sqlaudit",
        extra_columns=["host_name", "connection_id"],
    )
    assert select_list(select_query(source)) == [*DOCUMENTED, "host_name", "connection_id"]
    with pytest.raises(ValueError, match="extra_columns"):
        MssqlAuditSource(
            kind="mssql_audit",
            name="a",
            conn_id="c",
            audit_file_pattern=r"D:\Audit\*.sqlaudit",
            extra_columns=["statement; DROP TABLE x"],
        )


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("*.sqlaudit", "must include the folder"),
        ("/var/opt/mssql/audit/", "ends with a folder"),
        ("D:\\Audit\\", "ends with a folder"),
        (" D:\\Audit\\*.sqlaudit", "spaces"),
        ("D:\\Audit\\*.sqlaudit\n", "spaces"),
    ],
)
def test_bad_audit_file_patterns_are_refused(pattern: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MssqlAuditSource(kind="mssql_audit", name="a", conn_id="c", audit_file_pattern=pattern)


def test_timezone_must_stay_utc() -> None:
    with pytest.raises(ValueError, match="UTC"):
        MssqlAuditSource(
            kind="mssql_audit",
            name="a",
            conn_id="c",
            audit_file_pattern="/a/*.sqlaudit",
            timezone="Europe/Berlin",
        )


def test_landed_values_are_json() -> None:
    import datetime as dt
    import decimal
    import uuid

    landed = landed_record(
        {
            "event_time": dt.datetime(2026, 11, 20, 8, 0, 1, 123456),
            "sequence_group_id": b"\x5c\x1f\x00",
            "succeeded": True,
            "duration_milliseconds": decimal.Decimal("12.50"),
            "connection_id": uuid.UUID(int=1),
            "object_id": 7,
            "statement": None,
        }
    )
    assert landed == {
        "event_time": "2026-11-20T08:00:01.123456+00:00",
        "sequence_group_id": "0x5C1F00",
        "succeeded": True,
        "duration_milliseconds": "12.50",
        "connection_id": "00000000-0000-0000-0000-000000000001",
        "object_id": 7,
        "statement": None,
    }


def test_parts_of_one_long_record_are_joined_and_others_left_alone() -> None:
    base = {"event_time": "t", "action_id": "IN", "sequence_group_id": "0x01"}
    rows = [
        {**base, "sequence_number": 1, "statement": "INSERT ab"},
        {**base, "sequence_number": 2, "statement": "cd"},
        {**base, "sequence_number": 3, "statement": "ef"},
        {**base, "sequence_number": 1, "statement": "another record, same group"},
        {**base, "sequence_group_id": "0x02", "sequence_number": 2, "statement": "orphan part"},
    ]
    records = list(reassemble(rows))
    assert [r["statement"] for r in records] == [
        "INSERT abcdef",
        "another record, same group",
        "orphan part",
    ]
    assert records[0]["record_parts"] == 3 and "record_parts" not in records[1]


@pytest.mark.parametrize(
    ("value", "address"),
    [("10.0.0.1", "10.0.0.1"), ("2001:db8::1", "2001:db8::1"), ("local machine", None), ("", None)],
)
def test_client_ip(value: str, address: str | None) -> None:
    assert source_ip_of(value) == address
