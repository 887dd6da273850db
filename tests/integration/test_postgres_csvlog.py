"""``postgres_csvlog`` against a real server: a PostgreSQL 15 + pgaudit cluster of the tests' own
(tests/pgaudit_cluster.py) writes a real csvlog while two logins connect, fail, create a role
with a password and read and write a table; the files (rotated) and a table loaded from them
are extracted and loaded into a fresh warehouse."""

from __future__ import annotations

import logging
import os
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pgaudit_cluster import Cluster, pgaudit_cluster  # noqa: F401 (the fixture)
from warehouse_asserts import audit_snapshot, tables_containing

from access_warehouse.config import ConfigError, parse_sources
from access_warehouse.extract import extract
from access_warehouse.landing import ExtractWindow
from access_warehouse.load import load_batch
from access_warehouse.sources.base import Feed, FetchRequest
from access_warehouse.sources.database import SourceUnavailable

SERVER = "db-test"
MULTI_LINE = (
    "INSERT INTO billing.invoices (id, note)\n"
    "VALUES (2, 'line one\nline two, with \"quotes\", commas and ''single'' ones')"
)

# The docs' postgres_log table ("Using CSV-Format Log Output"), PostgreSQL 15 layout.
POSTGRES_LOG_DDL = """
CREATE TABLE public.postgres_log (
  log_time timestamp(3) with time zone, user_name text, database_name text,
  process_id integer, connection_from text, session_id text, session_line_num bigint,
  command_tag text, session_start_time timestamp with time zone,
  virtual_transaction_id text, transaction_id bigint, error_severity text,
  sql_state_code text, message text, detail text, hint text, internal_query text,
  internal_query_pos integer, context text, query text, query_pos integer, location text,
  application_name text, backend_type text, leader_pid integer, query_id bigint,
  PRIMARY KEY (session_id, session_line_num)
)
"""


@dataclass(frozen=True)
class Trail:
    cluster: Cluster
    window: ExtractWindow
    secret: str  # the stem of every password the trail used
    files: list[Path]


def _file_source(cluster: Cluster, **extra: Any) -> dict[str, Any]:
    return {
        "kind": "postgres_csvlog",
        "name": "pgtest",
        "conn_id": "pgtest",
        "server": SERVER,
        "log_directory": str(cluster.log_dir),
        **extra,
    }


def _feed(entry: dict[str, Any]) -> Feed:
    return parse_sources([entry], "test").feeds()[0]


@pytest.fixture(scope="module")
def trail(pgaudit_cluster: Cluster) -> Trail:  # noqa: F811
    """Drive the cluster once: what every test here reads back."""
    cluster = pgaudit_cluster
    secret = f"unique-secret-{uuid.uuid4().hex}"
    start = datetime.now(UTC) - timedelta(seconds=1)
    with psycopg.connect(cluster.admin_dsn(), autocommit=True) as admin:
        admin.execute("CREATE DATABASE app")
        admin.execute(f"CREATE ROLE alice LOGIN CREATEROLE PASSWORD '{secret}-alice'")
        admin.execute(f"CREATE ROLE bob LOGIN PASSWORD '{secret}-bob'")
        admin.execute("CREATE ROLE auditor NOLOGIN")  # pgaudit.role: object audit
    with psycopg.connect(cluster.admin_dsn("app"), autocommit=True) as admin:
        admin.execute("CREATE EXTENSION pgaudit")
        admin.execute("CREATE SCHEMA billing")
        admin.execute("CREATE TABLE billing.invoices (id int, note text)")
        admin.execute("CREATE TABLE billing.payroll (id int, salary numeric)")
        admin.execute("GRANT USAGE ON SCHEMA billing TO alice, bob")
        admin.execute("GRANT SELECT, INSERT ON billing.invoices TO alice")
        admin.execute("GRANT SELECT ON billing.invoices TO bob, auditor")
    alice = cluster.login_dsn("alice", f"{secret}-alice", "app")
    with psycopg.connect(alice, autocommit=True, application_name="billing-app") as conn:
        conn.execute("SELECT * FROM billing.invoices")
        conn.execute(MULTI_LINE)
        conn.execute(f"CREATE ROLE carol LOGIN PASSWORD '{secret}-carol'")
        # fails (carol exists): the ERROR line's query column holds the password in clear
        with pytest.raises(psycopg.errors.DuplicateObject):
            conn.execute(f"CREATE ROLE carol LOGIN PASSWORD '{secret}-again'")
        conn.execute(f"SELECT 'postgresql://carol:{secret}-url@db/app' AS dsn")
    cluster.rotate()  # the rest goes to a second file
    bob = cluster.login_dsn("bob", f"{secret}-bob", "app")
    with psycopg.connect(bob, autocommit=True) as conn:
        conn.execute("SELECT id FROM billing.invoices")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT * FROM billing.payroll")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(cluster.login_dsn("bob", "wrong-password", "app")).close()
    cluster.wait_for_log('password authentication failed for user ""bob""')
    cluster.wait_for_log("disconnection: session time: ")
    time.sleep(0.3)  # bob's disconnection line
    end = datetime.now(UTC) + timedelta(milliseconds=200)
    time.sleep(0.3)  # nothing logged from here on falls into the window
    files = cluster.log_files()
    assert len(files) >= 2, "the trail spans a rotation"
    return Trail(cluster, ExtractWindow(start, end), secret, files)


def _run(dsn: str, feed: Feed, window: ExtractWindow) -> Any:
    summary = extract(dsn, feed, window=window)
    return summary, load_batch(dsn, summary.batch_id, feed)


def _events(dsn: str, source_id: str) -> list[dict[str, Any]]:
    with psycopg.connect(dsn) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        return cur.execute(
            "SELECT event_id, occurred_at, category, action, outcome, actor_name,"
            " actor_external_id, actor_type, target_external_id, target_name, target_type,"
            " source_ip, client_app, auth_method, error_code, failure_reason, properties"
            " FROM audit.access_events WHERE source_id = %s ORDER BY event_id",
            (source_id,),
        ).fetchall()


def _only(events: list[dict[str, Any]], **match: Any) -> dict[str, Any]:
    def hit(event: dict[str, Any]) -> bool:
        for key, value in match.items():
            if key.startswith("p_"):
                if event["properties"].get(key[2:]) != value:
                    return False
            elif event[key] != value:
                return False
        return True

    found = [event for event in events if hit(event)]
    assert len(found) == 1, f"expected one event {match}, found {len(found)}: {found}"
    return found[0]


def _batch_row(dsn: str, batch_id: str) -> dict[str, Any]:
    with psycopg.connect(dsn) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        return cur.execute(
            "SELECT extracted, loaded, quarantined, excluded, details FROM audit.batches"
            " WHERE batch_id = %s",
            (batch_id,),
        ).fetchone()


def _check_trail(events: list[dict[str, Any]]) -> None:
    """Every event the trail made, each once, with its actor, action, outcome and target."""
    app = f"{SERVER}/app"
    invoices = f"{SERVER}/app/billing/invoices"
    login = {"category": "authentication", "target_external_id": app}
    alice_in = _only(events, actor_name="alice", action="connect", outcome="success", **login)
    assert (alice_in["source_ip"], alice_in["client_app"]) == ("127.0.0.1", "billing-app")
    assert alice_in["actor_external_id"] == f"{SERVER}/alice"
    assert alice_in["actor_type"] == "database_role"
    _only(events, actor_name="alice", action="disconnect", outcome="success", **login)
    _only(events, actor_name="bob", action="connect", outcome="success", **login)
    _only(events, actor_name="bob", action="disconnect", outcome="success", **login)
    failed = _only(events, actor_name="bob", action="connect", outcome="failure", **login)
    assert failed["error_code"] == "28P01"
    assert failed["failure_reason"] == 'password authentication failed for user "bob"'
    assert failed["auth_method"] == "scram-sha-256"
    table = {"category": "database", "target_type": "table", "target_external_id": invoices}
    for audit_type in ("SESSION", "OBJECT"):  # session audit, and object audit via auditor
        read = _only(events, actor_name="alice", action="SELECT", p_audit_type=audit_type, **table)
        assert read["outcome"] == "unknown"
        assert read["target_name"] == "billing.invoices"
        assert read["properties"]["class"] == "READ"
        assert read["properties"]["statement"] == "SELECT * FROM billing.invoices"
        _only(events, actor_name="bob", action="SELECT", p_audit_type=audit_type, **table)
    write = _only(events, actor_name="alice", action="INSERT", **table)
    assert write["properties"]["statement"] == MULTI_LINE, "the multi-line statement whole"
    assert write["properties"]["class"] == "WRITE"
    # pgaudit logs a utility statement after it ran: the failed second CREATE ROLE is only an
    # ERROR line (excluded as not_access:error)
    role = _only(events, actor_name="alice", action="CREATE ROLE")
    assert (role["category"], role["target_external_id"]) == ("database", app)
    assert role["properties"]["class"] == "ROLE"
    assert role["properties"]["statement"] == "CREATE ROLE carol LOGIN PASSWORD <REDACTED>"
    denied = _only(events, actor_name="bob", outcome="failure", category="database")
    assert (denied["action"], denied["error_code"]) == ("SELECT", "42501")
    assert denied["properties"]["statement"] == "SELECT * FROM billing.payroll"
    assert len({event["event_id"] for event in events}) == len(events)


def test_files_land_each_event_once_and_no_secret(
    trail: Trail, warehouse_dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    feed = _feed(_file_source(trail.cluster, page_size=7))
    extracted, loaded = _run(warehouse_dsn, feed, trail.window)

    assert extracted.pages >= 2 and len(extracted.requests["by_stream"]) >= 2, "rotated files"
    assert extracted.requests["redacted"] >= 2  # the failed CREATE ROLE's query, the URL
    events = _events(warehouse_dsn, feed.source_id)
    _check_trail(events)
    assert tables_containing(warehouse_dsn, trail.secret) == []
    assert trail.secret not in caplog.text
    assert trail.secret in trail.cluster.log_text(), "the secret was there to be masked"

    # every line is accounted for: non-access lines excluded under their rules, none lost
    assert loaded.quarantined == 0
    assert loaded.loaded == len(events)
    batch = _batch_row(warehouse_dsn, loaded.batch_id)
    assert batch["extracted"] == extracted.records
    assert batch["extracted"] == batch["loaded"] + batch["quarantined"] + batch["excluded"]
    rules = batch["details"]["excluded_by_rule"]
    assert rules["not_access:connection_received"] >= 4
    assert rules["not_access:connection_authenticated"] >= 2
    assert rules["not_access:error"] >= 1  # the duplicate CREATE ROLE
    assert sum(rules.values()) == batch["excluded"] > 0

    # a rerun of the window changes nothing
    before = audit_snapshot(warehouse_dsn)
    _again, reloaded = _run(warehouse_dsn, feed, trail.window)
    assert (reloaded.inserted, reloaded.updated) == (0, 0)
    assert (reloaded.loaded, reloaded.excluded) == (loaded.loaded, loaded.excluded)
    assert audit_snapshot(warehouse_dsn) == before


def test_statement_class_and_login_exclusions_are_counted(trail: Trail, warehouse_dsn: str) -> None:
    feed = _feed(
        _file_source(trail.cluster, exclude_statement_classes=["ROLE"], exclude_logins=["bob"])
    )
    _extracted, loaded = _run(warehouse_dsn, feed, trail.window)
    events = _events(warehouse_dsn, feed.source_id)
    assert not [e for e in events if e["properties"].get("class") == "ROLE"]
    assert not [e for e in events if e["actor_name"] == "bob"]
    rules = _batch_row(warehouse_dsn, loaded.batch_id)["details"]["excluded_by_rule"]
    assert rules["statement_class:ROLE"] >= 3  # admin's alice, bob, auditor; alice's carol
    assert rules["login:bob"] >= 5


def _load_table(cluster: Cluster, files: list[Path]) -> str:
    """The csv files COPYed into logs.public.postgres_log; a reader that may SELECT it only."""
    with psycopg.connect(cluster.admin_dsn(), autocommit=True) as admin:
        admin.execute("CREATE DATABASE logs")
        admin.execute("CREATE ROLE log_reader LOGIN PASSWORD 'reader-pw'")
    with psycopg.connect(cluster.admin_dsn("logs")) as admin:
        admin.execute(POSTGRES_LOG_DDL)
        admin.execute("GRANT SELECT ON public.postgres_log TO log_reader")
        for path in files:  # snapshots read here: the server appends to the newest meanwhile
            data = path.read_bytes()
            data = data[: data.rfind(b"\n") + 1]
            with admin.cursor().copy("COPY public.postgres_log FROM STDIN WITH (FORMAT csv)") as cp:
                cp.write(data)
    return f"postgresql://log_reader:reader-pw@127.0.0.1:{cluster.port}/logs"


def test_table_mode_gives_the_same_events(
    trail: Trail, warehouse_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_PGTEST_LOGS", _load_table(trail.cluster, trail.files))
    from_files = _feed(_file_source(trail.cluster))
    from_table = _feed(
        {
            "kind": "postgres_csvlog",
            "name": "pgtest_table",
            "conn_id": "pgtest_logs",
            "server": SERVER,
            "table": "public.postgres_log",
            "page_size": 5,
        }
    )
    _, by_files = _run(warehouse_dsn, from_files, trail.window)
    extracted, by_table = _run(warehouse_dsn, from_table, trail.window)

    assert extracted.pages > 2
    table_events = _events(warehouse_dsn, from_table.source_id)
    _check_trail(table_events)
    assert table_events == _events(warehouse_dsn, from_files.source_id)
    assert (by_table.loaded, by_table.excluded, by_table.quarantined) == (
        by_files.loaded,
        by_files.excluded,
        by_files.quarantined,
    )
    assert tables_containing(warehouse_dsn, trail.secret) == []
    before = audit_snapshot(warehouse_dsn)
    _, again = _run(warehouse_dsn, from_table, trail.window)
    assert (again.inserted, again.updated) == (0, 0)
    assert audit_snapshot(warehouse_dsn) == before


@pytest.mark.parametrize(
    "table",
    ['public."postgres log"', "postgres_log; DROP TABLE audit.batches", "o'brien.postgres_log"],
)
def test_a_table_name_that_is_not_an_identifier_is_refused(table: str) -> None:
    entry = {"kind": "postgres_csvlog", "name": "bad", "conn_id": "c", "table": table}
    with pytest.raises(ConfigError) as error:
        parse_sources([entry], "sources.yaml")
    message = str(error.value)
    assert "sources.0.table (source 'bad', kind 'postgres_csvlog')" in message
    assert "is not a plain SQL identifier" in message


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        ({}, "give exactly one of log_directory"),
        ({"log_directory": "/var/log", "table": "t"}, "give exactly one of log_directory"),
        ({"table": "t", "file_pattern": "*.csv"}, "file_pattern applies to log_directory"),
        ({"log_directory": "logs"}, "must be an absolute path"),
        ({"log_directory": "/var/log", "file_pattern": "../*.csv"}, "no path separators"),
    ],
)
def test_where_to_read_is_validated(entry: dict[str, Any], says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        parse_sources([{"kind": "postgres_csvlog", "name": "x", "conn_id": "c", **entry}], "t")


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_source_that_is_down_names_its_connection(
    warehouse_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_PGDOWN", f"postgresql://reader:x@127.0.0.1:{_free_port()}/logs"
    )
    feed = _feed(
        {"kind": "postgres_csvlog", "name": "down", "conn_id": "pgdown", "table": "postgres_log"}
    )
    window = ExtractWindow(datetime.now(UTC) - timedelta(hours=1), datetime.now(UTC))
    with pytest.raises(SourceUnavailable, match="connection 'pgdown'"):
        extract(warehouse_dsn, feed, window=window)
    with psycopg.connect(warehouse_dsn) as conn:
        status, error = conn.execute(
            "SELECT status, error FROM landing.extract_batches WHERE source_id = %s",
            (feed.source_id,),
        ).fetchone()
    assert status == "failed" and "pgdown" in error


# --- the file reader without a server -----------------------------------------------------

LINE = (
    '{time} UTC,"alice","app",1,"127.0.0.1:5000",{session},{n},"authentication",'
    "2026-11-20 10:00:00 UTC,3/1,0,LOG,00000,"
    '"connection authorized: user=alice database=app",,,,,,,,,"psql","client backend",,0\n'
)


def _line(n: int, minute: int, session: str = "aa.1") -> str:
    return LINE.format(time=f"2026-11-20 10:{minute:02d}:00.000", session=session, n=n)


def _set_mtime(path: Path, moment: datetime) -> None:
    os.utime(path, (moment.timestamp(), moment.timestamp()))


def test_the_file_reader_streams_rotated_files_and_leaves_a_partial_record(
    tmp_path: Path,
) -> None:
    window = ExtractWindow(
        datetime(2026, 11, 20, 10, 5, tzinfo=UTC), datetime(2026, 11, 20, 11, tzinfo=UTC)
    )
    old = tmp_path / "postgresql-a-old.csv"  # modified before the window: never opened
    old.write_text(_line(1, 30, "old.1"))
    _set_mtime(old, datetime(2026, 11, 20, 10, 4, tzinfo=UTC))
    first = tmp_path / "postgresql-z-first.csv"  # named last, written first
    first.write_text(_line(1, 1) + _line(2, 6) + _line(3, 7) + "not,a,csvlog,line\n")
    _set_mtime(first, datetime(2026, 11, 20, 10, 8, tzinfo=UTC))
    second = tmp_path / "postgresql-b-second.csv"
    partial = _line(3, 20, "bb.1").replace('"connection authorized', '"half\nwritten')
    second.write_text(_line(1, 9, "bb.1") + _line(2, 59, "bb.1") + _line(4, 61 - 60, "cc.1"))
    with second.open("a") as handle:
        handle.write(partial[: partial.index("written") + 3])  # the server is mid-write
    _set_mtime(second, datetime(2026, 11, 20, 10, 30, tzinfo=UTC))
    (tmp_path / "postgresql-b-second.log").write_text("stderr, not csvlog\n")

    feed = _feed(
        {
            "kind": "postgres_csvlog",
            "name": "files",
            "conn_id": "c",
            "log_directory": str(tmp_path),
            "page_size": 2,
        }
    )
    request = FetchRequest(window=window)
    pages = list(feed.fetch(request))

    assert [page.stream for page in pages] == [first.name, first.name, second.name]
    assert all(len(page.records) <= 2 for page in pages)
    records = [record for page in pages for record in page.records]
    keys = [(r.get("session_id"), r.get("session_line_num")) for r in records]
    # 10:01 and 10:01 of cc.1 are before the window; the old file is not read at all
    assert keys == [("aa.1", "2"), ("aa.1", "3"), (None, None), ("bb.1", "1"), ("bb.1", "2")]
    assert records[2]["csvlog_error"].startswith("4 columns")
    assert records[2]["file"] == first.name and records[2]["line_number"] == "4"
    assert request.stats.requests == 2
    assert request.stats.by_stream == {first.name: 3, second.name: 2}


def test_a_missing_log_directory_names_the_connection(tmp_path: Path) -> None:
    feed = _feed(
        {
            "kind": "postgres_csvlog",
            "name": "gone",
            "conn_id": "pg_gone",
            "log_directory": str(tmp_path / "nope"),
        }
    )
    window = ExtractWindow(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC))
    with pytest.raises(SourceUnavailable, match=r"csvlog files in .*nope \(connection 'pg_gone'\)"):
        list(feed.fetch(FetchRequest(window=window)))
