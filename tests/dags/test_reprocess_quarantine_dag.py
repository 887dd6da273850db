"""The ``reprocess_quarantine`` param of a loading DAG: real ``dag.test()`` runs of the toy kind
into a real warehouse, the fix deployed between them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import toy_kind
from dag_runs import load_dags, use_config, use_warehouse
from toy_kind import toy_line
from warehouse_asserts import event_ids

DAY = datetime(2026, 11, 10, tzinfo=UTC)


def open_quarantine(dsn: str) -> list[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT record_key FROM dq.quarantine WHERE released_at IS NULL ORDER BY 1"
        ).fetchall()
    return [row[0] for row in rows]


def run(dag: Any, interval_start: datetime, **conf: Any) -> Any:
    return dag.test(logical_date=interval_start + timedelta(days=1), run_conf=conf or None)


def task_state(dag_run: Any, task_id: str) -> str:
    (ti,) = [ti for ti in dag_run.get_task_instances() if ti.task_id == task_id]
    return str(getattr(ti.state, "value", ti.state))


def test_a_run_with_reprocess_quarantine_releases_the_fixed_records(
    warehouse_dsn: str,
    pg_server: str,
    airflow_db: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_warehouse(monkeypatch, pg_server, warehouse_dsn)
    path = tmp_path / "toy.jsonl"
    epoch = json.loads(toy_line(1, at=DAY + timedelta(hours=1)))
    epoch["at"] = int((DAY + timedelta(hours=1)).timestamp())  # the toy normaliser rejects it
    bad_3 = toy_line(3, at=DAY + timedelta(days=1, hours=3)).replace("toy-3", "bad-3")
    bad_4 = toy_line(4, at=DAY + timedelta(days=2, hours=4)).replace("toy-4", "bad-4")
    path.write_text("\n".join([toy_line(0, at=DAY), json.dumps(epoch), bad_3, bad_4]) + "\n")
    use_config(tmp_path, monkeypatch, f"sources:\n  - {{kind: toy, name: demo, path: {path}}}\n")
    dag = load_dags()["toy_demo"]
    assert "reprocess_quarantine" in dag.doc_md

    assert str(run(dag, DAY).state) in ("success", "DagRunState.SUCCESS")
    assert open_quarantine(warehouse_dsn) == ["toy-1"]

    # the fix is deployed: epoch seconds are read as a time
    normalise = toy_kind.normalise_toy

    def fixed(record: dict, source_id: str) -> dict:
        if type(record.get("at")) is int:
            record = {**record, "at": datetime.fromtimestamp(record["at"], UTC).isoformat()}
        return normalise(record, source_id)

    monkeypatch.setattr(toy_kind, "normalise_toy", fixed)

    # the next day's run, param off: the re-processing task is skipped, toy-1 stays held
    plain = run(dag, DAY + timedelta(days=1))
    assert task_state(plain, "reprocess_quarantine") == "skipped"
    assert open_quarantine(warehouse_dsn) == ["bad-3", "toy-1"]

    # param on: after the load, the open quarantine is re-processed with the fix
    asked = run(dag, DAY + timedelta(days=2), reprocess_quarantine=True)
    assert task_state(asked, "reprocess_quarantine") == "success"
    assert "toy-1" in event_ids(warehouse_dsn, "toy:demo")
    # bad-3 is still bad (toy ids start with toy-): it stays, with a 'kept' history row; bad-4,
    # which this run's own load just quarantined, is not re-processed
    assert open_quarantine(warehouse_dsn) == ["bad-3", "bad-4"]
    with psycopg.connect(warehouse_dsn) as conn:
        outcomes = conn.execute(
            "SELECT q.record_key, h.outcome, h.reasons FROM dq.quarantine_history h"
            " JOIN dq.quarantine q USING (quarantine_id) ORDER BY 1"
        ).fetchall()
        marked = conn.execute(
            "SELECT count(*) FROM landing.extract_batches WHERE request_stats ? 'reprocess'"
        ).fetchone()[0]
    assert [row[:2] for row in outcomes] == [("bad-3", "kept"), ("toy-1", "released")]
    assert "not a string" in outcomes[1][2][0]  # the reasons it was held for
    assert marked == 1
