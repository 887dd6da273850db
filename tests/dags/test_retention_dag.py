"""``access_retention``: its shape as shipped, and real ``dag.test()`` runs, a dry run first, on a
warehouse with a month of events, a landing batch and report rows past their policies."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from airflow.dag_processing.dagbag import DagBag
from airflow.sdk import CronDataIntervalTimetable
from dag_runs import load_dags, use_config, use_warehouse

from access_warehouse.airflow_adapters.retention_dag import DAG_ID

pytestmark = pytest.mark.dag

ROOT = Path(__file__).parents[2]
AS_OF = "2026-12-20T06:00:00Z"
SOURCES = """
sources:
  - kind: entra
    name: contoso
    tenant_id: contoso
    conn_id: msgraph_default
"""
SIGNINS = "entra:contoso:signins"

#: January 2025 (13 months before AS_OF is 2025-11-20): an event, its landing batch, a report
#: row of 2019; and an event of November 2026, which stays.
SETUP = [
    "INSERT INTO audit.sources (source_id, source_uuid, kind) "
    "VALUES (%(source)s, gen_random_uuid(), 'entra_signins')",
    "SELECT audit.attach_access_event_partition(m) FROM unnest(ARRAY['2025-01-01', "
    "'2026-11-01']::date[]) m",
    "INSERT INTO audit.access_events (source_id, event_id, occurred_at, category, action, "
    "outcome, actor_type, external_user_id, batch_id, ingested_at, content_hash) "
    "SELECT %(source)s, 'e' || n, t, 'authentication', 'signIn', 'success', 'user', "
    "gen_random_uuid(), gen_random_uuid(), t, 'h' || n "
    "FROM (VALUES (1, '2025-01-15'::timestamptz), (2, '2025-01-16'), (3, '2026-11-15')) v (n, t)",
    "INSERT INTO landing.extract_batches (batch_id, source_id, source_kind, window_start, "
    "window_end, status, started_at) VALUES (gen_random_uuid(), %(source)s, 'entra_signins', "
    "'2025-01-15', '2025-01-16', 'loaded', '2025-01-16 01:00')",
    "INSERT INTO reporting.daily_access (day, source_id, events, evaluable, status, build_id, "
    "built_at) VALUES ('2019-06-01', %(source)s, 1, true, 'complete', gen_random_uuid(), now())",
]


def test_the_shipped_dag() -> None:
    dag = DagBag(dag_folder=str(ROOT / "dags")).dags[DAG_ID]
    assert isinstance(dag.timetable, CronDataIntervalTimetable)
    assert dag.timetable.expression == "30 3 * * *"
    assert {task.task_id for task in dag.tasks} == {"migrate_warehouse", "enforce_retention"}
    assert dag.get_task("enforce_retention").upstream_task_ids == {"migrate_warehouse"}
    assert all(task.doc_md and task.owner == "access-warehouse" for task in dag.tasks)
    assert set(dag.tags) == {"retention", "compliance"}
    assert dag.params["dry_run"] is False and dag.params["as_of"] is None
    assert dag.max_active_runs == 1 and not dag.catchup
    assert "whole monthly partitions" in dag.doc_md and "etl.retention_runs" in dag.doc_md
    # the policies in force, from the config the DAG parsed
    assert "* access_events: 13 months" in dag.doc_md and "* landing: 30 days" in dag.doc_md


def test_parsing_the_dag_file_imports_no_database_client() -> None:
    probe = (
        "import runpy, sys; runpy.run_path('dags/retention.py'); "
        "print(sorted({m.split('.')[0] for m in sys.modules}))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    for heavy in ("psycopg", "great_expectations", "pandas"):
        assert f"'{heavy}'" not in loaded, f"{heavy} is imported when the DAG parses"


@pytest.fixture
def dags(warehouse_dsn, pg_server, airflow_db, tmp_path, monkeypatch) -> dict:
    use_config(tmp_path, monkeypatch, SOURCES)
    use_warehouse(monkeypatch, pg_server, warehouse_dsn)
    with psycopg.connect(warehouse_dsn) as conn:
        for statement in SETUP:
            conn.execute(statement, {"source": SIGNINS})
    return load_dags()


def _run(dag: Any, conf: dict[str, Any], **kwargs: Any) -> tuple[str, dict[str, Any]]:
    result = dag.test(run_conf=conf, **kwargs)
    (enforce,) = [ti for ti in result.get_task_instances() if ti.task_id == "enforce_retention"]
    return str(getattr(result.state, "value", result.state)), enforce.xcom_pull(
        task_ids="enforce_retention"
    )


def test_a_dry_run_then_a_run(dags: dict, warehouse_dsn: str) -> None:
    def state() -> tuple:
        with psycopg.connect(warehouse_dsn) as conn:
            return conn.execute(
                "SELECT (SELECT count(*) FROM audit.access_events), "
                "(SELECT count(*) FROM landing.extract_batches), "
                "(SELECT count(*) FROM reporting.daily_access), "
                "to_regclass('audit.access_events_y2025m01') IS NOT NULL"
            ).fetchone()

    dag = dags[DAG_ID]
    status, dry = _run(dag, {"dry_run": True, "as_of": AS_OF})
    assert status == "success"
    assert dry["dry_run"] is True and dry["partitions_dropped"] == ["access_events_y2025m01"]
    assert dry["removed"] == {
        "audit.access_events": 2, "landing.extract_batches": 1, "reporting.daily_access": 1
    }  # fmt: skip
    assert state() == (3, 1, 1, True)  # nothing removed

    # (dag.test() keeps the first run's conf in the DAG's params: say dry_run again)
    status, done = _run(dag, {"dry_run": False, "as_of": AS_OF})
    assert status == "success"
    assert done["removed"] == dry["removed"] and done["dry_run"] is False
    assert (
        "access_events_y2025m01 [2025-01-01 .. 2025-02-01): drop (2 rows of 1 sources)"
        in (done["lines"])
    )
    assert state() == (1, 0, 0, False)
    with psycopg.connect(warehouse_dsn) as conn:
        recorded = conn.execute(
            "SELECT dry_run, dag_id, count(*), sum(rows) FROM etl.retention_runs "
            "GROUP BY 1, 2 ORDER BY 1"
        ).fetchall()
        status_rows = conn.execute(
            "SELECT policy, next_purge FROM reporting.retention_status "
            "WHERE table_name = 'audit.access_events' AND source_id = %s",
            (SIGNINS,),
        ).fetchall()
        chained = conn.execute(
            "SELECT count(*) FROM audit.manifests WHERE kind = 'purge' AND source_id = %s",
            (SIGNINS,),
        ).fetchone()[0]
    assert recorded == [(False, DAG_ID, 3, 4), (True, DAG_ID, 3, 4)]
    assert [(policy, str(next_purge)) for policy, next_purge in status_rows] == [
        ("13 months", "2028-01-01")  # November 2026 falls due 13 months after its end
    ]
    assert chained == 1

    # without as_of, a run speaks for the end of its data interval
    status, scheduled = _run(
        dag,
        {"dry_run": False, "as_of": None},
        logical_date=datetime(2026, 12, 21, 3, 30, tzinfo=UTC),
    )
    assert status == "success"
    assert scheduled["as_of"] == "2026-12-21T03:30:00+00:00" and scheduled["removed"] == {}
