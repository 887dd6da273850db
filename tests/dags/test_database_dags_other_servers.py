"""MySQL-family, SQL Server and ClickHouse audit trails as DAGs: one config with a
``mysql_general_log`` source on this machine's real MariaDB and one source of every other
database kind behind a closed port; real ``dag.test()`` runs into a real warehouse. Each server
that is down fails its own DAG with a message naming its connection; the live one loads every
event of its window once, a rerun changes nothing, and no password lands anywhere."""

from __future__ import annotations

import json
import secrets
import socket
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from conftest import MariaDBServer
from dag_runs import load_dags, run, use_config, use_warehouse
from warehouse_asserts import audit_snapshot, tables_containing

pytestmark = pytest.mark.dag

LIVE_CONN = "crm_general_log"
DOWN = {
    "mariadb_server_audit": "crm_audit_down",
    "mssql_audit": "erp_audit_down",
    "clickhouse_query_log": "events_ch_down",
}
SECRET = f"Dag-S3cret-{secrets.token_hex(6)}"


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def sources_yaml(tag: str) -> str:
    return f"""
sources:
  - kind: mysql_general_log
    name: crm_{tag}
    conn_id: {LIVE_CONN}
    server: crm-db
    schedule: "0 0 * * *"  # daily: one run's window holds the whole workload
    identity:
      template: "{{login}}@example.com"
    exclude_logins: [root, reader_{tag}]
  - kind: mariadb_server_audit
    name: crm_audit_{tag}
    conn_id: {DOWN["mariadb_server_audit"]}
    server: crm-db
    table: audit.server_audit
  - kind: mssql_audit
    name: erp_{tag}
    conn_id: {DOWN["mssql_audit"]}
    server: erp-db
    audit_file_pattern: /var/opt/mssql/audit/*.sqlaudit
  - kind: clickhouse_query_log
    name: events_{tag}
    conn_id: {DOWN["clickhouse_query_log"]}
    server: events-ch
"""


@pytest.fixture
def general_log(mariadb_server: MariaDBServer) -> Iterator[tuple[MariaDBServer, str]]:
    """The general log on, to its table, for the test; a reading login with SELECT on it and
    two application logins; the settings and logins as found after."""
    tag = uuid.uuid4().hex[:8]
    with mariadb_server.connect() as conn:
        cursor = conn.cursor()
        cursor.execute("SELECT @@global.general_log, @@global.log_output")
        before = cursor.fetchone()
        cursor.execute("SET GLOBAL log_output = 'TABLE'")
        cursor.execute("SET GLOBAL general_log = ON")
        cursor.execute(f"CREATE DATABASE crm_{tag}")
        for login in (f"alice_{tag}", f"bob_{tag}", f"reader_{tag}"):
            cursor.execute("CREATE USER %s@'%%' IDENTIFIED BY 'pw-dag-test'", (login,))
        for login in (f"alice_{tag}", f"bob_{tag}"):
            cursor.execute(f"GRANT ALL ON crm_{tag}.* TO %s@'%%'", (login,))
        cursor.execute("GRANT SELECT ON mysql.general_log TO %s@'%%'", (f"reader_{tag}",))
        try:
            yield mariadb_server, tag
        finally:
            cursor.execute("SET GLOBAL general_log = %s", (before[0],))
            cursor.execute("SET GLOBAL log_output = %s", (before[1],))
            if not before[0]:  # the log was off: take the test's statements (passwords) away
                cursor.execute("TRUNCATE TABLE mysql.general_log")
            cursor.execute(f"DROP DATABASE IF EXISTS crm_{tag}")
            for login in (f"alice_{tag}", f"bob_{tag}", f"reader_{tag}", f"svc_{tag}"):
                cursor.execute("DROP USER IF EXISTS %s@'%%'", (login,))


def live_events(dsn: str, source_id: str) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT actor_name, actor_principal_name, category, action, outcome"
            " FROM audit.access_events WHERE source_id = %s ORDER BY occurred_at, event_id",
            (source_id,),
        ).fetchall()


def test_down_servers_fail_their_own_dags_and_the_live_one_loads_once(
    general_log: tuple[MariaDBServer, str],
    warehouse_dsn: str,
    pg_server: str,
    airflow_db: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("INFO")
    mariadb, tag = general_log
    use_warehouse(monkeypatch, pg_server, warehouse_dsn)
    use_config(tmp_path, monkeypatch, sources_yaml(tag))
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{LIVE_CONN.upper()}",
        json.dumps(
            {
                "conn_type": "mysql",
                "host": mariadb.host,
                "port": mariadb.port,
                "schema": "mysql",
                "login": f"reader_{tag}",
                "password": "pw-dag-test",
            }
        ),
    )
    for kind, conn_id in DOWN.items():
        conn_type = {"mssql_audit": "mssql", "clickhouse_query_log": "generic"}.get(kind, "mysql")
        monkeypatch.setenv(
            f"AIRFLOW_CONN_{conn_id.upper()}",
            json.dumps(
                {
                    "conn_type": conn_type,
                    "host": "127.0.0.1",
                    "port": closed_port(),
                    "login": "reader",
                    "password": "not-used",
                }
            ),
        )

    # the workload: two logins, a failed password, a statement with commas and quotes, and an
    # administrator's CREATE USER with a password
    import MySQLdb

    with pytest.raises(MySQLdb.OperationalError):
        mariadb.connect(user=f"alice_{tag}", password="wrong").close()
    for login in (f"alice_{tag}", f"bob_{tag}"):
        with mariadb.connect(user=login, password="pw-dag-test", database=f"crm_{tag}") as conn:
            cursor = conn.cursor()
            cursor.execute("CREATE TABLE IF NOT EXISTS notes (id INT, body TEXT)")
            cursor.execute("INSERT INTO notes VALUES (1, 'net 30, \"gold\", ''vip''')")
    with mariadb.connect() as conn:
        cursor = conn.cursor()
        cursor.execute(f"CREATE USER 'svc_{tag}'@'%' IDENTIFIED BY '{SECRET}'")
        # logging stops with the workload: what other clients do later is not in the window
        cursor.execute("SET GLOBAL general_log = OFF")

    dags = load_dags()
    names = {
        "mysql_general_log": f"db_audit_crm_{tag}",
        "mariadb_server_audit": f"db_audit_crm_audit_{tag}",
        "mssql_audit": f"db_audit_erp_{tag}",
        "clickhouse_query_log": f"db_audit_events_{tag}",
    }
    assert set(names.values()) <= set(dags)
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if datetime.now(UTC) - today < timedelta(minutes=2):
        today -= timedelta(days=1)  # the workload may straddle midnight: one window holds it

    # each server that is down: its DAG fails, the log names SourceUnavailable and its connection
    for kind, conn_id in DOWN.items():
        capfd.readouterr()
        caplog.clear()
        assert run(dags[names[kind]], today) == "failed", kind
        output = capfd.readouterr()
        text = output.out + output.err + caplog.text
        failure = [
            line for line in text.splitlines() if "SourceUnavailable" in line and conn_id in line
        ]
        assert failure, f"{kind}: no log line names SourceUnavailable and {conn_id!r}"
        assert "not-used" not in text  # the connection's password is never printed

    # the live server's DAG is not affected: every event of the two logins lands once
    source_id = f"mysql_general_log:crm_{tag}"
    assert run(dags[names["mysql_general_log"]], today) == "success"
    first = live_events(warehouse_dsn, source_id)
    people = {f"alice_{tag}", f"bob_{tag}"}
    ours = [row for row in first if row[0] in people]
    failures = [row for row in ours if row[4] == "failure"]
    assert len(failures) == 1 and failures[0][0] == f"alice_{tag}"
    assert failures[0][2] == "authentication"
    assert {row[1] for row in ours} == {f"{login}@example.com" for login in people}
    inserts = [row for row in ours if row[3] == "INSERT"]
    assert len(inserts) == 2  # one per login: once each, not twice
    with psycopg.connect(warehouse_dsn) as conn:
        counts = conn.execute(
            "SELECT extracted, loaded, quarantined, excluded FROM audit.batches"
            " WHERE source_id = %s",
            (source_id,),
        ).fetchall()
        down_batches = conn.execute(
            "SELECT count(*) FROM audit.batches WHERE source_id <> %s", (source_id,)
        ).fetchone()[0]
    assert len(counts) == 1
    extracted, loaded, quarantined, excluded = counts[0]
    assert extracted == loaded + quarantined + excluded and excluded > 0  # root's statements
    assert down_batches == 0  # nothing loaded for the servers that are down

    # a rerun of the same interval changes nothing
    snapshot = audit_snapshot(warehouse_dsn)
    assert run(dags[names["mysql_general_log"]], today) == "success"
    assert audit_snapshot(warehouse_dsn) == snapshot
    assert live_events(warehouse_dsn, source_id) == first

    # the administrator's password reached no warehouse table, landing included
    assert tables_containing(warehouse_dsn, SECRET) == []
