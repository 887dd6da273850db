"""The ``postgres_audit_trigger`` kind against real trails: the audit trigger installed in a real
database (this machine's PostgreSQL 15 with hstore, the embedded PostgreSQL 16 with jsonb), real
statements by two logins, read by a login with only the documented privileges, through the shared
extract and load into a real warehouse."""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from psycopg import sql
from warehouse_asserts import audit_snapshot, tables_containing

from access_warehouse.config import ConfigError, parse_sources
from access_warehouse.extract import extract, read_bookmark
from access_warehouse.load import LoadSummary, load_batch
from access_warehouse.redaction import MASK
from access_warehouse.sources.base import Feed
from access_warehouse.sources.database import SourceUnavailable
from devtools.postgres_audit_trigger import install

SERVER = "db-test"


@dataclass
class Trail:
    """A database with the audit trigger on ``app.accounts``, its two application logins and its
    reading login (CONNECT, USAGE on audit, SELECT on the trail: nothing else)."""

    payload: str
    host: str
    port: int | None
    database: str
    alice: str
    bob: str
    reader: str

    def conninfo(self, user: str = "postgres") -> str:
        return psycopg.conninfo.make_conninfo(
            host=self.host, port=self.port, dbname=self.database, user=user
        )

    def connect(self, user: str = "postgres", **kwargs: Any) -> psycopg.Connection:
        return psycopg.connect(self.conninfo(user), **kwargs)

    def airflow_connection(self, *, port: int | None = None, password: str | None = None) -> str:
        return json.dumps(
            {
                "conn_type": "postgres",
                "host": self.host,
                "port": port or self.port,
                "schema": self.database,
                "login": self.reader,
                "password": password,
            }
        )

    def logged(self) -> list[tuple]:
        """(event_id, session user, table, action) of every trail row, as the source has it."""
        with self.connect() as conn:
            return conn.execute(
                "SELECT event_id, session_user_name, schema_name || '.' || table_name, action"
                " FROM audit.logged_actions ORDER BY event_id"
            ).fetchall()


def _create_trail(host: str, port: int | None, payload: str) -> Iterator[Trail]:
    tag = uuid.uuid4().hex[:8]
    trail = Trail(payload, host, port, f"pat_{tag}", f"alice_{tag}", f"bob_{tag}", f"reader_{tag}")
    admin = psycopg.conninfo.make_conninfo(host=host, port=port, dbname="postgres", user="postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(trail.database)))
        for role in (trail.alice, trail.bob, trail.reader):
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
    try:
        with trail.connect(autocommit=True) as conn:
            conn.execute(
                "CREATE SCHEMA app; CREATE TABLE app.accounts (id serial PRIMARY KEY,"
                " login text NOT NULL, password_hash text, note text)"
            )
        install(trail.conninfo(), payload, ["app.accounts"])
        with trail.connect(autocommit=True) as conn:
            grants = sql.SQL(
                "REVOKE CONNECT ON DATABASE {db} FROM PUBLIC;"
                " GRANT CONNECT ON DATABASE {db} TO {alice}, {bob}, {reader};"
                " GRANT USAGE ON SCHEMA app TO {alice}, {bob};"
                " GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON app.accounts TO {alice}, {bob};"
                " GRANT USAGE ON SEQUENCE app.accounts_id_seq TO {alice}, {bob};"
                " GRANT USAGE ON SCHEMA audit TO {reader};"
                " GRANT SELECT ON audit.logged_actions TO {reader}"
            ).format(
                db=sql.Identifier(trail.database),
                alice=sql.Identifier(trail.alice),
                bob=sql.Identifier(trail.bob),
                reader=sql.Identifier(trail.reader),
            )
            conn.execute(grants)
        yield trail
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(trail.database)
                )
            )
            for role in (trail.alice, trail.bob, trail.reader):
                conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


@pytest.fixture(params=["hstore", "jsonb"])
def trail(request: pytest.FixtureRequest) -> Iterator[Trail]:
    """hstore on this machine's PostgreSQL 15 (the original layout), jsonb on the embedded 16
    (which has no hstore)."""
    if request.param == "hstore":
        yield from _create_trail(request.getfixturevalue("system_pg"), 5432, "hstore")
    else:
        yield from _create_trail(request.getfixturevalue("pg_server"), None, "jsonb")


@pytest.fixture
def jsonb_trail(pg_server: str) -> Iterator[Trail]:
    yield from _create_trail(pg_server, None, "jsonb")


def source_feed(
    trail: Trail, monkeypatch: pytest.MonkeyPatch, *, port: int | None = None, **settings: Any
) -> Feed:
    conn_id = f"trail_{trail.database}"
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{conn_id.upper()}", trail.airflow_connection(port=port, password=None)
    )
    entry = {
        "kind": "postgres_audit_trigger",
        "name": "trail",
        "conn_id": conn_id,
        "server": SERVER,
        "page_size": 2,  # several pages even for a handful of rows
        **settings,
    }
    return parse_sources([entry], "test").feed("postgres_audit_trigger:trail")


def run(warehouse_dsn: str, feed: Feed) -> LoadSummary:
    """One extract and its load, as the DAG's tasks do."""
    return load_batch(warehouse_dsn, extract(warehouse_dsn, feed).batch_id, feed)


def events(warehouse_dsn: str) -> list[tuple]:
    with psycopg.connect(warehouse_dsn) as conn:
        return conn.execute(
            "SELECT event_id, actor_name, actor_external_id, target_name, target_external_id,"
            " target_type, action, outcome, category, properties FROM audit.access_events"
            " ORDER BY event_id::bigint"
        ).fetchall()


def as_user(trail: Trail, user: str, *statements: str) -> None:
    with trail.connect(user, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)  # type: ignore[arg-type]


def app_activity(trail: Trail) -> None:
    """Statements by both logins: every action the trail knows."""
    as_user(
        trail,
        trail.alice,
        # the hashes are computed by the server: they are in the rows, not in the statements
        "INSERT INTO app.accounts (login, password_hash)"
        " SELECT login, md5(login || '-pepper') FROM unnest(ARRAY['ann', 'ben', 'cid']) AS login",
        "UPDATE app.accounts SET note = 'vip' WHERE login = 'ann'",
    )
    as_user(
        trail,
        trail.bob,
        "UPDATE app.accounts SET password_hash = md5(login || '-rotated') WHERE login = 'ben'",
        "DELETE FROM app.accounts WHERE login = 'cid'",
        "TRUNCATE app.accounts",
    )


def row_hash(login: str, suffix: str = "pepper") -> str:
    """The password hash ``app_activity`` gives ``login``'s row (computed by the server)."""
    return hashlib.md5(f"{login}-{suffix}".encode()).hexdigest()


ACTIONS = {"I": "INSERT", "U": "UPDATE", "D": "DELETE", "T": "TRUNCATE"}


def test_every_recorded_event_lands_once_with_actor_target_and_action(
    trail: Trail, warehouse_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    app_activity(trail)
    logged = trail.logged()
    assert [action for *_, action in logged] == ["I", "I", "I", "U", "U", "D", "T"]
    feed = source_feed(trail, monkeypatch)

    summary = run(warehouse_dsn, feed)

    assert (summary.extracted, summary.loaded, summary.quarantined) == (7, 7, 0)
    assert summary.bookmark_advanced is True
    landed = events(warehouse_dsn)
    assert [row[0] for row in landed] == [str(event_id) for event_id, *_ in logged]
    for (event_id, login, table, letter), row in zip(logged, landed, strict=True):
        assert row[1:9] == (
            login,
            f"{SERVER}/{login}",
            table,
            f"{SERVER}/{trail.database}/app/accounts",
            "table",
            ACTIONS[letter],
            "success",
            "database",
        ), event_id
    assert {row[1] for row in landed} == {trail.alice, trail.bob}
    by_action = {row[6]: row[9] for row in landed}
    assert by_action["UPDATE"]["changed_field_names"] == ["password_hash"]
    assert by_action["TRUNCATE"]["statement_only"] is True
    assert by_action["DELETE"]["statement"] == "DELETE FROM app.accounts WHERE login = 'cid'"
    # row values are not copied by default: the hashes stayed in the source
    for value in (
        *(row_hash(login) for login in ("ann", "ben", "cid")),
        row_hash("ben", "rotated"),
    ):
        assert tables_containing(warehouse_dsn, value) == [], value
    bookmark = read_bookmark(warehouse_dsn, feed.source_id)
    assert bookmark is not None and bookmark["cursor"] == logged[-1][0]
    assert isinstance(bookmark["xmin"], int)

    # a rerun changes nothing, and later statements are the only ones the next run adds
    before = audit_snapshot(warehouse_dsn)
    again = run(warehouse_dsn, feed)
    assert (again.inserted, again.updated) == (0, 0)
    assert audit_snapshot(warehouse_dsn) == before
    as_user(trail, trail.alice, "INSERT INTO app.accounts (login) VALUES ('dee')")
    third = run(warehouse_dsn, feed)
    assert third.inserted == 1
    assert len(events(warehouse_dsn)) == 8


def test_a_row_committed_late_behind_the_bookmark_is_picked_up_once(
    trail: Trail, warehouse_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed = source_feed(trail, monkeypatch)
    with trail.connect(trail.alice) as slow:  # a transaction that stays open
        slow.execute("INSERT INTO app.accounts (login) VALUES ('slow')")
        as_user(trail, trail.bob, "INSERT INTO app.accounts (login) VALUES ('fast')")
        with trail.connect() as conn:  # the open transaction's row is not visible yet
            fast_id = conn.execute("SELECT max(event_id) FROM audit.logged_actions").fetchone()[0]
        slow_id = fast_id - 1  # a fresh sequence: the open transaction drew the number before
        first = run(warehouse_dsn, feed)
        assert first.loaded == 1
        assert [row[0] for row in events(warehouse_dsn)] == [str(fast_id)]
        assert read_bookmark(warehouse_dsn, feed.source_id)["cursor"] == fast_id
        slow.commit()  # event slow_id, below the bookmark, commits now

    second = run(warehouse_dsn, feed)
    landed = events(warehouse_dsn)
    assert [row[0] for row in landed] == [str(slow_id), str(fast_id)]
    assert [row[1] for row in landed] == [trail.alice, trail.bob]
    assert second.inserted == 1  # the late row; a re-read of the fast one is unchanged
    before = audit_snapshot(warehouse_dsn)
    third = run(warehouse_dsn, feed)
    assert (third.inserted, third.updated) == (0, 0)
    assert audit_snapshot(warehouse_dsn) == before
    with psycopg.connect(warehouse_dsn) as conn:
        assert conn.execute(
            "SELECT count(*), count(DISTINCT event_id) FROM audit.access_events"
        ).fetchone() == (2, 2)


def test_a_source_that_is_down_raises_source_unavailable_naming_it(
    system_pg: str, warehouse_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    password = f"pw-{uuid.uuid4().hex}"
    trail = Trail("hstore", system_pg, 5432, "nowhere", "a", "b", "reader_nobody")
    conn_id = "trail_down"
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{conn_id.upper()}", trail.airflow_connection(port=1, password=password)
    )
    entry = {"kind": "postgres_audit_trigger", "name": "down", "conn_id": conn_id}
    feed = parse_sources([entry], "test").feed("postgres_audit_trigger:down")

    with pytest.raises(SourceUnavailable) as raised:
        extract(warehouse_dsn, feed)

    message = str(raised.value)
    assert "'trail_down'" in message and f"{system_pg}:1" in message
    assert "refused" in message.lower() or "failed" in message.lower()
    assert password not in message
    assert tables_containing(warehouse_dsn, password) == []
    with psycopg.connect(warehouse_dsn) as conn:
        status, error = conn.execute(
            "SELECT status, error FROM landing.extract_batches WHERE source_id = %s",
            (feed.source_id,),
        ).fetchone()
    assert status == "failed" and "trail_down" in error


def test_passwords_in_statements_reach_no_table_and_no_log(
    trail: Trail,
    warehouse_dsn: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    tag = uuid.uuid4().hex[:8]
    first, second = f"unique-secret-{tag}", f"x-rotated-{tag}"
    temporary = f"tmp_{tag}"
    # one simple query holding two statements: current_query() records both
    as_user(
        trail,
        "postgres",
        f"CREATE ROLE {temporary} LOGIN PASSWORD '{first}';"
        " INSERT INTO app.accounts (login) VALUES ('svc')",
    )
    as_user(
        trail,
        trail.bob,
        f"ALTER ROLE {trail.bob} PASSWORD '{second}';"
        " UPDATE app.accounts SET note = 'password rotated' WHERE login = 'svc'",
    )
    try:
        with trail.connect() as conn:  # the source itself holds both secrets
            queries = [
                row[0] for row in conn.execute("SELECT client_query FROM audit.logged_actions")
            ]
        assert any(first in query for query in queries) and any(
            second in query for query in queries
        )

        summary = run(warehouse_dsn, source_feed(trail, monkeypatch))

        assert summary.loaded == 2
        for secret in (first, second):
            assert tables_containing(warehouse_dsn, secret) == [], secret
            assert secret not in caplog.text
        statements = [row[9]["statement"] for row in events(warehouse_dsn)]
        assert all(MASK in statement for statement in statements), statements
        assert "INSERT INTO app.accounts" in statements[0]
    finally:
        as_user(trail, "postgres", f"DROP ROLE {temporary}")


def test_targets_are_tables_under_schemas_under_the_database_under_the_server(
    jsonb_trail: Trail, warehouse_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    as_user(jsonb_trail, jsonb_trail.alice, "INSERT INTO app.accounts (login) VALUES ('ann')")
    run(warehouse_dsn, source_feed(jsonb_trail, monkeypatch, database="app-db"))
    with psycopg.connect(warehouse_dsn) as conn:
        chain = conn.execute(
            "WITH RECURSIVE up AS ("
            " SELECT c.id, c.type, c.external_id, c.name, c.parent_id, 0 AS depth"
            " FROM audit.config_items c JOIN audit.access_events e ON e.config_id = c.id"
            " UNION ALL SELECT p.id, p.type, p.external_id, p.name, p.parent_id, up.depth + 1"
            " FROM audit.config_items p JOIN up ON p.id = up.parent_id)"
            " SELECT type, external_id, name, parent_id IS NULL FROM up ORDER BY depth DESC"
        ).fetchall()
    assert chain == [
        ("database_server", SERVER, SERVER, True),
        ("database", f"{SERVER}/app-db", "app-db", False),
        ("schema", f"{SERVER}/app-db/app", "app", False),
        ("table", f"{SERVER}/app-db/app/accounts", "app.accounts", False),
    ]


def test_an_excluded_login_is_counted_in_the_batch(
    jsonb_trail: Trail, warehouse_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    app_activity(jsonb_trail)  # alice: 4 rows; bob: 3 rows, one of them a TRUNCATE
    feed = source_feed(
        jsonb_trail,
        monkeypatch,
        exclude_logins=["bob_*"],
        exclude_statement_classes=["truncate"],
    )
    summary = run(warehouse_dsn, feed)
    assert (summary.extracted, summary.loaded, summary.excluded) == (7, 4, 3)
    with psycopg.connect(warehouse_dsn) as conn:
        excluded, details = conn.execute(
            "SELECT excluded, details FROM audit.batches WHERE batch_id = %s",
            (summary.batch_id,),
        ).fetchone()
    assert excluded == 3
    assert details["excluded_by_rule"] == {"login:bob_*": 3}  # the login rule is tested first
    assert {row[1] for row in events(warehouse_dsn)} == {jsonb_trail.alice}


def test_include_row_data_copies_the_row_values(
    jsonb_trail: Trail, warehouse_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    app_activity(jsonb_trail)
    run(warehouse_dsn, source_feed(jsonb_trail, monkeypatch, include_row_data=True))
    update = next(row[9] for row in events(warehouse_dsn) if row[9].get("changed_fields"))
    # the trail's UPDATE row: the row before it, and the new values of what changed
    assert update["changed_fields"] == {"note": "vip"}
    assert update["row_data"]["login"] == "ann" and update["row_data"]["note"] is None
    assert tables_containing(warehouse_dsn, row_hash("ann")) != []


def test_a_reader_without_select_on_row_data_still_reads_the_trail(
    jsonb_trail: Trail, warehouse_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ``include_row_data`` off the query never names row_data: column grants suffice."""
    with jsonb_trail.connect() as conn:
        names = conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'audit'"
            " AND table_name = 'logged_actions' AND column_name <> 'row_data'"
        ).fetchall()
    columns = sql.SQL(", ").join(sql.Identifier(name) for (name,) in names)
    reader = sql.Identifier(jsonb_trail.reader)
    as_user(
        jsonb_trail,
        "postgres",
        sql.SQL("REVOKE SELECT ON audit.logged_actions FROM {}").format(reader).as_string(),
        sql.SQL("GRANT SELECT ({}) ON audit.logged_actions TO {}")
        .format(columns, reader)
        .as_string(),
    )
    app_activity(jsonb_trail)
    assert run(warehouse_dsn, source_feed(jsonb_trail, monkeypatch)).loaded == 7
    with pytest.raises(SourceUnavailable, match="permission denied"):
        run(warehouse_dsn, source_feed(jsonb_trail, monkeypatch, include_row_data=True))


@pytest.mark.parametrize(
    "table",
    [
        'audit."logged_actions"',
        "audit.logged actions",
        "audit.logged_actions; DROP TABLE audit.logged_actions",
        "audit.logged_actions'--",
        "a.b.c",
    ],
)
def test_a_table_that_is_no_plain_identifier_is_refused_by_the_config(table: str) -> None:
    entry = {"kind": "postgres_audit_trigger", "name": "bad", "conn_id": "db", "table": table}
    with pytest.raises(ConfigError) as raised:
        parse_sources([entry], "sources.yaml")
    message = str(raised.value)
    assert "sources.yaml" in message and "table" in message
    assert "not a plain SQL identifier" in message or "at most one dot" in message
