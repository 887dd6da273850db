"""The ``mssql_audit`` kind through the shared extract and load into a real warehouse.

SQL Server cannot run here, so the one function that opens the connection
(``mssql_audit.open_connection``, in production ``MsSqlHook.get_conn()``) is replaced by a
pymssql-like connection serving rows shaped exactly like the documented output of
``sys.fn_get_audit_file`` (every documented column of SQL Server 2017+, with the types pymssql
gives: naive ``datetime`` for datetime2, ``bool`` for bit, ``int``, ``bytes`` for varbinary,
``str``, ``None``). The SQL is the real file; the fake server applies its window and order and
the test asserts what was sent. Driver errors come from the real pymssql.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pymssql
import pytest
from warehouse_asserts import audit_snapshot, tables_containing

import access_warehouse.sources.mssql_audit as mssql_audit
from access_warehouse.config import parse_sources
from access_warehouse.extract import extract
from access_warehouse.landing import ExtractWindow
from access_warehouse.load import load_batch
from access_warehouse.sources.base import Feed
from access_warehouse.sources.database import SourceUnavailable
from access_warehouse.sources.mssql_audit.mapping import COLUMNS

CONN_ID = "sql_prod"
SERVER = "sql-prod"
PATTERN = "/var/opt/mssql/audit/access_audit_*.sqlaudit"
T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
WINDOW = ExtractWindow(T0, T0 + timedelta(hours=1))
FILE = (
    "/var/opt/mssql/audit/"
    "access_audit_5C1F0D6E-2B4A-4C77-9E1D-3A0B7C2D9F10_0_134072000000000000.sqlaudit"
)
NS = "http://schemas.microsoft.com/sqlserver/2008/sqlaudit_data"
PASSWORD = "Tr0ub4dor&3-carol"
LONG_VALUES = ", ".join(f"({n}, N'line {n:04d}')" for n in range(400))


def sid(n: int) -> bytes:
    return bytes([1, 5, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0]) + n.to_bytes(4, "little")


def group(n: int) -> bytes:
    return bytes.fromhex("5c1f0d6e2b4a4c779e1d3a0b7c2d9f") + bytes([n])


def row(minutes: float, action_id: str, n: int, **values: Any) -> dict[str, Any]:
    """One row as pymssql returns it (``as_dict=True``): every documented column, in order."""
    base: dict[str, Any] = {
        "event_time": (T0 + timedelta(minutes=minutes)).replace(tzinfo=None),
        "sequence_number": 1,
        "action_id": action_id,
        "succeeded": True,
        "permission_bitmask": bytes(16),
        "is_column_permission": False,
        "session_id": 50 + n,
        "server_principal_id": 260 + n,
        "database_principal_id": 0,
        "target_server_principal_id": 0,
        "target_database_principal_id": 0,
        "object_id": 0,
        "class_type": "LX",
        "session_server_principal_name": "alice",
        "server_principal_name": "alice",
        "server_principal_sid": sid(1000 + n),
        "database_principal_name": "",
        "target_server_principal_name": "",
        "target_server_principal_sid": None,
        "target_database_principal_name": "",
        "server_instance_name": "SQLPROD01",
        "database_name": "master",
        "schema_name": "",
        "object_name": "",
        "statement": "",
        "additional_information": "",
        "file_name": FILE,
        "audit_file_offset": 5632 + 512 * n,
        "user_defined_event_id": 0,
        "user_defined_information": "",
        "audit_schema_version": 1,
        "sequence_group_id": group(n),
        "transaction_id": 0,
        "client_ip": "10.1.2.3",
        "application_name": "Microsoft SQL Server Management Studio",
    }
    assert set(values) <= set(base), set(values) - set(base)
    return {**base, **values}


def login_info(address: str, **extra: str) -> str:
    tags = "".join(f"<{tag}>{value}</{tag}>" for tag, value in extra.items())
    return (
        f'<action_info xmlns="{NS}"><pooled_connection>0</pooled_connection>{tags}'
        f"<address>{address}</address></action_info>"
    )


ROWS: list[dict[str, Any]] = [
    row(
        1,
        "LGIS",
        1,
        statement="-- network protocol: TCP/IP\nset quoted_identifier on\nset arithabort off",
        additional_information=login_info("10.1.2.3", packet_data_size="8000", is_dac="0"),
    ),
    row(
        2,
        "LGIF",
        2,
        succeeded=False,
        session_id=0,
        session_server_principal_name="sa",
        server_principal_name="sa",
        server_principal_sid=None,
        client_ip="203.0.113.9",
        application_name="sqlcmd",
        statement="Login failed for user 'sa'. Reason: Password did not match that for the login "
        "provided. [CLIENT: 203.0.113.9]",
        additional_information=login_info("203.0.113.9", error="0x00004818", state="8"),
    ),
    row(
        10,
        "SL",
        3,
        class_type="U",
        object_id=245575913,
        database_principal_id=5,
        session_server_principal_name="bob",
        server_principal_name="bob",
        database_principal_name="bob",
        database_name="app",
        schema_name="Sales",
        object_name="Invoices",
        statement="SELECT * FROM Sales.Invoices WHERE customer_id = @P1",
        permission_bitmask=bytes(15) + b"\x01",
        client_ip="10.1.2.4",
        application_name="billing-api",
        transaction_id=281475067,
    ),
    row(
        11,
        "UP",
        4,
        succeeded=False,
        class_type="U",
        object_id=245575913,
        session_server_principal_name="bob",
        server_principal_name="bob",
        database_principal_name="bob",
        database_name="app",
        schema_name="Sales",
        object_name="Invoices",
        statement="UPDATE Sales.Invoices SET paid = 1 WHERE id = 7",
        client_ip="10.1.2.4",
        application_name="billing-api",
    ),
    row(
        12,
        "EX",
        5,
        class_type="P",
        object_id=901578250,
        session_server_principal_name="alice",
        server_principal_name="svc_reports",  # EXECUTE AS: the session's login is the actor
        database_principal_name="svc_reports",
        database_name="app",
        schema_name="dbo",
        object_name="usp_close_month",
        statement="EXEC dbo.usp_close_month @month = '2026-10'",
        additional_information="<tsql_stack><frame nest_level = '1' database_name = 'app' "
        "schema_name = 'dbo' object_name = 'usp_close_month'/></tsql_stack>",
    ),
    row(
        20,
        "CR",
        6,
        class_type="SL",
        object_id=301,
        session_server_principal_name="dba",
        server_principal_name="dba",
        object_name="carol",
        target_server_principal_name="carol",
        target_server_principal_id=301,
        target_server_principal_sid=sid(301),
        database_name="",
        statement=f"CREATE LOGIN [carol] WITH PASSWORD = N'{PASSWORD}', CHECK_POLICY = ON",
        client_ip="local machine",
        application_name="sqlcmd",
    ),
    # one INSERT whose statement did not fit one audit buffer: two rows of one record
    row(
        30,
        "IN",
        7,
        class_type="U",
        object_id=277576027,
        session_server_principal_name="bob",
        server_principal_name="bob",
        database_name="app",
        schema_name="Sales",
        object_name="Lines",
        statement=f"INSERT INTO Sales.Lines (id, note) VALUES {LONG_VALUES}"[:4000],
        client_ip="10.1.2.4",
        application_name="billing-api",
    ),
    row(
        30,
        "IN",
        7,
        sequence_number=2,
        class_type="U",
        object_id=277576027,
        session_server_principal_name="bob",
        server_principal_name="bob",
        database_name="app",
        schema_name="Sales",
        object_name="Lines",
        statement=f"INSERT INTO Sales.Lines (id, note) VALUES {LONG_VALUES}"[4000:],
        client_ip="10.1.2.4",
        application_name="billing-api",
    ),
    row(40, "XYZW", 8, class_type="DB", database_name="app", object_name="app"),
    row(59.99, "LGO", 9),
]
OUTSIDE = [row(-1, "LGIS", 10), row(60, "LGIS", 11)]  # before the window; at its end


class FakeCursor:
    """pymssql's cursor as this kind uses it: ``execute(query, params)``, ``fetchmany(n)``."""

    def __init__(self, server: FakeServer) -> None:
        self.server = server
        self.rows: list[dict[str, Any]] = []

    def execute(self, query: str, params: dict[str, Any]) -> None:
        self.server.executed.append((query, params))
        if self.server.error is not None:
            raise self.server.error
        # what the WHERE and ORDER BY of the real query do on the server
        chosen = [
            dict(r) for r in self.server.rows if params["start"] <= r["event_time"] < params["end"]
        ]
        self.rows = sorted(
            chosen, key=lambda r: (r["event_time"], r["sequence_group_id"], r["sequence_number"])
        )

    def fetchmany(self, size: int) -> list[dict[str, Any]]:
        self.server.fetches.append(size)
        page, self.rows = self.rows[:size], self.rows[size:]
        return page


class FakeConnection:
    def __init__(self, server: FakeServer) -> None:
        self.server = server

    def cursor(self, as_dict: bool = False) -> FakeCursor:
        assert as_dict, "rows are read as dicts keyed by column name"
        return FakeCursor(self.server)

    def commit(self) -> None:  # pragma: no cover - the kind never writes
        raise AssertionError("a reader never commits")

    def close(self) -> None:
        self.server.closed += 1


class FakeServer:
    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        self.executed: list[tuple[str, dict[str, Any]]] = []
        self.fetches: list[int] = []
        self.closed = 0
        self.error: BaseException | None = None
        self.opened: list[str] = []

    def connect(self, conn_id: str) -> FakeConnection:
        self.opened.append(conn_id)
        return FakeConnection(self)


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> FakeServer:
    fake = FakeServer(ROWS + OUTSIDE)
    monkeypatch.setattr(mssql_audit, "open_connection", fake.connect)
    return fake


def feed_of(**settings: Any) -> Feed:
    entry = {
        "kind": "mssql_audit",
        "name": "sql_prod_audit",
        "conn_id": CONN_ID,
        "server": SERVER,
        "audit_file_pattern": PATTERN,
        "page_size": 3,
        "identity": {"template": "{login}@contoso.com"},
        **settings,
    }
    return parse_sources([entry], "test").feed("mssql_audit:sql_prod_audit")


def run(warehouse: str, feed: Feed) -> Any:
    summary = extract(warehouse, feed, window=WINDOW)
    return summary, load_batch(warehouse, summary.batch_id, feed)


def events(dsn: str, source_id: str) -> dict[str, dict[str, Any]]:
    with psycopg.connect(dsn) as conn:
        conn.row_factory = psycopg.rows.dict_row
        rows = conn.execute(
            "SELECT * FROM audit.access_events WHERE source_id = %s", (source_id,)
        ).fetchall()
    return {row["action"] + ":" + (row["actor_name"] or ""): row for row in rows}


def test_the_query_reads_the_documented_columns_with_bound_pattern_and_window(
    server: FakeServer, warehouse_dsn: str
) -> None:
    extract(warehouse_dsn, feed_of(), window=WINDOW)

    ((query, params),) = server.executed
    assert server.opened == [CONN_ID] and server.closed == 1
    assert "FROM sys.fn_get_audit_file(%(pattern)s, DEFAULT, DEFAULT)" in query
    assert "event_time >= %(start)s" in query and "event_time < %(end)s" in query
    assert "ORDER BY event_time, sequence_group_id, sequence_number" in query
    assert PATTERN not in query, "the pattern is bound, never spliced"
    assert params == {
        "pattern": PATTERN,
        "start": datetime(2026, 11, 20, 8, 0),  # naive UTC, as event_time is
        "end": datetime(2026, 11, 20, 9, 0),
    }
    selected = query.split("SELECT", 1)[1].split("FROM sys.fn_get_audit_file", 1)[0]
    names = [name.strip() for name in selected.replace("/* extra columns */", "").split(",")]
    assert names == list(COLUMNS)
    assert set(names) == set(ROWS[0]), "the fake rows have exactly the selected columns"
    assert all(size == 3 for size in server.fetches)


def test_extra_columns_are_added_by_name(server: FakeServer, warehouse_dsn: str) -> None:
    for r in server.rows:
        r["host_name"] = "WS-0142"
    _, loaded = run(warehouse_dsn, feed_of(extra_columns=["host_name"]))
    ((query, _),) = server.executed
    assert "    application_name\n    , host_name\nFROM sys.fn_get_audit_file(" in query
    assert loaded.loaded == 9
    got = events(warehouse_dsn, "mssql_audit:sql_prod_audit")
    assert got["SELECT:bob"]["properties"]["host_name"] == "WS-0142"


def test_records_land_mapped_redacted_and_a_rerun_changes_nothing(
    server: FakeServer, warehouse_dsn: str
) -> None:
    feed = feed_of()

    extracted, loaded = run(warehouse_dsn, feed)

    # 10 rows in the window, the INSERT's two parts one record; pages of 3 records
    assert (extracted.records, extracted.pages) == (9, 3)
    assert extracted.requests["requests"] == 1 + 4  # the query, then 4 fetchmany round trips
    assert (loaded.loaded, loaded.quarantined, loaded.excluded, loaded.inserted) == (9, 0, 0, 9)
    got = events(warehouse_dsn, feed.source_id)
    assert sorted(got) == sorted(
        [
            "connect:alice",
            "connect:sa",
            "SELECT:bob",
            "UPDATE:bob",
            "EXECUTE:alice",
            "CREATE:dba",
            "INSERT:bob",
            "XYZW:alice",
            "disconnect:alice",
        ]
    )

    login = got["connect:alice"]
    assert (login["category"], login["outcome"], login["occurred_at"]) == (
        "authentication",
        "success",
        T0 + timedelta(minutes=1),
    )
    assert login["actor_external_id"] == "sql-prod/alice"
    assert login["actor_principal_name"] == "alice@contoso.com"
    assert (login["target_type"], login["target_name"]) == ("database_server", SERVER)
    assert (str(login["source_ip"]), login["client_app"]) == (
        "10.1.2.3",
        "Microsoft SQL Server Management Studio",
    )
    assert login["mfa"] is None
    assert login["event_id"] == "0x" + group(1).hex().upper() + ":LGIS:LX:0"
    properties = login["properties"]
    assert properties["server_principal_sid"] == "0x" + sid(1001).hex().upper()
    assert properties["permission_bitmask"] == "0x" + "00" * 16
    assert properties["succeeded"] is True and properties["is_column_permission"] is False
    assert properties["file_name"] == FILE and properties["audit_file_offset"] == 6144
    assert "database_principal_name" not in properties  # '' says nothing
    assert "event_time" not in properties and "client_ip" not in properties

    failed = got["connect:sa"]
    assert (failed["category"], failed["outcome"], failed["error_code"]) == (
        "authentication",
        "failure",
        "18456",
    )
    assert failed["failure_reason"].startswith("Login failed for user 'sa'. Reason: Password")
    assert str(failed["source_ip"]) == "203.0.113.9" and failed["client_app"] == "sqlcmd"

    read = got["SELECT:bob"]
    assert (read["category"], read["outcome"], read["target_type"]) == (
        "database",
        "success",
        "table",
    )
    assert (read["target_name"], read["target_external_id"]) == (
        "Sales.Invoices",
        "sql-prod/app/Sales/Invoices",
    )
    assert read["properties"]["statement"] == "SELECT * FROM Sales.Invoices WHERE customer_id = @P1"
    assert read["config_id"] is not None
    denied = got["UPDATE:bob"]
    assert (denied["outcome"], denied["failure_reason"]) == ("failure", "permission check failed")
    assert denied["config_id"] == read["config_id"]

    executed = got["EXECUTE:alice"]
    assert (executed["target_type"], executed["target_name"]) == (
        "procedure",
        "dbo.usp_close_month",
    )
    assert executed["properties"]["server_principal_name"] == "svc_reports"

    created = got["CREATE:dba"]
    assert (created["category"], created["target_type"], created["target_name"]) == (
        "iam",
        "login",
        "carol",
    )
    assert created["source_ip"] is None
    assert created["properties"]["client_ip"] == "local machine"
    assert created["properties"]["statement"] == (
        "CREATE LOGIN [carol] WITH PASSWORD = [REDACTED], CHECK_POLICY = ON"
    )
    assert tables_containing(warehouse_dsn, PASSWORD) == []
    assert tables_containing(warehouse_dsn, "Tr0ub4dor") == []

    inserted = got["INSERT:bob"]
    assert inserted["properties"]["record_parts"] == 2
    assert inserted["properties"]["statement"] == (
        f"INSERT INTO Sales.Lines (id, note) VALUES {LONG_VALUES}"
    )
    unknown = got["XYZW:alice"]
    assert (unknown["category"], unknown["target_type"], unknown["target_name"]) == (
        "database",
        "database",
        "app",
    )
    assert unknown["properties"]["action_id"] == "XYZW"

    before = audit_snapshot(warehouse_dsn)
    again_extracted, again = run(warehouse_dsn, feed)
    assert again_extracted.records == 9
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 9)
    assert audit_snapshot(warehouse_dsn) == before


def test_exclusions_test_the_actor_and_the_action_id(
    server: FakeServer, warehouse_dsn: str
) -> None:
    feed = feed_of(exclude_logins=["ALICE"], exclude_statement_classes=["sl", "LGIF"])

    _, loaded = run(warehouse_dsn, feed)

    # alice: LGIS, EX (the session's login), XYZW, LGO; SL and LGIF by action id
    assert (loaded.loaded, loaded.excluded) == (3, 6)
    assert sorted(events(warehouse_dsn, feed.source_id)) == [
        "CREATE:dba",
        "INSERT:bob",
        "UPDATE:bob",
    ]


def test_a_driver_error_names_the_connection(server: FakeServer, warehouse_dsn: str) -> None:
    server.error = pymssql.OperationalError(
        33224,
        b"The specified pattern did not return any files or does not represent a valid file "
        b"share. Verify the pattern parameter and rerun the command.DB-Lib error message 20018, "
        b"severity 16:\nGeneral SQL Server error: Check messages from the SQL Server\n",
    )
    with pytest.raises(SourceUnavailable, match=f"connection '{CONN_ID}'") as raised:
        extract(warehouse_dsn, feed_of(), window=WINDOW)
    assert "33224: The specified pattern did not return any files" in str(raised.value)
    assert server.closed == 1
    with psycopg.connect(warehouse_dsn) as conn:
        (status, error) = conn.execute(
            "SELECT status, error FROM landing.extract_batches"
        ).fetchone()
    assert status == "failed" and CONN_ID in error


def test_connection_errors_from_the_real_driver_and_airflow(
    monkeypatch: pytest.MonkeyPatch, warehouse_dsn: str
) -> None:
    """The real ``open_connection``: the provider's hook and pymssql against a closed port."""
    password = "n0t-in-any-message"
    variable = f"AIRFLOW_CONN_{CONN_ID.upper()}"
    connection = {
        "conn_type": "mssql",
        "host": "127.0.0.1",
        "port": 1,
        "schema": "master",
        "login": "audit_reader",
        "password": password,
        "extra": {"login_timeout": 5},
    }
    monkeypatch.setenv(variable, json.dumps(connection))
    with pytest.raises(SourceUnavailable, match=f"connection '{CONN_ID}'") as raised:
        extract(warehouse_dsn, feed_of(), window=WINDOW)
    assert "20009" in str(raised.value) and password not in str(raised.value)
    assert tables_containing(warehouse_dsn, password) == []

    monkeypatch.setenv(variable, json.dumps({**connection, "port": None}))
    with pytest.raises(SourceUnavailable, match="has no port: set it"):
        extract(warehouse_dsn, feed_of(), window=WINDOW)

    monkeypatch.setenv(variable, json.dumps({**connection, "conn_type": "postgres"}))
    with pytest.raises(SourceUnavailable, match="use conn type mssql"):
        extract(warehouse_dsn, feed_of(), window=WINDOW)

    monkeypatch.delenv(variable)
    with pytest.raises(SourceUnavailable, match=f"connection '{CONN_ID}' is not defined"):
        extract(warehouse_dsn, feed_of(), window=WINDOW)
