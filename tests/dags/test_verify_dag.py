"""``warehouse_verify`` in real DAG runs (``dag.test()``): green on a warehouse as the loads left
it, red (the verification task failed, not retried) once a loaded row is edited, each run
recorded in ``etl.verifier_runs`` with the DAG's ids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from airflow.sdk import CronDataIntervalTimetable
from dag_runs import load_dags, use_config, use_warehouse

from access_warehouse.airflow_adapters.verify_dag import DAG_ID, SCHEDULE, build_verify_dag
from access_warehouse.config import parse_sources
from access_warehouse.landing import ExtractWindow, LandingBatch
from access_warehouse.load import load_batch

DAY = datetime(2026, 11, 10, tzinfo=UTC)
SOURCES = """
sources:
  - kind: entra
    name: contoso
    tenant_id: contoso
    conn_id: msgraph_default
    directory_audits:
      enabled: false
"""


@pytest.fixture
def dags(warehouse_dsn, pg_server, airflow_db, tmp_path: Path, monkeypatch) -> dict:
    use_config(tmp_path, monkeypatch, SOURCES)
    use_warehouse(monkeypatch, pg_server, warehouse_dsn)
    return load_dags()


def _load_signins(dsn: str) -> str:
    feed = parse_sources(
        [
            {
                "kind": "entra",
                "name": "contoso",
                "tenant_id": "contoso",
                "conn_id": "msgraph_default",
            }
        ],
        "t",
    ).feed("entra:contoso:signins")
    batch = LandingBatch(
        dsn,
        source_id=feed.source_id,
        source_kind=feed.record_kind,
        window=ExtractWindow(DAY, DAY + timedelta(days=1)),
    )
    batch.write_page(
        [
            {
                "id": f"s{n}",
                "createdDateTime": f"2026-11-10T0{n}:00:00Z",
                "userId": "00000000-0000-4000-8000-00000000000a",
                "userPrincipalName": "alice@contoso.com",
                "appId": "11111111-0000-4000-8000-000000000001",
                "appDisplayName": "Portal",
                "status": {"errorCode": 0},
            }
            for n in range(5)
        ]
    )
    batch.finish("extracted")
    batch.close()
    return load_batch(dsn, batch.batch_id, feed).batch_id


def _states(result) -> dict[str, str]:
    return {
        ti.task_id: str(getattr(ti.state, "value", ti.state)) for ti in result.get_task_instances()
    }


def test_the_dag_is_daily_documented_and_never_retries_the_verification() -> None:
    dag = build_verify_dag()
    assert dag.dag_id == DAG_ID == "warehouse_verify"
    assert isinstance(dag.timetable, CronDataIntervalTimetable)
    assert dag.timetable.expression == SCHEDULE == "0 6 * * *"
    assert {"integrity", "auditor"} <= set(dag.tags) and not dag.catchup
    assert "etl.verifier_runs" in dag.doc_md and "fails the run" in dag.doc_md
    verify, migrate = dag.get_task("verify"), dag.get_task("migrate_warehouse")
    assert verify.retries == 0 and migrate.retries == 3
    assert verify.owner == "access-warehouse" and verify.doc_md
    assert verify.upstream_task_ids == {"migrate_warehouse"}


def test_a_run_passes_untouched_and_fails_naming_an_edited_batch(
    dags: dict, warehouse_dsn: str
) -> None:
    batch_id = _load_signins(warehouse_dsn)
    dag = dags[DAG_ID]

    green = dag.test(logical_date=DAY + timedelta(days=1))
    assert _states(green) == {"migrate_warehouse": "success", "verify": "success"}
    (verified,) = [ti for ti in green.get_task_instances() if ti.task_id == "verify"]
    xcom = verified.xcom_pull(task_ids="verify")
    assert xcom["ok"] is True and xcom["rows_checked"] == 5

    with psycopg.connect(warehouse_dsn, autocommit=True) as conn:
        conn.execute("UPDATE audit.access_events SET outcome = 'failure' WHERE event_id = 's3'")
    red = dag.test(logical_date=DAY + timedelta(days=2))
    assert _states(red) == {"migrate_warehouse": "success", "verify": "failed"}
    (failed,) = [ti for ti in red.get_task_instances() if ti.task_id == "verify"]
    assert failed.try_number == 1  # a mismatch is not retried

    with psycopg.connect(warehouse_dsn) as conn:
        runs = conn.execute(
            "SELECT dag_id, run_id, status, findings->0->>'kind', findings->0->>'batch_id'"
            " FROM etl.verifier_runs ORDER BY finished_at"
        ).fetchall()
    assert runs == [
        (DAG_ID, green.run_id, "ok", None, None),
        (DAG_ID, red.run_id, "mismatch", "changed", batch_id),
    ]
