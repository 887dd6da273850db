"""``mariadb_server_audit`` against this machine's MariaDB: the ``server_audit`` plugin logs to a
folder of the test's own (small rotate size, and a forced rotation) while two logins connect,
one fails, queries with commas, quotes and newlines run, a table is read and written and a user
is created with a password; the files, and a table the same lines were loaded into, are
extracted and loaded into a fresh warehouse. Every server_audit variable changed is restored."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from warehouse_asserts import audit_snapshot, tables_containing

from access_warehouse.config import ConfigError, parse_sources
from access_warehouse.extract import extract
from access_warehouse.landing import ExtractWindow
from access_warehouse.load import load_batch
from access_warehouse.sources.base import Feed, FetchRequest
from access_warehouse.sources.database import SourceUnavailable
from access_warehouse.sources.mariadb_server_audit import local_bounds
from access_warehouse.sources.mariadb_server_audit.mapping import STATISTICS_TABLES

SERVER = "maria-test"
MULTI_LINE = "SELECT 1 AS one,\n  'two, \"2\"' AS two\nFROM DUAL"
COMMAS_AND_QUOTES = "SELECT 'a, b', \"c, 'd'\""
#: What the plugin's server_audit_* settings are put back to.
SETTINGS = (
    "server_audit_logging",
    "server_audit_file_path",
    "server_audit_events",
    "server_audit_incl_users",
    "server_audit_excl_users",
    "server_audit_file_rotate_size",
    "server_audit_file_rotations",
    "server_audit_query_log_limit",
    "server_audit_output_type",
)


@dataclass(frozen=True)
class Trail:
    directory: Path
    window: ExtractWindow
    secret: str
    alice: str
    bob: str
    carol: str
    database: str
    lines: list[str]  # every complete line of every file after the trail, oldest file first
    files: list[Path]


def _file_source(trail: Trail, **extra: Any) -> dict[str, Any]:
    return {
        "kind": "mariadb_server_audit",
        "name": "mariatest",
        "conn_id": "mariatest",
        "server": SERVER,
        "log_directory": str(trail.directory),
        **extra,
    }


def _feed(entry: dict[str, Any]) -> Feed:
    return parse_sources([entry], "test").feeds()[0]


def _audit_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("server_audit.log*"), key=lambda path: path.stat().st_mtime)


def _complete_lines(path: Path) -> list[str]:
    data = path.read_bytes()
    return data[: data.rfind(b"\n") + 1].decode("utf-8", errors="replace").splitlines()


def _wait_for(directory: Path, written: Any, timeout: float = 10.0) -> None:
    """Until ``written(lines)`` holds for the lines of the files (the plugin writes a
    DISCONNECT when the server's thread ends, after the client has gone)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if written([line for path in _audit_files(directory) for line in _complete_lines(path)]):
            return
        time.sleep(0.05)
    raise AssertionError("the expected lines never reached the server_audit log")


def _login(server: Any, user: str, password: str, **kwargs: Any) -> Any:
    """A connection of one of the trail's logins (the fixture's ``connect`` logs in as root)."""
    import MySQLdb

    return MySQLdb.connect(
        host=server.host,
        port=server.port,
        user=user,
        passwd=password,
        connect_timeout=5,
        autocommit=True,
        **kwargs,
    )


@pytest.fixture(scope="module")
def trail(mariadb_server: Any) -> Iterator[Trail]:
    """Drive the server once with the plugin logging to a folder of ours: what every test reads."""
    import MySQLdb

    admin = mariadb_server.connect()
    cur = admin.cursor()
    cur.execute(
        "SELECT plugin_status FROM information_schema.plugins WHERE plugin_name = %s",
        ("SERVER_AUDIT",),
    )
    if not cur.fetchall():
        cur.execute("INSTALL SONAME 'server_audit'")
    cur.execute("SHOW GLOBAL VARIABLES LIKE 'server\\_audit\\_%%'")
    saved = {name: value for name, value in cur.fetchall() if name in SETTINGS}
    directory = Path(tempfile.mkdtemp(prefix="server-audit-"))
    shutil.chown(directory, "mysql")
    directory.chmod(0o755)
    suffix = uuid.uuid4().hex[:10]
    alice, bob, carol = f"alice_{suffix}", f"bob_{suffix}", f"carol_{suffix}"
    database = f"app_{suffix}"
    secret = f"S3cret-{uuid.uuid4().hex}"
    try:
        cur.execute("SET GLOBAL server_audit_logging = OFF")
        cur.execute("SET GLOBAL server_audit_output_type = 'file'")
        cur.execute(
            "SET GLOBAL server_audit_file_path = %s", (str(directory / "server_audit.log"),)
        )
        cur.execute("SET GLOBAL server_audit_events = 'CONNECT,QUERY,TABLE'")
        cur.execute("SET GLOBAL server_audit_incl_users = %s", (f"{alice},{bob},{carol}",))
        cur.execute("SET GLOBAL server_audit_excl_users = ''")
        cur.execute("SET GLOBAL server_audit_file_rotate_size = 2000")  # rotates while we write
        cur.execute("SET GLOBAL server_audit_file_rotations = 20")
        cur.execute("SET GLOBAL server_audit_query_log_limit = 4096")
        cur.execute(f"CREATE DATABASE {database}")
        cur.execute(f"CREATE TABLE {database}.invoices (id int, note text)")
        cur.execute(f"CREATE USER '{alice}'@'%' IDENTIFIED BY '{secret}-alice'")
        cur.execute(f"CREATE USER '{bob}'@'%' IDENTIFIED BY '{secret}-bob'")
        cur.execute(f"GRANT ALL ON {database}.* TO '{alice}'@'%'")
        cur.execute(f"GRANT CREATE USER ON *.* TO '{alice}'@'%'")
        cur.execute(f"GRANT SELECT ON {database}.invoices TO '{bob}'@'%'")
        start = datetime.now(UTC).replace(microsecond=0)
        cur.execute("SET GLOBAL server_audit_logging = ON")

        user = _login(mariadb_server, alice, f"{secret}-alice", db=database)
        c = user.cursor()
        c.execute(COMMAS_AND_QUOTES)
        c.execute(MULTI_LINE)
        c.execute("INSERT INTO invoices VALUES (1, 'x, y'), (2, 'it''s')")
        c.execute("SELECT * FROM invoices")
        c.execute(f"CREATE USER '{carol}'@'%' IDENTIFIED BY '{secret}-carol'")
        c.execute(f"SELECT 'mysql://{carol}:{secret}-url@db/app' AS dsn")
        with pytest.raises(MySQLdb.Error, match="1146"):
            c.execute("SELECT * FROM no_such_table")
        user.close()
        cur.execute("SET GLOBAL server_audit_file_rotate_now = ON")  # the rest: a new file

        user = _login(mariadb_server, bob, f"{secret}-bob", db=database)
        c = user.cursor()
        c.execute("SELECT id FROM invoices")
        with pytest.raises(MySQLdb.Error, match="1142"):  # UPDATE command denied
            c.execute("UPDATE invoices SET note = 'no'")
        user.close()
        with pytest.raises(MySQLdb.OperationalError, match="1045"):
            _login(mariadb_server, bob, "wrong-password").close()
        # the failed login's connection is disconnected last: everything before it is written
        _wait_for(
            directory,
            lambda lines: (
                len([line for line in lines if f",{bob}," in line and ",DISCONNECT," in line]) == 2
            ),
        )
        end = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
        time.sleep(max(0.0, (end - datetime.now(UTC)).total_seconds()) + 0.1)
        files = _audit_files(directory)
        lines = [line for path in files for line in _complete_lines(path)]
        yield Trail(
            directory,
            ExtractWindow(start, end),
            secret,
            alice,
            bob,
            carol,
            database,
            lines,
            files,
        )
    finally:
        cur.execute("SET GLOBAL server_audit_logging = OFF")
        for name, value in saved.items():
            if name != "server_audit_logging":
                cur.execute(f"SET GLOBAL {name} = %s", (int(value) if value.isdigit() else value,))
        cur.execute(f"SET GLOBAL server_audit_logging = {saved['server_audit_logging']}")
        for login in (alice, bob, carol):
            cur.execute(f"DROP USER IF EXISTS '{login}'@'%'")
        cur.execute(f"DROP DATABASE IF EXISTS {database}")
        admin.close()
        shutil.rmtree(directory, ignore_errors=True)


def _run(dsn: str, feed: Feed, window: ExtractWindow) -> Any:
    summary = extract(dsn, feed, window=window)
    return summary, load_batch(dsn, summary.batch_id, feed)


def _events(dsn: str, source_id: str) -> list[dict[str, Any]]:
    with psycopg.connect(dsn) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        return cur.execute(
            "SELECT event_id, occurred_at, category, action, outcome, actor_name,"
            " actor_external_id, actor_type, target_external_id, target_name, target_type,"
            " source_ip, error_code, failure_reason, properties"
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


def _user_lines(trail: Trail, login: str) -> set[str]:
    """The distinct lines of ``login`` in the files that are access events (the server's own
    statistics-table lines excluded), told apart by a plain split: the test's names hold no
    comma."""
    kept = set()
    for line in trail.lines:
        fields = line.split(",")
        if fields[2] != login:
            continue
        if (
            fields[6] in ("READ", "WRITE")
            and fields[7] == "mysql"
            and (fields[8] in STATISTICS_TABLES)
        ):
            continue
        kept.add(line)
    return kept


def _check_trail(trail: Trail, events: list[dict[str, Any]]) -> None:
    """Every event of the trail's logins, each once, with actor, action, outcome and target."""
    db = f"{SERVER}/{trail.database}"
    invoices = f"{db}/invoices"
    alice, bob = trail.alice, trail.bob
    for login in (alice, bob):
        mine = [event for event in events if event["actor_name"] == login]
        assert len(mine) == len(_user_lines(trail, login)), f"{login}: one event per line"
    auth = {"category": "authentication"}
    alice_in = _only(events, actor_name=alice, action="connect", outcome="success", **auth)
    assert alice_in["target_external_id"] == db and alice_in["target_type"] == "database"
    assert alice_in["actor_external_id"] == f"{SERVER}/{alice}"
    assert (alice_in["actor_type"], alice_in["source_ip"]) == ("database_role", "127.0.0.1")
    _only(events, actor_name=alice, action="disconnect", outcome="success", **auth)
    _only(events, actor_name=bob, action="connect", outcome="success", **auth)
    failed = _only(events, actor_name=bob, action="connect", outcome="failure", **auth)
    assert failed["error_code"] == "1045"
    assert failed["failure_reason"] == "access denied (wrong password or unknown user)"
    assert failed["target_external_id"] == SERVER  # no database: the server
    assert failed["properties"]["operation"] == "FAILED_CONNECT"
    # the failed login's connection is disconnected too; bob's own session once more
    assert len([e for e in events if e["actor_name"] == bob and e["action"] == "disconnect"]) == 2

    query = {"category": "database", "target_external_id": db}
    quoted = _only(events, actor_name=alice, p_statement=COMMAS_AND_QUOTES, **query)
    assert (quoted["action"], quoted["outcome"]) == ("SELECT", "success")
    multi = _only(events, actor_name=alice, p_statement=MULTI_LINE, **query)
    assert multi["action"] == "SELECT"
    insert = _only(events, actor_name=alice, action="INSERT", **query)
    assert (
        insert["properties"]["statement"] == "INSERT INTO invoices VALUES (1, 'x, y'), (2, 'it''s')"
    )
    created = _only(events, actor_name=alice, action="CREATE USER", **query)
    assert (
        created["properties"]["statement"]
        == f"CREATE USER '{trail.carol}'@'%' IDENTIFIED BY [REDACTED]"
    )
    missing = _only(events, actor_name=alice, p_statement="SELECT * FROM no_such_table", **query)
    assert (missing["outcome"], missing["error_code"]) == ("failure", "1146")
    denied = _only(events, actor_name=bob, action="UPDATE", **query)
    assert (denied["outcome"], denied["error_code"]) == ("failure", "1142")
    assert denied["failure_reason"] == "command denied on the table"

    table = {"category": "database", "target_type": "table", "target_external_id": invoices}
    write = _only(events, actor_name=alice, action="WRITE", **table)
    assert (write["outcome"], write["target_name"]) == ("unknown", "invoices")
    assert write["properties"]["queryid"] == insert["properties"]["queryid"]
    _only(events, actor_name=alice, action="READ", **table)
    _only(events, actor_name=bob, action="READ", **table)
    assert not [
        e
        for e in events
        if e["target_external_id"].startswith(f"{SERVER}/mysql/")
        and e["target_name"] in STATISTICS_TABLES
    ]
    assert len({event["event_id"] for event in events}) == len(events)


def test_files_land_each_event_once_and_no_secret(trail: Trail, warehouse_dsn: str) -> None:
    assert len(trail.files) >= 3, "the trail spans size rotations and a forced one"
    # with server_audit_file_rotations of 10 or more the plugin pads the numbers: .01, .02
    names = {path.name for path in trail.files}
    assert {"server_audit.log", "server_audit.log.01", "server_audit.log.02"} <= names
    assert any(trail.secret in line for line in trail.lines), "the secret was there to be masked"
    feed = _feed(_file_source(trail, page_size=7))
    extracted, loaded = _run(warehouse_dsn, feed, trail.window)

    assert extracted.pages >= 3 and len(extracted.requests["by_stream"]) >= 3, "rotated files"
    assert extracted.requests["redacted"] >= 1  # the URL's password
    events = _events(warehouse_dsn, feed.source_id)
    _check_trail(trail, events)
    assert tables_containing(warehouse_dsn, trail.secret) == []

    assert loaded.quarantined == 0
    batch = _batch_row(warehouse_dsn, loaded.batch_id)
    assert batch["extracted"] == extracted.records
    assert batch["extracted"] == batch["loaded"] + batch["quarantined"] + batch["excluded"]
    rules = batch["details"]["excluded_by_rule"]
    assert set(rules) == {"not_access:statistics_tables"}

    before = audit_snapshot(warehouse_dsn)
    _again, reloaded = _run(warehouse_dsn, feed, trail.window)
    assert (reloaded.inserted, reloaded.updated) == (0, 0)
    assert (reloaded.loaded, reloaded.excluded) == (loaded.loaded, loaded.excluded)
    assert audit_snapshot(warehouse_dsn) == before


def test_a_configured_timezone_shifts_occurred_at(trail: Trail, warehouse_dsn: str) -> None:
    zone = ZoneInfo("Asia/Kolkata")  # +05:30, no DST: this server writes UTC
    shift = timedelta(hours=5, minutes=30)
    utc_feed = _feed(_file_source(trail))
    local_feed = _feed(_file_source(trail, name="mariatest_ist", timezone=zone.key))
    _run(warehouse_dsn, utc_feed, trail.window)
    window = ExtractWindow(trail.window.start - shift, trail.window.end - shift)
    _run(warehouse_dsn, local_feed, window)
    utc_events = _events(warehouse_dsn, utc_feed.source_id)
    local_events = _events(warehouse_dsn, local_feed.source_id)
    assert [e["event_id"] for e in local_events] == [e["event_id"] for e in utc_events]
    for utc_event, local_event in zip(utc_events, local_events, strict=True):
        assert local_event["occurred_at"] == utc_event["occurred_at"] - shift
    # the window is read in the zone too: the UTC window read as Kolkata time misses the trail
    _, missed = _run(warehouse_dsn, local_feed, trail.window)
    assert missed.extracted < len(local_events)


def test_exclusions_by_operation_and_login_are_counted(trail: Trail, warehouse_dsn: str) -> None:
    feed = _feed(
        _file_source(trail, exclude_statement_classes=["read"], exclude_logins=[trail.bob])
    )
    _extracted, loaded = _run(warehouse_dsn, feed, trail.window)
    events = _events(warehouse_dsn, feed.source_id)
    assert not [e for e in events if e["properties"].get("operation") == "READ"]
    assert not [e for e in events if e["actor_name"] == trail.bob]
    rules = _batch_row(warehouse_dsn, loaded.batch_id)["details"]["excluded_by_rule"]
    assert rules["statement_class:READ"] >= 1
    assert rules[f"login:{trail.bob}"] == len(_user_lines(trail, trail.bob))


TABLE_DDL = """
CREATE TABLE {table} (
  `timestamp` DATETIME NOT NULL,
  `serverhost` VARCHAR(255) NOT NULL, `username` VARCHAR(384) NOT NULL,
  `host` VARCHAR(255) NOT NULL, `connectionid` BIGINT NOT NULL, `queryid` BIGINT NOT NULL,
  `operation` VARCHAR(32) NOT NULL, `database` VARCHAR(192) NOT NULL,
  `object` MEDIUMTEXT NOT NULL, `retcode` INT NULL,
  KEY (`timestamp`)
) CHARACTER SET utf8mb4
"""
LOAD_DATA = r"""
LOAD DATA LOCAL INFILE %s INTO TABLE {table}
  CHARACTER SET utf8mb4 FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '''' ESCAPED BY '\\'
  LINES TERMINATED BY '\n'
  (@ts, serverhost, username, host, connectionid, queryid, operation, `database`, object, @rc)
  SET `timestamp` = STR_TO_DATE(@ts, '%%Y%%m%%d %%H:%%i:%%s'), retcode = NULLIF(@rc, '')
"""


@pytest.fixture
def audit_table(trail: Trail, mariadb_server: Any, tmp_path: Path) -> Iterator[str]:
    """The trail's files loaded with the doc's LOAD DATA into a table; a reader that may SELECT
    it only; yields the reader's connection URI."""
    suffix = uuid.uuid4().hex[:10]
    schema, reader = f"logs_{suffix}", f"reader_{suffix}"
    table = f"`{schema}`.`server_audit`"
    admin = mariadb_server.connect(local_infile=1)
    cur = admin.cursor()
    try:
        cur.execute(f"CREATE DATABASE {schema}")
        cur.execute(TABLE_DDL.format(table=table))
        for number, path in enumerate(trail.files):
            snapshot = tmp_path / f"{number}.log"  # complete lines: the log is still appended
            snapshot.write_text("\n".join(_complete_lines(path)) + "\n")
            cur.execute(LOAD_DATA.format(table=table), (str(snapshot),))
        cur.execute(f"CREATE USER '{reader}'@'%' IDENTIFIED BY 'reader-pw'")
        cur.execute(f"GRANT SELECT ON {table} TO '{reader}'@'%'")
        yield (f"mysql://{reader}:reader-pw@{mariadb_server.host}:{mariadb_server.port}/{schema}")
    finally:
        cur.execute(f"DROP USER IF EXISTS '{reader}'@'%'")
        cur.execute(f"DROP DATABASE IF EXISTS {schema}")
        admin.close()


def test_table_mode_gives_the_same_events(
    trail: Trail, audit_table: str, warehouse_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_MARIATEST_LOGS", audit_table)
    from_files = _feed(_file_source(trail))
    from_table = _feed(
        {
            "kind": "mariadb_server_audit",
            "name": "mariatest_table",
            "conn_id": "mariatest_logs",
            "server": SERVER,
            "table": "server_audit",
            "page_size": 5,
        }
    )
    _, by_files = _run(warehouse_dsn, from_files, trail.window)
    extracted, by_table = _run(warehouse_dsn, from_table, trail.window)

    assert extracted.pages > 2
    table_events = _events(warehouse_dsn, from_table.source_id)
    _check_trail(trail, table_events)
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


def test_a_missing_table_says_so(
    audit_table: str, warehouse_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_MARIATEST_LOGS", audit_table)
    feed = _feed(
        {
            "kind": "mariadb_server_audit",
            "name": "gone",
            "conn_id": "mariatest_logs",
            "table": "no_such_table",
        }
    )
    window = ExtractWindow(datetime.now(UTC) - timedelta(hours=1), datetime.now(UTC))
    with pytest.raises(SourceUnavailable, match=r"no_such_table .*does not exist or is not"):
        list(feed.fetch(FetchRequest(window=window)))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_server_that_is_down_names_its_connection(
    warehouse_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_MARIADOWN", f"mysql://reader:x@127.0.0.1:{_free_port()}/logs")
    feed = _feed(
        {"kind": "mariadb_server_audit", "name": "down", "conn_id": "mariadown", "table": "t"}
    )
    window = ExtractWindow(datetime.now(UTC) - timedelta(hours=1), datetime.now(UTC))
    with pytest.raises(SourceUnavailable, match=r"connection 'mariadown'.*Can't connect"):
        extract(warehouse_dsn, feed, window=window)
    with psycopg.connect(warehouse_dsn) as conn:
        status, error = conn.execute(
            "SELECT status, error FROM landing.extract_batches WHERE source_id = %s",
            (feed.source_id,),
        ).fetchone()
    assert status == "failed" and "mariadown" in error


# --- config -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        ({}, "give exactly one of log_directory"),
        ({"log_directory": "/var/log", "table": "t"}, "give exactly one of log_directory"),
        ({"table": "t", "file_pattern": "*.log"}, "file_pattern applies to log_directory"),
        ({"log_directory": "logs"}, "must be an absolute path"),
        ({"log_directory": "/var/log", "file_pattern": "../*"}, "no path separators"),
        ({"table": "a.b.c"}, "at most one dot"),
        ({"table": "logs.`server_audit`"}, "is not a plain SQL identifier"),
        ({"log_directory": "/var/log", "timezone": "Mars/Olympus"}, "unknown time zone"),
    ],
)
def test_where_to_read_is_validated(entry: dict[str, Any], says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        parse_sources([{"kind": "mariadb_server_audit", "name": "x", "conn_id": "c", **entry}], "t")


# --- the file reader without a server -----------------------------------------------------

LINE = (
    "202611{day:02d} 10:{minute:02d}:00,db1,alice,10.0.0.7,{conn},{query},QUERY,shop,"
    "'SELECT {n}',0\n"
)


def _line(n: int, minute: int, conn: int = 5, day: int = 20) -> str:
    return LINE.format(day=day, minute=minute, conn=conn, query=100 + n, n=n)


def _set_mtime(path: Path, moment: datetime) -> None:
    os.utime(path, (moment.timestamp(), moment.timestamp()))


def test_the_file_reader_streams_rotations_and_leaves_a_partial_line(tmp_path: Path) -> None:
    window = ExtractWindow(
        datetime(2026, 11, 20, 10, 5, tzinfo=UTC), datetime(2026, 11, 20, 11, tzinfo=UTC)
    )
    old = tmp_path / "server_audit.log.3"  # modified before the window: never opened
    old.write_text(_line(1, 30))
    _set_mtime(old, datetime(2026, 11, 20, 10, 4, tzinfo=UTC))
    first = tmp_path / "server_audit.log.2"
    first.write_text(_line(1, 1) + _line(2, 6) + _line(3, 7) + "not, a server_audit line\n")
    _set_mtime(first, datetime(2026, 11, 20, 10, 8, tzinfo=UTC))
    second = tmp_path / "server_audit.log"  # the live file, named first, written last
    second.write_text(_line(4, 9) + _line(5, 59) + _line(6, 0, day=21))
    with second.open("a") as handle:
        handle.write(_line(7, 30)[:40])  # the plugin is mid-write
    _set_mtime(second, datetime(2026, 11, 20, 10, 30, tzinfo=UTC))
    (tmp_path / "error.log").write_text(_line(8, 10))  # not matched by the pattern

    feed = _feed(
        {
            "kind": "mariadb_server_audit",
            "name": "files",
            "conn_id": "c",
            "log_directory": str(tmp_path),
            "page_size": 2,
        }
    )
    request = FetchRequest(window=window)
    pages = list(feed.fetch(request))

    assert [page.stream for page in pages] == [first.name, first.name, second.name]
    records = [record for page in pages for record in page.records]
    assert [r.get("queryid") for r in records] == ["102", "103", None, "104", "105"]
    bad = records[2]
    assert (bad["file"], bad["line_number"]) == (first.name, "4")
    assert bad["text"] == "not, a server_audit line"
    assert bad["server_audit_error"].startswith("not a server_audit line")
    assert request.stats.requests == 2
    assert request.stats.by_stream == {first.name: 3, second.name: 2}

    # once the line is whole, the next (overlapping) window reads it
    with second.open("a") as handle:
        handle.write(_line(7, 30)[40:])
    _set_mtime(second, datetime(2026, 11, 20, 10, 31, tzinfo=UTC))
    records = [r for page in feed.fetch(FetchRequest(window=window)) for r in page.records]
    assert "107" in [r.get("queryid") for r in records]


def test_the_window_is_read_in_the_configured_zone(tmp_path: Path) -> None:
    (tmp_path / "server_audit.log").write_text(_line(1, 10) + _line(2, 20))  # 10:10, 10:20 local
    feed = _feed(
        {
            "kind": "mariadb_server_audit",
            "name": "berlin",
            "conn_id": "c",
            "log_directory": str(tmp_path),
            "timezone": "Europe/Berlin",  # CET in November: 10:10 local is 09:10 UTC
        }
    )
    _set_mtime(tmp_path / "server_audit.log", datetime(2026, 11, 20, 9, 30, tzinfo=UTC))
    window = ExtractWindow(
        datetime(2026, 11, 20, 9, 15, tzinfo=UTC), datetime(2026, 11, 20, 10, tzinfo=UTC)
    )
    records = [r for page in feed.fetch(FetchRequest(window=window)) for r in page.records]
    assert [r["queryid"] for r in records] == ["102"]


def test_local_bounds_enclose_a_dst_change() -> None:
    zone = ZoneInfo("Europe/Berlin")
    # 2026-10-25 01:00 UTC: 03:00 CEST becomes 02:00 CET (02:00-03:00 local happens twice)
    start = datetime(2026, 10, 24, 23, 30, tzinfo=UTC)
    end = datetime(2026, 10, 25, 2, 30, tzinfo=UTC)
    low, high = local_bounds(start, end, zone)
    # start + the smaller offset (CET, +1), end + the larger (CEST, +2): every local time that
    # reads into the window, whichever side of the change, lies between
    assert low == datetime(2026, 10, 25, 0, 30)
    assert high == datetime(2026, 10, 25, 4, 30)
    assert low.tzinfo is None and high.tzinfo is None


def test_a_missing_log_directory_names_the_connection(tmp_path: Path) -> None:
    feed = _feed(
        {
            "kind": "mariadb_server_audit",
            "name": "gone",
            "conn_id": "maria_gone",
            "log_directory": str(tmp_path / "nope"),
        }
    )
    window = ExtractWindow(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC))
    with pytest.raises(
        SourceUnavailable, match=r"server_audit files in .*nope \(connection 'maria_gone'\)"
    ):
        list(feed.fetch(FetchRequest(window=window)))
