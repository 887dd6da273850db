"""The ``clickhouse_query_log`` kind against a real ClickHouse query log, through the shared
extract and load into a real warehouse.

No ClickHouse server runs here, and none can be installed; ``chdb`` embeds the ClickHouse
engine (26.9), and given a config file with a ``<query_log>`` section it keeps a real
``system.query_log``. So the live tests run real statements (DDL, INSERT, SELECT with commas and
quotes, failing queries, ``CREATE USER`` with a password, a password literal) in chdb and
extract them with the kind's own fetch and SQL text; only the transport differs: chdb's
``Session.query`` in place of the ``clickhouse_connect`` HTTP client (the production
transport, tested here against a refused connection and for its parameter binding).

What chdb cannot produce (other users, remote addresses, HTTP clients, distributed secondary
queries, privilege denials, rows of servers that did not wipe passwords) is tested on rows
shaped exactly like the documented columns, as the fetch lands them (``tests/fixtures/
clickhouse_query_log/`` holds them as golden cases too).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import psycopg
import pytest
from normalise_asserts import load_fixture
from warehouse_asserts import audit_snapshot, land_pages, tables_containing

from access_warehouse.config import parse_sources
from access_warehouse.extract import extract
from access_warehouse.landing import ExtractWindow
from access_warehouse.load import load_batch
from access_warehouse.redaction import MASK, Redactor
from access_warehouse.sources.base import Feed, FetchRequest, Page
from access_warehouse.sources.clickhouse_query_log import (
    ClickhouseQueryLogSource,
    client_arguments,
    fetch_query_log,
    window_query,
)
from access_warehouse.sources.clickhouse_query_log.mapping import COLUMNS
from access_warehouse.sources.database import SourceUnavailable
from devtools import chdb_query_log

KIND = "clickhouse_query_log"
CONN_ID = "ch_test"
SERVER = "ch-test"
CREATE_USER_PASSWORD = "Sup3r-Secret-pw"
URL_PASSWORD = "Url-Secret-pw"
REMOTE_PASSWORD = "Remote-Secret-pw"


#: (label, statement, fails): run in this order in chdb.
STATEMENTS: list[tuple[str, str, bool]] = [
    ("create_db", "CREATE DATABASE shop", False),
    (
        "create_table",
        "CREATE TABLE shop.orders (id UInt32, customer String, note String)"
        " ENGINE = MergeTree ORDER BY id",
        False,
    ),
    (
        "insert",
        "INSERT INTO shop.orders VALUES (1, 'O''Brien, Pat', 'a, b'), (2, 'Lee', 'it''s \"x\"')",
        False,
    ),
    (
        "select",
        "SELECT id, customer FROM shop.orders WHERE note = 'it''s \"x\"' OR customer LIKE '%, %'"
        " ORDER BY id",
        False,
    ),
    ("missing_table", "SELECT * FROM shop.missing", True),
    ("while_processing", "SELECT throwIf(id = 1, 'boom') FROM shop.orders", True),
    ("show", "SHOW TABLES FROM shop", False),
    (
        "create_user",
        f"CREATE USER alice IDENTIFIED WITH sha256_password BY '{CREATE_USER_PASSWORD}'",
        True,  # chdb's default user may not manage access: refused, logged (password wiped)
    ),
    ("url_literal", f"SELECT 'postgresql://app:{URL_PASSWORD}@db/app' AS dsn", False),
    (
        "remote",
        f"SELECT * FROM remote('127.0.0.1:1', shop.orders, 'reader', '{REMOTE_PASSWORD}')",
        True,
    ),
]


@dataclass
class QueryLog:
    """A chdb session keeping a query log, the statements run in it and when."""

    session: Any
    start: datetime
    end: datetime
    #: label -> the statement's QueryFinish / Exception* row (event_time_microseconds, type).
    rows: dict[str, dict[str, Any]]

    def query(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        return chdb_query_log.rows(self.session, sql, **params)

    def connect(self, source: ClickhouseQueryLogSource) -> Any:
        """The chdb transport: the fetch's SQL and bound parameters, run by the engine."""
        return chdb_query_log.transport(self.session, source)


def _now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture(scope="module")
def query_log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[QueryLog]:
    session = chdb_query_log.open_session(tmp_path_factory.mktemp("chdb"))
    start = _now()
    time.sleep(0.01)
    for _, statement, fails in STATEMENTS:
        if fails:
            with pytest.raises(chdb_query_log.chdb_errors()):
                session.query(statement)
        else:
            session.query(statement)
    time.sleep(0.01)
    end = _now()
    session.query("SYSTEM FLUSH LOGS")
    log = QueryLog(session, start, end, {})
    for label, statement, _ in STATEMENTS:
        # the logged text: INSERT without its data, passwords wiped by ClickHouse
        head = statement.split(" VALUES ")[0].split(" BY ")[0].split("'reader'")[0]
        (row,) = log.query(
            "SELECT toString(type) AS type, query, query_id, exception_code,"
            " formatDateTime(event_time_microseconds, '%Y-%m-%dT%H:%i:%S.%fZ', 'UTC') AS t"
            " FROM system.query_log WHERE type != 'QueryStart' AND startsWith(query, {head:String})"
            " AND event_time_microseconds >= {start:DateTime64(6, 'UTC')}",
            head=head,
            start=start.strftime("%Y-%m-%d %H:%M:%S.%f"),
        )
        log.rows[label] = row
    yield log
    session.close()


def source_entry(**overrides: Any) -> dict[str, Any]:
    return {
        "kind": KIND,
        "name": "ch_test",
        "conn_id": CONN_ID,
        "server": SERVER,
        "page_size": 3,
        "identity": {"template": "{login}@contoso.com"},
        "exclude_statement_classes": ["Show"],
        **overrides,
    }


def source_of(**overrides: Any) -> ClickhouseQueryLogSource:
    (source,) = parse_sources([source_entry(**overrides)], "test").sources
    assert isinstance(source, ClickhouseQueryLogSource)
    return source


def feed_of(log: QueryLog | None = None, **overrides: Any) -> Feed:
    """The source's feed; with ``log``, its fetch runs through chdb instead of the client."""
    source = source_of(**overrides)
    (feed,) = source.feeds()
    if log is None:
        return feed
    return replace(feed, fetch=partial(fetch_query_log, source, connect=log.connect))


def events(dsn: str, source_id: str) -> dict[str, dict[str, Any]]:
    with psycopg.connect(dsn) as conn:
        conn.row_factory = psycopg.rows.dict_row
        rows = conn.execute(
            "SELECT * FROM audit.access_events WHERE source_id = %s", (source_id,)
        ).fetchall()
    return {row["event_id"]: row for row in rows}


def event_id(log: QueryLog, label: str) -> str:
    row = log.rows[label]
    hostname = log.query("SELECT hostName() AS h")[0]["h"]
    return f"{row['t']}|{row['type']}|{hostname}|{row['query_id']}"


# --- live, on chdb's real query log --------------------------------------------------------


def test_chdb_keeps_a_real_query_log(query_log: QueryLog) -> None:
    """What the live tests rest on: the rows chdb's query log holds for our statements."""
    rows = query_log.rows
    assert {label: row["type"] for label, row in rows.items()} == {
        "create_db": "QueryFinish",
        "create_table": "QueryFinish",
        "insert": "QueryFinish",
        "select": "QueryFinish",
        "missing_table": "ExceptionBeforeStart",
        "while_processing": "ExceptionWhileProcessing",
        "show": "QueryFinish",
        "create_user": "ExceptionBeforeStart",
        "url_literal": "QueryFinish",
        "remote": "ExceptionBeforeStart",
    }
    assert rows["missing_table"]["exception_code"] == 60  # UNKNOWN_TABLE
    assert rows["while_processing"]["exception_code"] == 395  # FUNCTION_THROW_IF_VALUE_IS_NON_ZERO
    # the embedded engine's default user may not manage access: refused, and logged
    assert rows["create_user"]["exception_code"] == 497  # ACCESS_DENIED
    # ClickHouse wipes what it can parse as a secret before logging
    assert rows["create_user"]["query"] == "CREATE USER alice IDENTIFIED WITH sha256_password"
    assert "'[HIDDEN]'" in rows["remote"]["query"]
    assert rows["insert"]["query"] == "INSERT INTO shop.orders VALUES "  # data not logged
    (start,) = query_log.query(
        "SELECT count() AS n FROM system.query_log WHERE type = 'QueryStart'"
        " AND event_time_microseconds >= {start:DateTime64(6, 'UTC')}",
        start=query_log.start.strftime("%Y-%m-%d %H:%M:%S.%f"),
    )
    assert int(start["n"]) >= 7  # every statement that started, the window query skips them


def test_every_finished_query_of_the_window_lands_mapped_and_a_rerun_changes_nothing(
    query_log: QueryLog, warehouse_dsn: str
) -> None:
    feed = feed_of(query_log)
    window = ExtractWindow(query_log.start, query_log.end, timedelta(0))

    extracted = extract(warehouse_dsn, feed, window=window)
    loaded = load_batch(warehouse_dsn, extracted.batch_id, feed)

    # every non-QueryStart row of the window, as the engine counts them
    (count,) = query_log.query(
        "SELECT count() AS n FROM system.query_log WHERE type != 'QueryStart'"
        " AND event_time_microseconds >= {start:DateTime64(6, 'UTC')}"
        " AND event_time_microseconds < {end:DateTime64(6, 'UTC')}",
        start=query_log.start.strftime("%Y-%m-%d %H:%M:%S.%f"),
        end=query_log.end.strftime("%Y-%m-%d %H:%M:%S.%f"),
    )
    assert extracted.records == int(count["n"]) >= len(STATEMENTS) + 1
    assert extracted.pages == -(-extracted.records // 3)  # pages of page_size 3
    assert extracted.records == loaded.loaded + loaded.quarantined + loaded.excluded
    assert loaded.quarantined == 0
    # SHOW TABLES by configuration; the SELECT ... FROM system.tables it ran as not_access
    with psycopg.connect(warehouse_dsn) as conn:
        (by_rule,) = conn.execute(
            "SELECT details->'excluded_by_rule' FROM audit.batches WHERE batch_id = %s",
            (loaded.batch_id,),
        ).fetchone()
    assert by_rule == {"statement_class:SHOW": 1, "not_access:internal": 1}

    got = events(warehouse_dsn, feed.source_id)
    assert len(got) == loaded.loaded
    expected = {
        # label: (action, outcome, target type, target name, target path, error code)
        "create_db": ("CREATE", "success", "database", "shop", f"{SERVER}/shop", None),
        "create_table": ("CREATE", "success", "table", "orders", f"{SERVER}/shop/orders", None),
        "insert": ("INSERT", "success", "table", "orders", f"{SERVER}/shop/orders", None),
        "select": ("SELECT", "success", "table", "orders", f"{SERVER}/shop/orders", None),
        "missing_table": ("SELECT", "failure", "database_server", SERVER, SERVER, "60"),
        "while_processing": (
            "SELECT",
            "failure",
            "table",
            "orders",
            f"{SERVER}/shop/orders",
            "395",
        ),
        "create_user": ("CREATE USER", "failure", "database_server", SERVER, SERVER, "497"),
        "url_literal": ("SELECT", "success", "table", "one", f"{SERVER}/system/one", None),
        "remote": ("SELECT", "failure", "database_server", SERVER, SERVER, "519"),
    }
    for label, (action, outcome, target_type, name, path, code) in expected.items():
        event = got[event_id(query_log, label)]
        assert (event["action"], event["outcome"], event["error_code"]) == (action, outcome, code)
        assert (event["target_type"], event["target_name"]) == (target_type, name), label
        assert event["target_external_id"] == path
        assert event["category"] == "database" and event["mfa"] is None
        assert (event["actor_name"], event["actor_external_id"]) == ("default", f"{SERVER}/default")
        assert event["actor_principal_name"] == "default@contoso.com"
        assert str(event["source_ip"]) == "127.0.0.1"  # logged as ::ffff:127.0.0.1
        assert event["client_app"] == "chDB client"
        assert event["occurred_at"] == datetime.fromisoformat(query_log.rows[label]["t"])
        assert event["config_id"] is not None and event["external_user_id"] is not None
        properties = event["properties"]
        assert (
            properties["query_kind"] and properties["query_id"] == query_log.rows[label]["query_id"]
        )
        assert "query" not in properties and "event_time_microseconds" not in properties
        if outcome == "failure":
            assert event["failure_reason"].startswith(f"Code: {code}. DB::")
    select = got[event_id(query_log, "select")]["properties"]
    assert select["statement"] == STATEMENTS[3][1]  # commas and quotes as sent
    assert select["tables"] == ["shop.orders"] and select["databases"] == ["shop"]
    assert select["columns"] == ["shop.orders.customer", "shop.orders.id", "shop.orders.note"]
    assert select["result_rows"] == 2 and select["is_initial_query"] == 1
    assert got[event_id(query_log, "insert")]["properties"]["written_rows"] == 2
    assert got[event_id(query_log, "while_processing")]["failure_reason"].startswith(
        "Code: 395. DB::Exception: boom"
    )
    # secrets: wiped by ClickHouse, the literal masked by the shared redaction before landing
    url = got[event_id(query_log, "url_literal")]["properties"]["statement"]
    assert url == f"SELECT 'postgresql://app:{MASK}@db/app' AS dsn"
    for secret in (CREATE_USER_PASSWORD, URL_PASSWORD, REMOTE_PASSWORD):
        assert tables_containing(warehouse_dsn, secret) == []
    assert extracted.requests["redacted"] >= 1

    before = audit_snapshot(warehouse_dsn)
    again = extract(warehouse_dsn, feed, window=window)
    reloaded = load_batch(warehouse_dsn, again.batch_id, feed)
    assert again.records == extracted.records
    assert (reloaded.inserted, reloaded.updated, reloaded.unchanged) == (0, 0, loaded.loaded)
    assert audit_snapshot(warehouse_dsn) == before


def test_the_window_is_exact_to_the_microsecond(query_log: QueryLog, warehouse_dsn: str) -> None:
    feed = feed_of(query_log)
    first = datetime.fromisoformat(query_log.rows["insert"]["t"])
    last = datetime.fromisoformat(query_log.rows["missing_table"]["t"])

    extracted = extract(warehouse_dsn, feed, window=ExtractWindow(first, last, timedelta(0)))
    load_batch(warehouse_dsn, extracted.batch_id, feed)

    # [insert, missing_table): the insert at the start is in, the failure at the end is not
    assert set(events(warehouse_dsn, feed.source_id)) == {
        event_id(query_log, "insert"),
        event_id(query_log, "select"),
    }


def test_a_table_that_is_not_a_query_log_is_named(query_log: QueryLog, warehouse_dsn: str) -> None:
    window = ExtractWindow(query_log.start, query_log.end, timedelta(0))
    with pytest.raises(SourceUnavailable, match=r"shop\.absent .*does not exist .*log_queries"):
        extract(warehouse_dsn, feed_of(query_log, table="shop.absent"), window=window)
    with pytest.raises(SourceUnavailable, match=r"shop\.orders .*has no column type, event_time"):
        extract(warehouse_dsn, feed_of(query_log, table="shop.orders"), window=window)


def test_an_engine_error_is_source_unavailable_naming_the_connection(
    query_log: QueryLog, warehouse_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a table whose columns look right but whose query fails on the server
    query_log.session.query(
        "CREATE TABLE IF NOT EXISTS shop.broken_log (type String, event_time_microseconds"
        " String, event_time String, event_date String, query_id String, user String,"
        " query_kind String, query String, exception_code String) ENGINE = Memory"
    )
    window = ExtractWindow(query_log.start, query_log.end, timedelta(0))
    with pytest.raises(
        SourceUnavailable, match=rf"connection '{CONN_ID}'\): .*Code: 43\. .*formatDateTime"
    ) as raised:
        extract(warehouse_dsn, feed_of(query_log, table="shop.broken_log"), window=window)
    assert "chdb (embedded engine)" in str(raised.value)


# --- rows shaped like the documented columns (what chdb cannot produce) ---------------------

DOCUMENTED = [
    "select_http_user",
    "insert_native_ipv6",
    "access_denied",
    "distributed_secondary",
    "alter_user",
    "grant",
]


def test_documented_rows_other_users_addresses_and_distributed_queries(
    warehouse_dsn: str,
) -> None:
    feed = feed_of()
    records = [load_fixture(KIND, name) for name in DOCUMENTED]
    batch = land_pages(warehouse_dsn, feed, [records])

    loaded = load_batch(warehouse_dsn, batch, feed)

    assert (loaded.loaded, loaded.quarantined, loaded.excluded) == (len(DOCUMENTED), 0, 0)
    by_query = {
        e["properties"]["query_id"]: e for e in events(warehouse_dsn, feed.source_id).values()
    }
    http = by_query["3f0c3c8e-5a6b-4a77-9b7e-0d2a5f1c9a01"]
    assert (http["actor_name"], str(http["source_ip"])) == ("alice", "10.20.30.40")
    assert http["actor_principal_name"] == "alice@contoso.com"
    assert http["client_app"] == "clickhouse-connect/0.8.18 (lv:py/3.12.3; os:linux)"
    assert (http["target_type"], http["target_external_id"]) == ("table", f"{SERVER}/sales/orders")
    native = by_query["b7b0f3f4-1f0e-4a55-8d5c-6c0a44d4d102"]
    assert (native["actor_name"], str(native["source_ip"])) == ("bob", "2001:db8::42")
    assert native["client_app"] == "ClickHouse client"
    denied = by_query["0d6d7f0e-3e1b-44f9-a2a0-1f2b3c4d5e03"]
    assert (denied["outcome"], denied["error_code"]) == ("failure", "497")
    assert denied["properties"]["missing_privileges"] == ["SELECT(salary) ON hr.employees"]
    secondary = by_query["9b1e6f3a-7c2d-4e5f-8a9b-0c1d2e3f4a04"]
    assert secondary["actor_name"] == "carol"  # initial_user, not the interserver user
    assert secondary["properties"]["user"] == "interserver"
    assert secondary["properties"]["is_initial_query"] == 0
    assert str(secondary["source_ip"]) == "10.0.0.12"  # the initiator node
    assert by_query["c3d4e5f6-a7b8-4c9d-8e0f-1a2b3c4d5e05"]["action"] == "ALTER USER"
    assert by_query["d4e5f6a7-b8c9-4d0e-9f1a-2b3c4d5e6f06"]["action"] == "GRANT"

    before = audit_snapshot(warehouse_dsn)
    again = load_batch(warehouse_dsn, land_pages(warehouse_dsn, feed, [records]), feed)
    assert (again.inserted, again.updated) == (0, 0)
    assert audit_snapshot(warehouse_dsn) == before


def test_a_password_a_server_did_not_wipe_is_masked_before_landing(warehouse_dsn: str) -> None:
    """Servers before ClickHouse 22 (or a statement it could not parse) log the text as sent:
    the shared redaction masks ClickHouse's forms before the page lands."""
    secrets = ["Old-Server-pw1", "Old-Server-pw2", "Old-Server-pw3"]
    record = load_fixture(KIND, "alter_user")
    statements = [
        f"CREATE USER dave IDENTIFIED WITH sha256_password BY '{secrets[0]}'",
        f"CREATE USER erin IDENTIFIED BY '{secrets[1]}' HOST ANY",
        f"CREATE NAMED COLLECTION pg AS host = 'db', user = 'app', password = '{secrets[2]}'",
    ]
    records = [
        {**record, "query": statement, "query_id": f"old-{index}"}
        for index, statement in enumerate(statements)
    ]
    (feed,) = source_of().feeds()
    feed = replace(feed, fetch=lambda request: iter([Page(records=records)]))

    window = ExtractWindow(
        datetime(2026, 11, 20, 8, tzinfo=UTC), datetime(2026, 11, 20, 9, tzinfo=UTC), timedelta(0)
    )
    extracted = extract(warehouse_dsn, feed, window=window)
    load_batch(warehouse_dsn, extracted.batch_id, feed)

    assert extracted.requests["redacted"] == 3
    for secret in secrets:
        assert tables_containing(warehouse_dsn, secret) == []
    statements_stored = sorted(
        e["properties"]["statement"] for e in events(warehouse_dsn, feed.source_id).values()
    )
    assert statements_stored == [
        f"CREATE NAMED COLLECTION pg AS host = 'db', user = 'app', password = {MASK}",
        f"CREATE USER dave IDENTIFIED WITH sha256_password BY {MASK}",
        f"CREATE USER erin IDENTIFIED BY {MASK} HOST ANY",
    ]


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE USER u IDENTIFIED WITH plaintext_password BY 'qwerty1'",
        "CREATE USER u IDENTIFIED WITH sha256_password BY 'qwerty1'",
        "CREATE USER u IDENTIFIED WITH double_sha1_password BY 'qwerty1'",
        "CREATE USER u IDENTIFIED WITH bcrypt_password BY 'qwerty1'",
        "CREATE USER u IDENTIFIED WITH sha256_hash BY 'qwerty1' SALT 'abc'",
        "CREATE USER u IDENTIFIED BY 'qwerty1'",
        "ALTER USER u IDENTIFIED BY 'qwerty1'",
        "ALTER USER u ADD IDENTIFIED WITH plaintext_password BY 'qwerty1'",
        "CREATE DICTIONARY d (id UInt64) PRIMARY KEY id SOURCE(CLICKHOUSE(HOST 'h' USER 'u'"
        " PASSWORD 'qwerty1' TABLE 't')) LAYOUT(FLAT()) LIFETIME(0)",
        "CREATE NAMED COLLECTION c AS password = 'qwerty1'",
        "SELECT * FROM url('https://u:qwerty1@example.com/x.csv', CSV)",
    ],
)
def test_clickhouse_forms_of_passwords_are_masked(statement: str) -> None:
    text, found = Redactor().redact_text(statement)
    assert found >= 1 and "qwerty1" not in text and MASK in text


# --- the clickhouse-connect transport ------------------------------------------------------


def test_a_refused_connection_is_source_unavailable_naming_the_connection(
    warehouse_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    password = "s3cret-Ch-Passw0rd"
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{CONN_ID.upper()}",
        json.dumps(
            {
                "conn_type": "generic",
                "host": "127.0.0.1",
                "port": 1,  # nothing listens there: the real client, a real refused connection
                "login": "etl_reader",
                "password": password,
                "extra": {"connect_timeout": 3},
            }
        ),
    )
    feed = feed_of()
    window = ExtractWindow(_now() - timedelta(hours=1), _now(), timedelta(0))
    with pytest.raises(SourceUnavailable, match=f"connection '{CONN_ID}'") as raised:
        extract(warehouse_dsn, feed, window=window)
    assert "http://127.0.0.1:1" in str(raised.value)
    assert password not in str(raised.value)
    assert tables_containing(warehouse_dsn, password) == []
    with psycopg.connect(warehouse_dsn) as conn:
        (status, error) = conn.execute(
            "SELECT status, error FROM landing.extract_batches"
        ).fetchone()
    assert status == "failed" and CONN_ID in error


def test_an_undefined_connection_is_named(warehouse_dsn: str) -> None:
    window = ExtractWindow(_now() - timedelta(hours=1), _now(), timedelta(0))
    with pytest.raises(SourceUnavailable, match=f"'{CONN_ID}' is not defined in Airflow"):
        extract(warehouse_dsn, feed_of(), window=window)


def test_client_arguments_come_from_the_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{CONN_ID.upper()}",
        json.dumps(
            {
                "conn_type": "generic",
                "host": "https://ch.example.com/",
                "port": 8443,
                "login": "etl_reader",
                "password": "pw",
                "schema": "default",
                "extra": {
                    "verify": "false",
                    "ca_cert": "/etc/ssl/ch-ca.pem",
                    "send_receive_timeout": "60",
                    "unrelated": "ignored",
                },
            }
        ),
    )
    arguments = client_arguments(CONN_ID)
    assert arguments == {
        "secure": True,
        "host": "ch.example.com",
        "port": 8443,
        "username": "etl_reader",
        "password": "pw",
        "database": "default",
        "verify": False,
        "ca_cert": "/etc/ssl/ch-ca.pem",
        "connect_timeout": 10,
        "send_receive_timeout": 60.0,
        "autogenerate_session_id": False,
    }


def test_the_client_binds_the_window_server_side() -> None:
    """clickhouse-connect sends ``{name:Type}`` parameters as ``param_*`` for the server to
    bind: the SQL text it sends is the text chdb ran, nothing spliced into it."""
    from clickhouse_connect.driver.binding import bind_query

    sql = window_query([*COLUMNS, "event_time", "event_date"])
    parameters = {
        "database": "system",
        "table": "query_log",
        "start": "2026-11-20 08:00:00.000000",
        "end": "2026-11-20 09:00:00.000000",
    }
    sent, bound = bind_query(sql, parameters)
    assert sent == sql
    assert bound == {f"param_{name}": value for name, value in parameters.items()}


def test_the_fetch_needs_a_window() -> None:
    source = source_of()
    with pytest.raises(ValueError, match="time window"):
        next(fetch_query_log(source, FetchRequest()))


def test_fixture_folder_has_the_documented_cases() -> None:
    folder = Path(__file__).resolve().parents[1] / "fixtures" / KIND
    for name in DOCUMENTED:
        assert (folder / f"{name}.json").exists()
