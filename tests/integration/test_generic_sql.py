"""Source kind ``generic_sql`` against real databases: a table and a view on the embedded
Postgres, and a SQLite file, through the shared extract and load (no mocks)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from warehouse_asserts import audit_snapshot, new_database, tables_containing

from access_warehouse.config import ConfigError, parse_sources
from access_warehouse.extract import extract, read_bookmark
from access_warehouse.landing import ExtractWindow
from access_warehouse.load import load_batch
from access_warehouse.sources.base import Feed
from access_warehouse.sources.database import SourceUnavailable
from access_warehouse.sources.generic_sql import HASH_PREFIX

CONN_ID = "billing_db"
T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
WINDOW = ExtractWindow(T0, T0 + timedelta(hours=1))

COLUMNS = {
    "time": "created_at",
    "actor": "username",
    "action": "action",
    "key": ["id"],
    "outcome": "status",
    "outcome_values": {"ok": "success", "denied": "failure"},
    "target": "resource",
    "source_ip": "client_ip",
    "statement": "query_text",
}

CREATE_TABLE = """
CREATE SCHEMA app;
CREATE TABLE app.access_log (
    id bigint PRIMARY KEY,
    seq integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL,
    username text,
    action text NOT NULL,
    status text,
    resource text,
    client_ip inet,
    query_text text,
    session_id uuid,
    amount numeric(12, 2),
    payload bytea
);
"""

#: (id, minutes after T0, login, action, status, resource, ip, statement)
ROWS = [
    (1, 5, "alice", "login", "ok", None, "10.0.0.1", None),
    (2, 10, "alice", "SELECT", "ok", "invoices", "10.0.0.1", "SELECT * FROM invoices"),
    (3, 15, "bob", "UPDATE", "denied", "invoices", "192.0.2.7", "UPDATE invoices SET paid = t"),
    (4, 20, "bob", "ALTER", "ok", "users", "2001:db8::1", "ALTER ROLE bob PASSWORD 'hunter2'"),
    (5, 25, "alice", "export", "timeout", "customers", None, "COPY customers TO STDOUT"),
    (6, 59, "bob", "logout", "ok", None, "192.0.2.7", None),
]


def source_entry(name: str = "billing_app", **overrides: Any) -> dict[str, Any]:
    entry = {
        "kind": "generic_sql",
        "name": name,
        "conn_id": CONN_ID,
        "server": "billing-prod",
        "table": "app.access_log",
        "columns": COLUMNS,
        "page_size": 2,
    }
    return {**entry, **overrides}


def feed_of(**overrides: Any) -> Feed:
    (feed,) = parse_sources([source_entry(**overrides)], "test").feeds()
    return feed


def postgres_connection(socket_dir: str, dsn: str) -> str:
    database = dict(part.split("=", 1) for part in dsn.split())["dbname"]
    return json.dumps(
        {"conn_type": "postgres", "host": socket_dir, "schema": database, "login": "postgres"}
    )


def insert(dsn: str, rows: list[tuple], *, seq: int = 0) -> None:
    with psycopg.connect(dsn) as conn:
        for id_, minutes, login, action, status, resource, ip, statement in rows:
            conn.execute(
                "INSERT INTO app.access_log (id, seq, created_at, username, action, status,"
                " resource, client_ip, query_text, session_id, amount, payload)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s,"
                " md5(%s::text)::uuid, %s, %s)",
                (
                    id_,
                    seq,
                    T0 + timedelta(minutes=minutes),
                    login,
                    action,
                    status,
                    resource,
                    ip,
                    statement,
                    id_,
                    "12.50",
                    b"\x00\x01",
                ),
            )


@pytest.fixture
def source_db(pg_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A source database with ``app.access_log``, reachable as Airflow connection
    ``billing_db``."""
    with new_database(pg_server) as dsn:
        with psycopg.connect(dsn) as conn:
            conn.execute(CREATE_TABLE)
        monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", postgres_connection(pg_server, dsn))
        yield dsn


def run(warehouse: str, feed: Feed, window: ExtractWindow | None = WINDOW) -> Any:
    summary = extract(warehouse, feed, window=window)
    return summary, load_batch(warehouse, summary.batch_id, feed)


def events(dsn: str, source_id: str) -> dict[str, dict[str, Any]]:
    with psycopg.connect(dsn) as conn:
        conn.row_factory = psycopg.rows.dict_row
        rows = conn.execute(
            "SELECT * FROM audit.access_events WHERE source_id = %s", (source_id,)
        ).fetchall()
    return {row["event_id"]: row for row in rows}


# --- window -------------------------------------------------------------------------------


def test_every_row_in_the_window_lands_once_mapped_and_a_rerun_changes_nothing(
    source_db: str, warehouse_dsn: str
) -> None:
    insert(source_db, ROWS)
    insert(source_db, [(7, 60, "alice", "login", "ok", None, None, None)])  # at the end: out
    insert(source_db, [(8, -1, "bob", "login", "ok", None, None, None)])  # before: out
    feed = feed_of()

    extracted, loaded = run(warehouse_dsn, feed)

    assert extracted.records == 6 and extracted.pages == 3  # streamed in pages of 2
    assert (loaded.loaded, loaded.quarantined, loaded.inserted) == (6, 0, 6)
    got = events(warehouse_dsn, feed.source_id)
    assert sorted(got) == [str(row[0]) for row in ROWS]
    for id_, minutes, login, action, status, resource, ip, statement in ROWS:
        event = got[str(id_)]
        assert event["occurred_at"] == T0 + timedelta(minutes=minutes)
        assert (event["actor_name"], event["actor_external_id"]) == (login, f"billing-prod/{login}")
        assert event["action"] == action
        expected_outcome = {"ok": "success", "denied": "failure"}.get(status, "unknown")
        assert event["outcome"] == expected_outcome
        assert event["target_name"] == (resource or "billing-prod")
        assert event["target_type"] == ("table" if resource else "database_server")
        assert event["config_id"] is not None and event["external_user_id"] is not None
        assert (str(event["source_ip"]) if event["source_ip"] else None) == ip
        properties = event["properties"]
        assert properties["amount"] == "12.50" and properties["payload"] == "base64:AAE="
        assert properties["seq"] == 0 and len(properties["session_id"]) == 36
        if statement and "hunter2" not in statement:
            assert properties["statement"] == statement
        for mapped in ("id", "created_at", "username", "action", "resource", "client_ip"):
            assert mapped not in properties
    assert got["5"]["properties"]["status"] == "timeout"  # unmapped: kept as the source said
    assert got["4"]["properties"]["statement"] == "ALTER ROLE bob PASSWORD [REDACTED]"
    assert tables_containing(warehouse_dsn, "hunter2") == []
    with psycopg.connect(warehouse_dsn) as conn:
        logins = conn.execute(
            "SELECT count(DISTINCT external_user_id) FROM audit.access_events"
        ).fetchone()[0]
    assert logins == 2

    before = audit_snapshot(warehouse_dsn)
    again_extracted, again = run(warehouse_dsn, feed)
    assert again_extracted.records == 6
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 6)
    assert audit_snapshot(warehouse_dsn) == before


def test_a_view_works(source_db: str, warehouse_dsn: str) -> None:
    insert(source_db, ROWS)
    with psycopg.connect(source_db) as conn:
        conn.execute(
            "CREATE VIEW app.denied AS SELECT id, created_at, username AS who, action, status,"
            " resource FROM app.access_log WHERE status = 'denied'"
        )
    columns = {"time": "created_at", "actor": "who", "action": "action", "key": "id"}
    feed = feed_of(table="app.denied", columns={**columns, "outcome": "status"})

    _, loaded = run(warehouse_dsn, feed)

    assert loaded.loaded == 1
    (event,) = events(warehouse_dsn, feed.source_id).values()
    assert (event["event_id"], event["actor_name"], event["outcome"]) == ("3", "bob", "unknown")
    assert event["properties"] == {"resource": "invoices", "status": "denied"}


def test_naive_timestamps_are_in_the_configured_zone(source_db: str, warehouse_dsn: str) -> None:
    with psycopg.connect(source_db) as conn:
        conn.execute(
            "CREATE TABLE app.local_log (id int PRIMARY KEY, at timestamp NOT NULL,"
            " login text, what text)"
        )
        conn.execute(
            "INSERT INTO app.local_log VALUES (1, '2026-11-20 08:59:59', 'alice', 'in'),"
            " (2, '2026-11-20 09:00:00', 'alice', 'in'), (3, '2026-11-20 09:59:59', 'bob', 'in'),"
            " (4, '2026-11-20 10:00:00', 'bob', 'in'), (5, '2026-07-01 10:00:00', 'bob', 'in')"
        )
    columns = {"time": "at", "actor": "login", "action": "what", "key": ["id"]}
    feed = feed_of(table="app.local_log", columns=columns, timezone="Europe/Berlin")

    extracted, loaded = run(warehouse_dsn, feed)  # [08:00Z, 09:00Z) is [09:00, 10:00) in Berlin

    assert (extracted.records, loaded.loaded, loaded.quarantined) == (2, 2, 0)
    got = events(warehouse_dsn, feed.source_id)
    assert got["2"]["occurred_at"] == T0
    assert got["3"]["occurred_at"] == T0 + timedelta(minutes=59, seconds=59)
    summer = ExtractWindow(datetime(2026, 7, 1, 7, tzinfo=UTC), datetime(2026, 7, 1, 9, tzinfo=UTC))
    run(warehouse_dsn, feed, summer)
    assert events(warehouse_dsn, feed.source_id)["5"]["occurred_at"] == datetime(
        2026, 7, 1, 8, tzinfo=UTC
    )  # CEST: UTC+2


def test_rows_without_a_key_get_a_stable_hash_key(source_db: str, warehouse_dsn: str) -> None:
    insert(source_db, ROWS)
    columns = {name: value for name, value in COLUMNS.items() if name != "key"}
    feed = feed_of(columns=columns)

    _, first = run(warehouse_dsn, feed)
    ids = sorted(events(warehouse_dsn, feed.source_id))
    before = audit_snapshot(warehouse_dsn)
    _, second = run(warehouse_dsn, feed)

    assert first.loaded == 6 and len(ids) == 6
    assert all(event_id.startswith(HASH_PREFIX) and len(event_id) == 71 for event_id in ids)
    assert (second.inserted, second.updated) == (0, 0)
    assert audit_snapshot(warehouse_dsn) == before
    # the key columns are ordinary properties then
    assert {e["properties"]["id"] for e in events(warehouse_dsn, feed.source_id).values()} == {
        1,
        2,
        3,
        4,
        5,
        6,
    }


# --- bookmark -----------------------------------------------------------------------------


def test_bookmark_reads_forward_only_with_ties_broken_by_the_key(
    source_db: str, warehouse_dsn: str
) -> None:
    # `seq` repeats (a batch number): the key orders rows within one value
    insert(source_db, ROWS[:3], seq=1)
    feed = feed_of(selection="bookmark", bookmark={"cursor": "seq"})

    first, loaded = run(warehouse_dsn, feed, None)
    assert (first.records, first.pages, loaded.loaded) == (3, 2, 3)
    assert read_bookmark(warehouse_dsn, feed.source_id) == {"cursor": 1, "key": [3]}

    insert(source_db, ROWS[3:4], seq=1)  # same cursor value, a higher key
    insert(source_db, ROWS[4:], seq=2)
    second, loaded = run(warehouse_dsn, feed, None)
    assert second.bookmark_from == {"cursor": 1, "key": [3]}
    assert (second.records, loaded.inserted) == (3, 3)
    assert read_bookmark(warehouse_dsn, feed.source_id) == {"cursor": 2, "key": [6]}

    insert(source_db, [(9, 1, "bob", "late", "ok", None, None, None)], seq=1)  # behind: never
    before = audit_snapshot(warehouse_dsn)
    third, loaded = run(warehouse_dsn, feed, None)
    assert third.records == 0 and loaded.loaded == 0
    assert audit_snapshot(warehouse_dsn) == before
    assert sorted(events(warehouse_dsn, feed.source_id)) == [str(row[0]) for row in ROWS]


def test_bookmark_overlap_picks_up_a_row_committed_late_and_nothing_duplicates(
    source_db: str, warehouse_dsn: str
) -> None:
    # ids 1, 2, 3, 5 commit; 4 (an earlier transaction's id) commits after the first run
    insert(source_db, [row for row in ROWS if row[0] != 4])
    feed = feed_of(selection="bookmark", bookmark={"cursor": "id", "overlap": 2})

    run(warehouse_dsn, feed, None)
    assert read_bookmark(warehouse_dsn, feed.source_id) == {"cursor": 6, "key": [6]}
    insert(source_db, [row for row in ROWS if row[0] == 4])
    insert(source_db, [(7, 30, "alice", "login", "ok", None, None, None)])

    second, loaded = run(warehouse_dsn, feed, None)

    assert second.records == 4  # ids 4..7: the overlap re-reads 4..6
    assert (loaded.inserted, loaded.unchanged) == (2, 2)
    assert sorted(events(warehouse_dsn, feed.source_id), key=int) == [str(n) for n in range(1, 8)]
    assert read_bookmark(warehouse_dsn, feed.source_id) == {"cursor": 7, "key": [7]}
    before = audit_snapshot(warehouse_dsn)
    _, again = run(warehouse_dsn, feed, None)
    assert (again.inserted, again.updated) == (0, 0)
    assert audit_snapshot(warehouse_dsn) == before
    assert read_bookmark(warehouse_dsn, feed.source_id) == {"cursor": 7, "key": [7]}


# --- failures -------------------------------------------------------------------------------


def test_a_source_that_is_down_raises_source_unavailable_naming_the_connection(
    warehouse_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    password = "s3cret-Passw0rd"
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{CONN_ID.upper()}",
        json.dumps(
            {
                "conn_type": "postgres",
                "host": "127.0.0.1",
                "port": 1,  # nothing listens there
                "schema": "billing",
                "login": "reader",
                "password": password,
            }
        ),
    )
    with pytest.raises(SourceUnavailable, match=f"connection '{CONN_ID}'") as raised:
        extract(warehouse_dsn, feed_of(), window=WINDOW)
    assert password not in str(raised.value)
    assert tables_containing(warehouse_dsn, password) == []
    with psycopg.connect(warehouse_dsn) as conn:
        (status, error) = conn.execute(
            "SELECT status, error FROM landing.extract_batches"
        ).fetchone()
    assert status == "failed" and CONN_ID in error

    monkeypatch.delenv(f"AIRFLOW_CONN_{CONN_ID.upper()}")
    with pytest.raises(SourceUnavailable, match="'billing_db' is not defined"):
        extract(warehouse_dsn, feed_of(), window=WINDOW)


def test_a_missing_table_or_column_is_named(source_db: str, warehouse_dsn: str) -> None:
    with pytest.raises(SourceUnavailable, match=r"'app\.nothing' not found"):
        extract(warehouse_dsn, feed_of(table="app.nothing"), window=WINDOW)
    columns = {**COLUMNS, "actor": "Username"}
    with pytest.raises(SourceUnavailable, match=r"'Username' is not in .*did you mean 'username'"):
        extract(warehouse_dsn, feed_of(columns=columns), window=WINDOW)
    columns = {**COLUMNS, "time": "username"}
    with pytest.raises(SourceUnavailable, match="not a timestamp"):
        extract(warehouse_dsn, feed_of(columns=columns), window=WINDOW)


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ({"table": 'app."access_log"'}, "sources.0.table"),
        ({"table": "app.access log"}, "sources.0.table"),
        ({"table": "app.access_log; DROP TABLE app.access_log"}, "sources.0.table"),
        ({"table": "db.app.access_log"}, "sources.0.table"),
        ({"columns": {**COLUMNS, "time": "created_at)--"}}, "sources.0.columns.time"),
        ({"columns": {**COLUMNS, "key": ["id", "1=1 OR id"]}}, "sources.0.columns.key.1"),
        ({"bookmark": {"cursor": "id"}}, "sources.0"),  # bookmark without selection: bookmark
        ({"selection": "bookmark", "bookmark": {"cursor": "id desc"}}, "sources.0.bookmark.cursor"),
    ],
)
def test_config_with_a_bad_identifier_is_rejected_naming_the_key(
    override: dict[str, Any], key: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_sources([source_entry(**override)], "include/config/sources.yaml")
    message = str(raised.value)
    assert message.startswith("include/config/sources.yaml: invalid configuration")
    assert f"  {key} (source 'billing_app', kind 'generic_sql')" in message


def test_bookmark_mode_needs_a_key() -> None:
    columns = {name: value for name, value in COLUMNS.items() if name != "key"}
    with pytest.raises(ConfigError, match=r"needs `columns\.key`"):
        parse_sources(
            [source_entry(columns=columns, selection="bookmark", bookmark={"cursor": "id"})],
            "test",
        )


# --- SQLite -------------------------------------------------------------------------------


@pytest.fixture
def sqlite_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A SQLite file as Airflow connection ``billing_db`` (no SQLite provider is installed:
    the kind builds the URL from the connection's host, the file)."""
    path = tmp_path / "billing.db"
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE access_log (id INTEGER PRIMARY KEY, created_at TIMESTAMP NOT NULL,"
            " username TEXT, action TEXT, status TEXT, resource TEXT, client_ip TEXT,"
            " query_text TEXT, size REAL, blob BLOB)"
        )
        for id_, minutes, login, action, status, resource, ip, statement in ROWS:
            local = (T0 + timedelta(minutes=minutes)).replace(tzinfo=None)
            conn.execute(
                "INSERT INTO access_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    id_,
                    local.isoformat(sep=" "),
                    login,
                    action,
                    status,
                    resource,
                    ip,
                    statement,
                    1.5,
                    b"\xff",
                ),
            )
        conn.execute(
            "INSERT INTO access_log (id, created_at, username, action) VALUES"
            " (99, '2026-11-20 09:00:00', 'alice', 'login')"  # at the window's end: out
        )
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps({"conn_type": "sqlite", "host": str(path)})
    )
    return path


def test_sqlite_window_and_bookmark(sqlite_source: Path, warehouse_dsn: str) -> None:
    window_feed = feed_of(table="access_log")
    extracted, loaded = run(warehouse_dsn, window_feed)
    assert (extracted.records, loaded.loaded, loaded.quarantined) == (6, 6, 0)
    got = events(warehouse_dsn, window_feed.source_id)
    assert got["3"]["occurred_at"] == T0 + timedelta(minutes=15)
    assert (got["3"]["actor_name"], got["3"]["outcome"]) == ("bob", "failure")
    assert got["3"]["properties"]["blob"] == "base64:/w=="
    before = audit_snapshot(warehouse_dsn)
    run(warehouse_dsn, window_feed)
    assert audit_snapshot(warehouse_dsn) == before

    feed = feed_of(
        name="billing_lite",
        table="main.access_log",
        selection="bookmark",
        bookmark={"cursor": "created_at"},
    )
    first, _ = run(warehouse_dsn, feed, None)
    assert first.records == 7
    assert read_bookmark(warehouse_dsn, feed.source_id) == {
        "cursor": "2026-11-20 09:00:00",
        "key": [99],
    }
    with sqlite3.connect(sqlite_source) as conn:
        conn.execute(
            "INSERT INTO access_log (id, created_at, username, action) VALUES"
            " (100, '2026-11-20 09:00:00', 'bob', 'login'),"  # the same cursor, a higher key
            " (98, '2026-11-20 09:00:00', 'bob', 'login')"  # the same cursor, a lower key: behind
        )
    second, loaded = run(warehouse_dsn, feed, None)
    assert (second.records, loaded.inserted) == (1, 1)
    assert "100" in events(warehouse_dsn, feed.source_id)


def test_a_missing_sqlite_file_is_unavailable_and_not_created(
    tmp_path: Path, warehouse_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "missing.db"
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps({"conn_type": "sqlite", "host": str(path)})
    )
    with pytest.raises(SourceUnavailable, match=f"connection '{CONN_ID}'"):
        extract(warehouse_dsn, feed_of(table="access_log"), window=WINDOW)
    assert not path.exists()
