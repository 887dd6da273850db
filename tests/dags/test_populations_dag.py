"""``access_populations``: its shape as shipped, when a population with its own schedule is due,
and a real ``dag.test()`` run: Entra over HTTPS (the Graph simulator), this session's Postgres
roles, and a MySQL server behind a closed port whose task fails alone."""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from airflow.dag_processing.dagbag import DagBag
from airflow.sdk import CronDataIntervalTimetable
from dag_runs import load_dags, use_config, use_graph, use_warehouse

from access_warehouse.airflow_adapters import assets
from access_warehouse.airflow_adapters.population_dags import DAG_ID, POPULATIONS, due
from access_warehouse.populations.entra_users import EntraUsersPopulation
from devtools.graph_simulator.server import FaultConfig, GraphSimulator, SimClock
from devtools.graph_simulator.tenant import TenantConfig

pytestmark = pytest.mark.dag

ROOT = Path(__file__).parents[2]
NOW = datetime(2026, 11, 11, 0, 45, tzinfo=UTC)
POPULATIONS_YAML = """
schedule: "30 0 * * *"
populations:
  - kind: entra_users
    name: contoso
    conn_id: msgraph_default
    sources: ["entra:contoso:signins"]
  - kind: postgres_logins
    name: app-db
    conn_id: appdb_audit
    sources: [postgres_audit_trigger:appdb]
  - kind: mysql_logins
    name: crm-db
    conn_id: crm_down
    sources: [mysql_general_log:crm_general_log]
  - kind: entra_users
    name: retired
    conn_id: msgraph_default
    enabled: false
"""


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_shipped_dag_snapshots_each_population_in_its_own_task() -> None:
    dag = DagBag(dag_folder=str(ROOT / "dags")).dags[DAG_ID]

    assert isinstance(dag.timetable, CronDataIntervalTimetable)
    assert dag.timetable.expression == "30 0 * * *"
    snapshots = {
        "snapshot_entra_contoso",
        "snapshot_database_app-db",
        "snapshot_database_crm-db",
    }
    assert {task.task_id for task in dag.tasks} == {"migrate_warehouse", *snapshots}
    for task_id in snapshots:
        task = dag.get_task(task_id)
        assert task.upstream_task_ids == {"migrate_warehouse"}  # not on each other
        assert [outlet.uri for outlet in task.outlets] == ["warehouse://audit/populations"]
        assert task.owner == "access-warehouse"
    assert "signInActivity" in dag.get_task("snapshot_entra_contoso").doc_md
    assert "pg_roles" in dag.get_task("snapshot_database_app-db").doc_md
    assert all(task.doc_md for task in dag.tasks)
    assert "deleted = true" in dag.doc_md and "`entra:contoso` (entra_users)" in dag.doc_md
    assert set(dag.tags) == {"populations", "reporting"}
    assert POPULATIONS is assets.POPULATIONS  # the Asset access_reporting schedules on


def test_parsing_the_dag_file_imports_no_database_or_graph_client() -> None:
    probe = (
        "import runpy, sys; runpy.run_path('dags/populations.py'); "
        "print(sorted({m.split('.')[0] for m in sys.modules}))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    for heavy in ("psycopg", "MySQLdb", "kiota_http", "great_expectations"):
        assert f"'{heavy}'" not in loaded, f"{heavy} is imported when the DAG parses"
    assert "'access_warehouse'" in loaded


def test_a_population_with_its_own_schedule_runs_when_it_falls_in_the_interval() -> None:
    weekly = EntraUsersPopulation.model_validate(
        {"kind": "entra_users", "name": "c", "conn_id": "msgraph_x", "schedule": "30 0 * * 1"}
    )
    daily = weekly.model_copy(update={"schedule": None})
    monday = datetime(2026, 11, 9, 0, 30, tzinfo=UTC)  # a Monday
    day = timedelta(days=1)

    assert due(weekly, monday, monday + day)  # the interval starts on the fire time
    assert not due(weekly, monday + day, monday + 2 * day)
    assert not due(weekly, monday - day, monday)  # the end is not in the interval
    assert due(weekly, monday + day, monday + 2 * day, manual=True)
    assert due(weekly, None, None)
    assert due(daily, monday + day, monday + 2 * day)


@pytest.fixture
def graph(tmp_path: Path) -> Iterator[GraphSimulator]:
    with GraphSimulator(
        TenantConfig(tenant_id="contoso", signins_per_day=300),
        FaultConfig(throttle=False),
        cert_dir=tmp_path / "cert",
        clock=SimClock(NOW, frozen=True),
    ) as simulator:
        yield simulator


@pytest.fixture
def dag(graph, warehouse_dsn, pg_server, airflow_db, tmp_path, monkeypatch):
    use_config(tmp_path, monkeypatch, (ROOT / "include/config/sources.yaml").read_text())
    (tmp_path / "config" / "populations.yaml").write_text(POPULATIONS_YAML)
    # the reporting DAG, parsed from the same folder, reads its own file
    (tmp_path / "config" / "reporting.yaml").write_text(
        (ROOT / "include/config/reporting.yaml").read_text()
    )
    use_warehouse(monkeypatch, pg_server, warehouse_dsn)
    use_graph(monkeypatch, graph, "contoso")
    monkeypatch.setenv(
        "AIRFLOW_CONN_APPDB_AUDIT",
        json.dumps({"conn_type": "postgres", "host": pg_server, "login": "postgres"}),
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_CRM_DOWN",
        json.dumps(
            {"conn_type": "mysql", "host": "127.0.0.1", "port": closed_port(), "login": "nobody"}
        ),
    )
    return load_dags()[DAG_ID]


def _population_events(airflow_db: Path) -> list[dict]:
    with sqlite3.connect(airflow_db / "airflow.db") as db:
        found = db.execute(
            "SELECT e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id "
            "WHERE a.uri = ? ORDER BY e.id",
            (POPULATIONS.uri,),
        ).fetchall()
    return [json.loads(extra) if isinstance(extra, str) else extra for (extra,) in found]


def test_a_run_snapshots_every_population_and_a_server_down_fails_alone(
    dag, graph: GraphSimulator, warehouse_dsn: str, airflow_db: Path
) -> None:
    assert "snapshot_entra_retired" not in dag.task_ids  # disabled: no task
    before = len(_population_events(airflow_db))

    result = dag.test(logical_date=NOW.replace(minute=30))

    states = {
        ti.task_id: str(getattr(ti.state, "value", ti.state)) for ti in result.get_task_instances()
    }
    assert states == {
        "migrate_warehouse": "success",
        "snapshot_entra_contoso": "success",
        "snapshot_database_app-db": "success",
        "snapshot_database_crm-db": "failed",
    }
    assert str(getattr(result.state, "value", result.state)) == "failed"
    with psycopg.connect(warehouse_dsn) as conn:
        recorded = conn.execute(
            "SELECT population_id, status, accounts, dag_id, run_id, error"
            " FROM audit.population_snapshots ORDER BY population_id"
        ).fetchall()
        people = conn.execute(
            "SELECT count(*) FILTER (WHERE user_type = 'guest'), count(*)"
            " FROM audit.population_accounts WHERE population_id = 'entra:contoso'"
        ).fetchone()
    by_id = {row[0]: row for row in recorded}
    assert set(by_id) == {"database:app-db", "database:crm-db", "entra:contoso"}
    directory = graph.tenant("contoso").users(NOW, select=["id"])
    assert by_id["entra:contoso"][1:3] == ("complete", len(directory))
    assert people == (
        sum(
            1
            for u in graph.tenant("contoso").users(NOW, select=["userType"])
            if u["userType"] == "Guest"
        ),
        len(directory),
    )
    assert by_id["database:app-db"][1] == "complete" and by_id["database:app-db"][2] >= 1
    failed = by_id["database:crm-db"]
    assert failed[1] == "failed" and "SourceUnavailable" in failed[5] and "crm_down" in failed[5]
    assert {row[3] for row in recorded} == {DAG_ID}
    assert len({row[4] for row in recorded}) == 1  # one run id
    # the tasks that succeeded announced their snapshot on the Asset access_reporting runs on
    events = _population_events(airflow_db)[before:]
    assert {event["population_id"] for event in events} == {"entra:contoso", "database:app-db"}
