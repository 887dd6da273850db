"""``mysql_general_log`` against this machine's MariaDB: the general log switched to a table (and
back) while two logins connect, one fails to log in, statements with commas and quotes run and
a user is created with a password; read by a login with only SELECT on mysql.general_log,
through the MySQL provider's hook, the shared extract and load, into a fresh warehouse."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import MySQLdb
import MySQLdb.cursors
import psycopg
import pytest
from warehouse_asserts import audit_snapshot, tables_containing

from access_warehouse.config import ConfigError, parse_sources
from access_warehouse.extract import extract
from access_warehouse.landing import ExtractWindow
from access_warehouse.load import load_batch
from access_warehouse.redaction import MASK
from access_warehouse.sources.base import Feed, FetchRequest
from access_warehouse.sources.database import SourceUnavailable
from access_warehouse.sources.mysql_general_log.mapping import login_of

pytestmark = pytest.mark.integration

SERVER = "mariadb-test"
DOMAIN = "example.com"
QUOTES = "SELECT 'a, b', \"c, 'd'\""


@dataclass(frozen=True)
class Trail:
    """What the module's activity left in the general log, and who did it."""

    host: str
    port: int
    tag: str
    database: str
    alice: str
    bob: str
    reader: str
    created: str  # the user alice created, with ``secret`` as its password
    secret: str
    window: ExtractWindow
    rows: list[dict[str, Any]]  # the trail's rows of the three logins, as root reads them (UTC)

    def airflow_connection(self, **fields: Any) -> str:
        return json.dumps(
            {
                "conn_type": "mysql",
                "host": self.host,
                "port": self.port,
                "login": self.reader,
                "password": self.password(self.reader),
                **fields,
            }
        )

    @staticmethod
    def password(login: str) -> str:
        return f"pw-{login}"

    def ours(self, login: str | None) -> bool:
        return login in (self.alice, self.bob)


@pytest.fixture(scope="module")
def general_log(mariadb_server: Any) -> Iterator[Any]:
    """The general log on, to a table as well; both settings restored afterwards."""
    with mariadb_server.connect() as admin:
        cursor = admin.cursor()
        cursor.execute("SELECT @@global.general_log, @@global.log_output")
        was_on, output = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM mysql.general_log")
        # nobody logs to the table: the rows the tests make (passwords of their throwaway
        # users included) are removed afterwards, leaving the server as found
        unused = not was_on and cursor.fetchone()[0] == 0
        outputs = {part for part in output.upper().split(",") if part and part != "NONE"}
        cursor.execute("SET GLOBAL log_output = %s", (",".join(sorted(outputs | {"TABLE"})),))
        cursor.execute("SET GLOBAL general_log = ON")
    try:
        yield mariadb_server
    finally:
        with mariadb_server.connect() as admin:
            cursor = admin.cursor()
            cursor.execute("SET GLOBAL general_log = %s", ("ON" if was_on else "OFF",))
            cursor.execute("SET GLOBAL log_output = %s", (output,))
            if unused:
                cursor.execute("TRUNCATE TABLE mysql.general_log")


def _connect(server: Any, user: str, password: str, **kwargs: Any) -> Any:
    """A login of ``user`` over TCP (the conftest's ``connect`` logs in as the administrator)."""
    return MySQLdb.connect(
        host=server.host,
        port=server.port,
        user=user,
        passwd=password,
        connect_timeout=5,
        autocommit=True,
        **kwargs,
    )


def _rows_of(admin: Any, *logins: str) -> list[dict[str, Any]]:
    cursor = admin.cursor(MySQLdb.cursors.DictCursor)
    cursor.execute("SET SESSION time_zone = '+00:00'")
    patterns = " OR ".join(["user_host LIKE %s"] * len(logins))
    cursor.execute(
        "SELECT event_time, user_host, thread_id, server_id, command_type, argument"
        f" FROM mysql.general_log WHERE {patterns}",
        tuple(f"%[{login}] @ %" for login in logins),
    )
    return list(cursor.fetchall())


@pytest.fixture(scope="module")
def trail(general_log: Any) -> Iterator[Trail]:
    """Drive the server once: what every test here reads back."""
    server = general_log
    tag = uuid.uuid4().hex[:8]
    database = f"gl_{tag}"
    alice, bob, reader, created = (f"{name}_{tag}" for name in ("alice", "bob", "reader", "new"))
    secret = f"S3cret-{uuid.uuid4().hex}"
    with server.connect() as admin:
        cursor = admin.cursor()
        cursor.execute(f"CREATE DATABASE `{database}`")
        cursor.execute(f"CREATE TABLE `{database}`.accounts (id int, note text)")
        for login in (alice, bob, reader):
            cursor.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (login, Trail.password(login)))
        cursor.execute(f"GRANT ALL ON `{database}`.* TO %s@'%%'", (alice,))
        cursor.execute("GRANT CREATE USER ON *.* TO %s@'%%'", (alice,))
        cursor.execute(f"GRANT USAGE ON `{database}`.* TO %s@'%%'", (bob,))
        cursor.execute(f"GRANT SELECT (id) ON `{database}`.accounts TO %s@'%%'", (bob,))
        cursor.execute("GRANT SELECT ON mysql.general_log TO %s@'%%'", (reader,))
    try:
        start = datetime.now(UTC) - timedelta(milliseconds=200)
        time.sleep(0.3)

        def login(user: str, **kwargs: Any) -> Any:
            return _connect(server, user, Trail.password(user), **kwargs)

        with login(alice, database=database) as conn:
            cursor = conn.cursor()
            cursor.execute(QUOTES)
            cursor.execute("INSERT INTO accounts (id, note) VALUES (1, 'first, with a comma')")
            cursor.execute(f"CREATE USER '{created}'@'%' IDENTIFIED BY '{secret}'")
        with login(bob) as conn:
            conn.select_db(database)  # COM_INIT_DB: an "Init DB" row
            conn.cursor().execute("SELECT id FROM accounts")
            with pytest.raises(MySQLdb.OperationalError):  # SELECT on note is not granted
                conn.cursor().execute("SELECT note FROM accounts")
        with pytest.raises(MySQLdb.OperationalError, match="Access denied"):
            _connect(server, bob, "wrong-password")
        time.sleep(0.3)
        end = datetime.now(UTC) + timedelta(milliseconds=100)
        time.sleep(0.3)  # nothing of the trail's logins falls after the window
        with server.connect() as admin:
            rows = _rows_of(admin, alice, bob)
        yield Trail(
            server.host,
            server.port,
            tag,
            database,
            alice,
            bob,
            reader,
            created,
            secret,
            ExtractWindow(start, end),
            rows,
        )
    finally:
        with server.connect() as admin:
            cursor = admin.cursor()
            cursor.execute(f"DROP DATABASE IF EXISTS `{database}`")
            for login in (alice, bob, reader, created):
                cursor.execute("DROP USER IF EXISTS %s@'%%'", (login,))


def _feed(trail: Trail, monkeypatch: pytest.MonkeyPatch, **settings: Any) -> Feed:
    conn_id = settings.pop("conn_id", f"gl_{trail.tag}")
    if "connection" in settings:
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", settings.pop("connection"))
    else:
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", trail.airflow_connection())
    entry = {
        "kind": "mysql_general_log",
        "name": settings.pop("name", "gltest"),
        "conn_id": conn_id,
        "server": SERVER,
        "page_size": 3,  # several pages even for a handful of rows
        "identity": {"template": f"{{login}}@{DOMAIN}"},
        **settings,
    }
    return parse_sources([entry], "test").feeds()[0]


def _run(dsn: str, feed: Feed, window: ExtractWindow) -> Any:
    summary = extract(dsn, feed, window=window)
    return summary, load_batch(dsn, summary.batch_id, feed)


def _events(dsn: str, source_id: str, trail: Trail) -> list[dict[str, Any]]:
    with psycopg.connect(dsn) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        rows = cur.execute(
            "SELECT event_id, occurred_at, category, action, outcome, actor_name,"
            " actor_external_id, actor_principal_name, actor_type, target_external_id,"
            " target_name, target_type, source_ip, error_code, failure_reason, properties,"
            " external_user_id FROM audit.access_events WHERE source_id = %s"
            " ORDER BY occurred_at, event_id",
            (source_id,),
        ).fetchall()
    return [row for row in rows if trail.ours(row["actor_name"])]


def _only(events: list[dict[str, Any]], **match: Any) -> dict[str, Any]:
    def hit(event: dict[str, Any]) -> bool:
        for key, value in match.items():
            actual = event["properties"].get(key[2:]) if key.startswith("p_") else event[key]
            if actual != value:
                return False
        return True

    found = [event for event in events if hit(event)]
    assert len(found) == 1, f"expected one event {match}, found {len(found)}: {found}"
    return found[0]


def _check_trail(trail: Trail, events: list[dict[str, Any]]) -> None:
    """Every event of the trail's logins, each once, with its action, outcome and target."""
    database = f"{SERVER}/{trail.database}"
    auth = {"category": "authentication"}
    alice_in = _only(events, actor_name=trail.alice, action="connect", **auth)
    assert alice_in["outcome"] == "unknown"  # written before the password check
    assert (alice_in["target_external_id"], alice_in["target_type"]) == (database, "database")
    assert alice_in["source_ip"] == "127.0.0.1"
    assert alice_in["actor_external_id"] == f"{SERVER}/{trail.alice}"
    assert alice_in["actor_principal_name"] == f"{trail.alice}@{DOMAIN}"
    assert alice_in["actor_type"] == "database_role"
    assert alice_in["properties"]["protocol"] == "TCP/IP"
    quotes = _only(events, actor_name=trail.alice, p_statement=QUOTES)
    assert (quotes["category"], quotes["action"], quotes["outcome"]) == (
        "database",
        "SELECT",
        "unknown",
    )
    assert quotes["target_external_id"] == SERVER  # a Query row does not say its database
    _only(events, actor_name=trail.alice, action="INSERT")
    created = _only(events, actor_name=trail.alice, action="CREATE USER")
    assert MASK in created["properties"]["statement"]
    assert trail.secret not in created["properties"]["statement"]
    _only(events, actor_name=trail.alice, action="disconnect", outcome="success", **auth)

    bob_connects = [e for e in events if e["actor_name"] == trail.bob and e["action"] == "connect"]
    assert sorted(e["outcome"] for e in bob_connects) == ["failure", "unknown", "unknown"]
    failed = _only(events, actor_name=trail.bob, outcome="failure", **auth)
    assert failed["error_code"] == "1045"
    assert failed["failure_reason"] == (
        f"Access denied for user '{trail.bob}'@'127.0.0.1' (using password: YES)"
    )
    assert failed["target_external_id"] == SERVER
    thread = failed["properties"]["thread_id"]
    same_thread = [e["outcome"] for e in bob_connects if e["properties"]["thread_id"] == thread]
    assert sorted(same_thread) == ["failure", "unknown"]  # the attempt, then why it failed
    use = _only(events, actor_name=trail.bob, action="USE")
    assert (use["category"], use["outcome"], use["target_external_id"]) == (
        "database",
        "unknown",
        database,
    )
    # the denied SELECT is logged like the granted one: the general log has no outcome
    selects = [e for e in events if e["actor_name"] == trail.bob and e["action"] == "SELECT"]
    assert sorted(e["properties"]["statement"] for e in selects) == [
        "SELECT id FROM accounts",
        "SELECT note FROM accounts",
    ]
    assert {e["outcome"] for e in selects} == {"unknown"}
    _only(events, actor_name=trail.bob, action="disconnect", **auth)
    assert len({event["event_id"] for event in events}) == len(events)


def test_the_window_lands_each_event_once_without_the_password(
    trail: Trail,
    warehouse_dsn: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    feed = _feed(trail, monkeypatch)
    assert feed.dag_id == "db_audit_gltest" and feed.source_id == "mysql_general_log:gltest"
    extracted, loaded = _run(warehouse_dsn, feed, trail.window)

    assert extracted.pages >= 2
    assert extracted.requests["redacted"] >= 1  # alice's CREATE USER
    events = _events(warehouse_dsn, feed.source_id, trail)
    _check_trail(trail, events)
    # every row of the trail's logins is one event: nothing lost, nothing doubled
    assert len(events) == len(trail.rows)
    assert loaded.extracted == loaded.loaded + loaded.quarantined + loaded.excluded
    assert loaded.extracted == extracted.records
    assert loaded.quarantined == 0  # every row of the window (other sessions too) maps

    # the server wrote the password in clear; the warehouse has it nowhere
    assert any(trail.secret in row["argument"] for row in trail.rows)
    assert tables_containing(warehouse_dsn, trail.secret) == []
    assert trail.secret not in caplog.text
    assert Trail.password(trail.reader) not in caplog.text

    # each login is one person, the failed login included
    people = {}
    for event in events:
        people.setdefault(event["actor_name"], set()).add(event["external_user_id"])
    assert {login: len(ids) for login, ids in people.items()} == {trail.alice: 1, trail.bob: 1}
    with psycopg.connect(warehouse_dsn) as conn:
        aliases = dict(
            conn.execute(
                "SELECT alias, external_user_id FROM audit.external_user_aliases"
                " WHERE alias = ANY(%s)",
                ([f"{SERVER}/{trail.alice}", f"{trail.alice}@{DOMAIN}"],),
            ).fetchall()
        )
    assert set(aliases.values()) == people[trail.alice] and len(aliases) == 2

    # a rerun of the window changes nothing
    before = audit_snapshot(warehouse_dsn)
    _again, reloaded = _run(warehouse_dsn, feed, trail.window)
    assert (reloaded.inserted, reloaded.updated) == (0, 0)
    assert audit_snapshot(warehouse_dsn) == before


def _fetched(feed: Feed, window: ExtractWindow, trail: Trail) -> tuple[list[dict], FetchRequest]:
    request = FetchRequest(window=window)
    records = [record for page in feed.fetch(request) for record in page.records]
    json.dumps(records)  # every value JSON as landed
    return [record for record in records if trail.ours(login_of(record))], request


def test_window_bounds_include_the_start_and_exclude_the_end(
    trail: Trail, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed = _feed(trail, monkeypatch)
    alice = sorted(
        (row for row in trail.rows if f"[{trail.alice}]" in row["user_host"]),
        key=lambda row: row["event_time"],
    )
    first, last = alice[0], alice[-1]
    assert (first["command_type"], last["command_type"]) == ("Connect", "Quit")
    window = ExtractWindow(
        first["event_time"].replace(tzinfo=UTC), last["event_time"].replace(tzinfo=UTC)
    )
    records, request = _fetched(feed, window, trail)
    landed = [r for r in records if f"[{trail.alice}]" in r["user_host"]]
    assert [r["command_type"] for r in landed] == [row["command_type"] for row in alice[:-1]]
    assert landed[0]["event_time"] == first["event_time"].replace(tzinfo=UTC).isoformat(
        timespec="microseconds"
    )
    assert request.stats.requests >= 2
    # every column as JSON: the time with its offset, ids as numbers, text as text
    assert set(landed[0]) == {
        "event_time",
        "user_host",
        "thread_id",
        "server_id",
        "command_type",
        "argument",
    }
    assert landed[0]["event_time"].endswith("+00:00")
    assert isinstance(landed[0]["thread_id"], int) and isinstance(landed[0]["server_id"], int)
    # a window that ends before the first row does not reach it
    before = ExtractWindow(window.start - timedelta(seconds=5), window.start)
    assert not [r for r in _fetched(feed, before, trail)[0] if f"[{trail.alice}]" in r["user_host"]]


def test_the_mysql_connector_client_lands_the_same_records(
    trail: Trail, monkeypatch: pytest.MonkeyPatch
) -> None:
    default = _feed(trail, monkeypatch)
    connector = _feed(
        trail,
        monkeypatch,
        conn_id=f"glc_{trail.tag}",
        name="glconnector",
        connection=trail.airflow_connection(extra={"client": "mysql-connector-python"}),
    )
    assert _fetched(connector, trail.window, trail)[0] == _fetched(default, trail.window, trail)[0]


def test_a_copy_with_local_datetime_gives_the_same_events(
    trail: Trail, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A copy whose event_time is a DATETIME in local time (UTC+2 here) is read in the
    configured timezone: the same instants, the same event ids."""
    copy = f"{trail.database}.general_log_copy"
    with MySQLdb.connect(host=trail.host, port=trail.port, user="root", autocommit=True) as admin:
        cursor = admin.cursor()
        cursor.execute("SET SESSION time_zone = '+00:00'")
        cursor.execute(
            f"CREATE TABLE {copy} (event_time datetime(6) NOT NULL, user_host mediumtext,"
            " thread_id bigint unsigned, server_id int unsigned, command_type varchar(64),"
            " argument mediumblob, KEY (event_time))"
        )
        cursor.execute(
            f"INSERT INTO {copy} SELECT event_time + INTERVAL 2 HOUR, user_host, thread_id,"
            " server_id, command_type, argument FROM mysql.general_log"
            " WHERE user_host LIKE %s OR user_host LIKE %s",
            (f"%[{trail.alice}] @ %", f"%[{trail.bob}] @ %"),
        )
        cursor.execute(f"GRANT SELECT ON {copy} TO %s@'%%'", (trail.reader,))
    table = _feed(trail, monkeypatch)
    local = _feed(
        trail, monkeypatch, name="glcopy", table=copy, timezone="Etc/GMT-2"
    )  # POSIX sign: Etc/GMT-2 is UTC+2
    from_table = [table.normalise(r, "x") for r in _fetched(table, trail.window, trail)[0]]
    from_copy = [local.normalise(r, "x") for r in _fetched(local, trail.window, trail)[0]]
    assert from_copy and len(from_copy) == len(trail.rows)

    def key(event: dict[str, Any]) -> tuple:
        return event["event_id"], event["occurred_at"], event["action"], event["outcome"]

    assert sorted(map(key, from_copy)) == sorted(map(key, from_table))


def test_a_reader_without_select_on_the_log_is_told_so(
    trail: Trail, warehouse_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    stranger = f"stranger_{trail.tag}"
    with MySQLdb.connect(host=trail.host, port=trail.port, user="root", autocommit=True) as admin:
        admin.cursor().execute(
            "CREATE USER %s@'%%' IDENTIFIED BY %s", (stranger, Trail.password(stranger))
        )
    try:
        feed = _feed(
            trail,
            monkeypatch,
            conn_id="gl_stranger",
            connection=trail.airflow_connection(login=stranger, password=Trail.password(stranger)),
        )
        with pytest.raises(SourceUnavailable) as raised:
            extract(warehouse_dsn, feed, window=trail.window)
        message = str(raised.value)
        assert "'gl_stranger'" in message and "mysql.general_log" in message
        assert "denied" in message.lower()
        assert f"{trail.host}:{trail.port}" in message
    finally:
        with MySQLdb.connect(
            host=trail.host, port=trail.port, user="root", autocommit=True
        ) as admin:
            admin.cursor().execute("DROP USER IF EXISTS %s@'%%'", (stranger,))


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_server_that_is_down_raises_source_unavailable_naming_it(
    warehouse_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    password = f"pw-{uuid.uuid4().hex}"
    port = _free_port()
    monkeypatch.setenv(
        "AIRFLOW_CONN_GL_DOWN",
        json.dumps(
            {
                "conn_type": "mysql",
                "host": "127.0.0.1",
                "port": port,
                "login": "reader",
                "password": password,
            }
        ),
    )
    entry = {"kind": "mysql_general_log", "name": "down", "conn_id": "gl_down"}
    feed = parse_sources([entry], "test").feeds()[0]
    window = ExtractWindow(datetime.now(UTC) - timedelta(hours=1), datetime.now(UTC))

    with pytest.raises(SourceUnavailable) as raised:
        extract(warehouse_dsn, feed, window=window)

    message = str(raised.value)
    assert "connection 'gl_down'" in message and f"127.0.0.1:{port}" in message
    assert "can't connect" in message.lower()
    assert password not in message
    assert tables_containing(warehouse_dsn, password) == []
    with psycopg.connect(warehouse_dsn) as conn:
        status, error = conn.execute(
            "SELECT status, error FROM landing.extract_batches WHERE source_id = %s",
            (feed.source_id,),
        ).fetchone()
    assert status == "failed" and "gl_down" in error


def test_an_undefined_connection_or_one_of_another_type_is_refused(
    warehouse_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = ExtractWindow(datetime.now(UTC) - timedelta(hours=1), datetime.now(UTC))
    entry = {"kind": "mysql_general_log", "name": "nowhere", "conn_id": "gl_undefined"}
    feed = parse_sources([entry], "test").feeds()[0]
    with pytest.raises(SourceUnavailable, match="'gl_undefined' is not defined"):
        extract(warehouse_dsn, feed, window=window)
    monkeypatch.setenv("AIRFLOW_CONN_GL_POSTGRES", "postgresql://u:p@127.0.0.1:5432/db")
    entry = {"kind": "mysql_general_log", "name": "wrongtype", "conn_id": "gl_postgres"}
    feed = parse_sources([entry], "test").feeds()[0]
    with pytest.raises(SourceUnavailable, match="reads over a `mysql` connection"):
        extract(warehouse_dsn, feed, window=window)


@pytest.mark.parametrize(
    "table",
    ["mysql.`general_log`", "mysql.general log", "general_log; DROP TABLE x", "a.b.c"],
)
def test_a_table_that_is_no_plain_identifier_is_refused_by_the_config(table: str) -> None:
    entry = {"kind": "mysql_general_log", "name": "bad", "conn_id": "db", "table": table}
    with pytest.raises(ConfigError) as raised:
        parse_sources([entry], "sources.yaml")
    message = str(raised.value)
    assert "sources.yaml" in message and "table" in message
    assert "not a plain SQL identifier" in message or "at most one dot" in message
