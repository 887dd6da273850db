"""The DAG files parse, have the contract ids, and are wired as documented."""

from __future__ import annotations

import os

import pytest
from airflow.dag_processing.dagbag import DagBag
from airflow.sdk import CronDataIntervalTimetable


@pytest.fixture(scope="module")
def bag() -> DagBag:
    return DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])


def test_no_import_errors(bag: DagBag) -> None:
    assert bag.import_errors == {}


def test_entra_signins_is_interval_based_with_window_params(bag: DagBag) -> None:
    dag = bag.dags["entra_signins"]
    assert isinstance(dag.timetable, CronDataIntervalTimetable)
    assert set(dag.params) == {"window_start", "window_end", "reprocess_quarantine"}
    assert dag.params["reprocess_quarantine"] is False
    assert dag.doc_md and "lookback" in dag.doc_md and "reprocess_quarantine" in dag.doc_md
    assert {task.task_id for task in dag.tasks} == {
        "migrate_warehouse",
        "extract",
        "load",
        "reprocess_quarantine",
    }
    assert dag.get_task("load").upstream_task_ids == {"extract"}
    assert dag.get_task("reprocess_quarantine").upstream_task_ids == {"load"}
    assert dag.get_task("extract").upstream_task_ids == {"migrate_warehouse"}
    assert all(task.doc_md for task in dag.tasks)
    assert [outlet.uri for outlet in dag.get_task("load").outlets] == [
        "warehouse://audit/access_events"
    ]


def test_directory_audits_dag_has_the_same_shape(bag: DagBag) -> None:
    dag = bag.dags["entra_directory_audits"]
    assert isinstance(dag.timetable, CronDataIntervalTimetable)
    assert set(dag.params) == {"window_start", "window_end", "reprocess_quarantine"}
    assert "directoryAudits" in dag.doc_md
    assert {task.task_id for task in dag.tasks} == {
        "migrate_warehouse",
        "extract",
        "load",
        "reprocess_quarantine",
    }
