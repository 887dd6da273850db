"""Running the project's DAGs with ``dag.test()`` against a test config and test connections."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag

from access_warehouse.paths import PROJECT_ROOT
from devtools.graph_simulator.server import GraphSimulator
from devtools.local_env import msgraph_connection, warehouse_connection


def use_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sources_yaml: str) -> None:
    """Make the DAGs (parsed after this) and their tasks read ``sources_yaml``."""
    folder = tmp_path / "config"
    folder.mkdir(exist_ok=True)
    (folder / "sources.yaml").write_text(sources_yaml)
    # the reporting rules and retention policies as shipped (populations name the shipped
    # sources: a test that wants them writes its own populations.yaml; without one there are
    # none)
    for name in ("reporting.yaml", "retention.yaml"):
        shipped = PROJECT_ROOT / "include" / "config" / name
        if not (folder / name).exists():
            (folder / name).write_text(shipped.read_text())
    monkeypatch.setattr("access_warehouse.paths.CONFIG_DIR", folder)


def use_warehouse(monkeypatch: pytest.MonkeyPatch, pg_server: str, warehouse_dsn: str) -> None:
    database = warehouse_dsn.split("dbname=")[1].split()[0]
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", warehouse_connection(Path(pg_server), database))


def use_graph(
    monkeypatch: pytest.MonkeyPatch,
    graph: GraphSimulator,
    tenant_id: str,
    conn_id: str = "msgraph_default",
    secret: str | None = None,
) -> None:
    creds = graph.credentials(tenant_id)
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{conn_id.upper()}",
        msgraph_connection(
            creds["host"], creds["tenant_id"], creds["client_id"], secret or creds["client_secret"]
        ),
    )


def load_dags() -> dict:
    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    assert bag.import_errors == {}
    for dag in bag.dags.values():
        for task in dag.tasks:  # a failed attempt is asserted on directly, not waited out
            task.retries = 0
    return bag.dags


def run(dag, interval_start: datetime) -> str:
    """One run of the daily interval starting at ``interval_start``; returns its state.

    ``dag.test()`` infers a manual run's data interval as the one that ends at its logical date.
    """
    result = dag.test(logical_date=interval_start + timedelta(days=1))
    return str(getattr(result.state, "value", result.state))
