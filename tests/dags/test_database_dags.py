"""Database audit trails as DAGs: two ``postgres_audit_trigger`` sources in one config, one a
real audited database on the embedded server, one behind a closed port; real ``dag.test()``
runs into a real warehouse. The database that is down fails its own DAG only, and a password
in a statement reaches no table and no log."""

from __future__ import annotations

import json
import secrets
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from dag_runs import load_dags, run, use_config, use_warehouse
from psycopg import sql
from warehouse_asserts import audit_snapshot, new_database, tables_containing

from access_warehouse.redaction import MASK
from devtools.postgres_audit_trigger import install

pytestmark = pytest.mark.dag

DAY = datetime(2026, 11, 10, tzinfo=UTC)
SOURCE_ID = "postgres_audit_trigger:appdb"
APP_CONN = "appdb_audit"
DOWN_CONN = "downdb_audit"
SECRET = f"crm-secret-{secrets.token_hex(8)}"


@dataclass
class AppDatabase:
    """A database with the audit trigger (jsonb payload) on ``app.accounts`` and two LOGIN roles
    that may write it."""

    dsn: str
    name: str
    host: str
    alice: str
    bob: str

    def as_login(self, login: str, statement: str) -> None:
        with psycopg.connect(f"host={self.host} dbname={self.name} user={login}") as conn:
            conn.execute(statement)  # type: ignore[arg-type]  # the test's fixed statements

    def trail(self) -> list[tuple]:
        with psycopg.connect(self.dsn) as conn:
            return conn.execute(
                "SELECT event_id, session_user_name, action, client_query"
                " FROM audit.logged_actions ORDER BY event_id"
            ).fetchall()


@pytest.fixture
def appdb(pg_server: str) -> Iterator[AppDatabase]:
    suffix = uuid.uuid4().hex[:8]
    alice, bob = f"alice_{suffix}", f"bob_{suffix}"
    admin = f"host={pg_server} dbname=postgres user=postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        for login in (alice, bob):
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(login)))
    try:
        with new_database(pg_server) as dsn:
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(
                    "CREATE SCHEMA app; CREATE TABLE app.accounts"
                    " (id serial PRIMARY KEY, name text NOT NULL, dsn text)"
                )
                for login in (alice, bob):
                    conn.execute(
                        sql.SQL(
                            "GRANT USAGE ON SCHEMA app TO {0}; "
                            "GRANT SELECT, INSERT, UPDATE, DELETE ON app.accounts TO {0}; "
                            "GRANT USAGE ON ALL SEQUENCES IN SCHEMA app TO {0}"
                        ).format(sql.Identifier(login))
                    )
            install(dsn, payload="jsonb", tables=["app.accounts"])
            name = dsn.split("dbname=")[1].split()[0]
            yield AppDatabase(dsn=dsn, name=name, host=pg_server, alice=alice, bob=bob)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            for login in (alice, bob):
                conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(login)))


def closed_port() -> int:
    """A port on 127.0.0.1 that nobody listens on (bound once by the OS, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def sources_yaml() -> str:
    return f"""
sources:
  - kind: postgres_audit_trigger
    name: appdb
    conn_id: {APP_CONN}
    server: app-db
    database: appdb
    identity:
      template: "{{login}}@example.com"
    exclude_logins: [postgres]
  - kind: postgres_audit_trigger
    name: downdb
    conn_id: {DOWN_CONN}
    server: down-db
"""


@pytest.fixture
def configured(
    appdb: AppDatabase,
    warehouse_dsn: str,
    pg_server: str,
    airflow_db: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> str:
    """Both sources configured, their connections and the warehouse's set; the warehouse dsn."""
    use_warehouse(monkeypatch, pg_server, warehouse_dsn)
    use_config(tmp_path, monkeypatch, sources_yaml())
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{APP_CONN.upper()}",
        json.dumps(
            {"conn_type": "postgres", "host": appdb.host, "schema": appdb.name, "login": "postgres"}
        ),
    )
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{DOWN_CONN.upper()}",
        json.dumps(
            {
                "conn_type": "postgres",
                "host": "127.0.0.1",
                "port": closed_port(),
                "schema": "downdb",
                "login": "reader",
                # libpq would wait this long for a server that drops packets; a closed port
                # refuses at once
                "extra": json.dumps({"connect_timeout": 5}),
            }
        ),
    )
    return warehouse_dsn


def batches(dsn: str) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT extracted, loaded, quarantined, excluded FROM audit.batches"
            " WHERE source_id = %s ORDER BY sequence_no",
            (SOURCE_ID,),
        ).fetchall()


def events(dsn: str) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT event_id, action, actor_name, actor_principal_name, actor_external_id,"
            " target_external_id, outcome, properties->>'statement'"
            " FROM audit.access_events WHERE source_id = %s ORDER BY event_id::bigint",
            (SOURCE_ID,),
        ).fetchall()


def bookmark(dsn: str) -> dict | None:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT position FROM audit.bookmarks WHERE source_id = %s", (SOURCE_ID,)
        ).fetchone()
    return row[0] if row else None


def test_each_database_source_gets_its_dag(configured: str) -> None:
    dags = load_dags()
    assert {"db_audit_appdb", "db_audit_downdb"} <= set(dags)
    for name, server in (("appdb", "app-db"), ("downdb", "down-db")):
        dag = dags[f"db_audit_{name}"]
        assert f"Database **{server}**" in dag.doc_md
        assert "kind `postgres_audit_trigger`" in dag.doc_md
        assert "forward-only bookmark on (`event_id`" in dag.doc_md
        assert {"database", "postgres_audit_trigger", f"server:{server}"} <= set(dag.tags)
        assert set(dag.params) == {"reprocess_quarantine"}  # a bookmark: no window to choose
    assert f"connection `{APP_CONN}`" in dags["db_audit_appdb"].doc_md
    assert f"connection `{DOWN_CONN}`" in dags["db_audit_downdb"].doc_md


def test_trail_loads_once_down_database_fails_alone_and_no_secret_lands(
    configured: str,
    appdb: AppDatabase,
    airflow_db: Path,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("DEBUG")
    warehouse = configured
    alice, bob = appdb.alice, appdb.bob
    appdb.as_login(
        alice,
        "INSERT INTO app.accounts (name, dsn) VALUES ('crm', "
        f"'postgresql://crm:{SECRET}@crm-db:5432/crm'), ('erp', NULL)",
    )
    appdb.as_login(bob, "UPDATE app.accounts SET name = 'erp-2' WHERE name = 'erp'")
    appdb.as_login(bob, "DELETE FROM app.accounts WHERE name = 'erp-2'")
    appdb.as_login("postgres", "INSERT INTO app.accounts (name) VALUES ('setup')")  # excluded
    trail = appdb.trail()
    assert [(login, action) for _, login, action, _ in trail] == [
        (alice, "I"),
        (alice, "I"),
        (bob, "U"),
        (bob, "D"),
        ("postgres", "I"),
    ]
    # the secret is in the source's trail: the checks below could find it
    assert sum(SECRET in query for *_, query in trail) == 2

    dags = load_dags()
    app_dag, down_dag = dags["db_audit_appdb"], dags["db_audit_downdb"]

    # the first run loads every trail row once: four events, the setup login's row excluded
    assert run(app_dag, DAY) == "success"
    assert batches(warehouse) == [(5, 4, 0, 1)]
    loaded = events(warehouse)
    assert [row[0] for row in loaded] == [str(event_id) for event_id, *_ in trail[:4]]
    assert [(row[1], row[2], row[3]) for row in loaded] == [
        ("INSERT", alice, f"{alice}@example.com"),
        ("INSERT", alice, f"{alice}@example.com"),
        ("UPDATE", bob, f"{bob}@example.com"),
        ("DELETE", bob, f"{bob}@example.com"),
    ]
    assert {row[4] for row in loaded} == {f"app-db/{alice}", f"app-db/{bob}"}
    assert {row[5] for row in loaded} == {"app-db/appdb/app/accounts"}
    assert {row[6] for row in loaded} == {"success"}
    statement = loaded[0][7]
    assert MASK in statement and SECRET not in statement and "crm-db:5432" in statement
    after_first = audit_snapshot(warehouse)
    position = bookmark(warehouse)
    assert position is not None and position["cursor"] == trail[-1][0]

    # again: nothing new, no event changed
    assert run(app_dag, DAY + timedelta(days=1)) == "success"
    assert batches(warehouse)[-1] == (0, 0, 0, 0)  # no transaction left open: nothing re-read
    assert audit_snapshot(warehouse) == after_first
    assert bookmark(warehouse)["cursor"] == position["cursor"]

    # the database behind a closed port: its DAG fails, naming the error and the connection
    before = capfd.readouterr()  # only what the failing run writes is searched for its error
    logs_before = before.out + before.err + caplog.text
    caplog.clear()
    assert run(down_dag, DAY) == "failed"
    down_output = capfd.readouterr()
    down_text = down_output.out + down_output.err + caplog.text
    failure = [
        line for line in down_text.splitlines() if "SourceUnavailable" in line and DOWN_CONN in line
    ]
    assert failure, f"no log line names SourceUnavailable and {DOWN_CONN!r}:\n{down_text[-4000:]}"
    # ... and appdb's data is untouched
    assert audit_snapshot(warehouse) == after_first
    assert bookmark(warehouse)["cursor"] == position["cursor"]
    assert len(batches(warehouse)) == 2

    # appdb still runs, and reads just what is new
    appdb.as_login(alice, "UPDATE app.accounts SET name = 'crm-2' WHERE name = 'crm'")
    assert run(app_dag, DAY + timedelta(days=2)) == "success"
    assert batches(warehouse)[-1] == (1, 1, 0, 0)
    latest = events(warehouse)
    assert latest[:4] == loaded
    assert [(row[1], row[2]) for row in latest[4:]] == [("UPDATE", alice)]

    # the secret reached no warehouse table (landing and quarantine included) and no log
    assert tables_containing(warehouse, SECRET) == []
    assert tables_containing(warehouse, MASK) != []  # the statement did land, masked
    output = capfd.readouterr()
    logs = logs_before + down_text + output.out + output.err + caplog.text
    assert "db_audit_appdb" in logs or SOURCE_ID in logs, "the task logs are what is searched"
    assert SECRET not in logs
    # nor Airflow's own files (its metadata DB with XCom, any task log files)
    airflow_files = [path for path in airflow_db.rglob("*") if path.is_file()]
    assert any(path.suffix == ".db" for path in airflow_files)
    for path in airflow_files:
        assert SECRET.encode() not in path.read_bytes(), f"the secret in {path}"
