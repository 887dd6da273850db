"""``access_reporting`` in real DAG runs: a load's Asset event names the days it touched, and a
reporting run rebuilds those (or a requested range)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import psycopg
import pytest
from dag_runs import load_dags, run, use_config, use_graph, use_warehouse

from access_warehouse.airflow_adapters.assets import ACCESS_EVENTS, POPULATIONS
from access_warehouse.airflow_adapters.reporting_tasks import days_to_build
from access_warehouse.reporting.build import ReportingError
from access_warehouse.reporting.evidence import verify_evidence_pack
from devtools.graph_simulator.server import GraphSimulator, SimClock
from devtools.graph_simulator.tenant import TenantConfig

DAY = datetime(2026, 11, 10, tzinfo=UTC)
SOURCES = """
sources:
  - kind: entra
    name: contoso
    tenant_id: contoso
    conn_id: msgraph_default
    signins:
      lookback_minutes: 60
      max_requests_per_10s: null
    directory_audits:
      enabled: false
"""


@pytest.fixture
def graph(tmp_path: Path) -> Iterator[GraphSimulator]:
    clock = SimClock(DAY + timedelta(days=1, minutes=50), frozen=True)
    with GraphSimulator(
        TenantConfig(tenant_id="contoso", signins_per_day=300), cert_dir=tmp_path / "cert",
        clock=clock,
    ) as simulator:  # fmt: skip
        yield simulator


@pytest.fixture
def dags(graph, warehouse_dsn, pg_server, airflow_db, tmp_path, monkeypatch) -> dict:
    use_config(tmp_path, monkeypatch, SOURCES)
    use_warehouse(monkeypatch, pg_server, warehouse_dsn)
    use_graph(monkeypatch, graph, "contoso")
    return load_dags()


def _asset_event_extras(airflow_db: Path) -> list[dict]:
    with sqlite3.connect(airflow_db / "airflow.db") as db:
        found = db.execute(
            "SELECT e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id "
            "WHERE a.uri = ? ORDER BY e.id",
            (ACCESS_EVENTS.uri,),
        ).fetchall()
    return [json.loads(extra) if isinstance(extra, str) else extra for (extra,) in found]


def test_a_load_announces_its_days_and_reporting_rebuilds_them(
    dags: dict, warehouse_dsn: str, airflow_db: Path
) -> None:
    assert dags["access_reporting"].timetable is not None
    before = len(_asset_event_extras(airflow_db))
    assert run(dags["entra_signins"], DAY) == "success"
    extras = _asset_event_extras(airflow_db)[before:]
    # the window [Nov 9 23:00, Nov 11 00:00): its lookback hour reaches into Nov 9
    assert {"source_id": "entra:contoso:signins", "days": ["2026-11-09", "2026-11-10"]} in extras

    result = dags["access_reporting"].test(
        run_conf={"start_day": "2026-11-10", "end_day": "2026-11-10", "as_of": "2026-11-10"}
    )
    assert str(getattr(result.state, "value", result.state)) == "success"
    with psycopg.connect(warehouse_dsn) as conn:
        build = conn.execute(
            "SELECT trigger, as_of, rows_written FROM reporting.builds ORDER BY started_at DESC"
        ).fetchone()
        counted = conn.execute(
            "SELECT sum(events) FROM reporting.daily_access "
            "WHERE day = '2026-11-10' AND source_id = 'entra:contoso:signins'"
        ).fetchone()[0]
        loaded = conn.execute(
            "SELECT count(*) FROM audit.access_events WHERE occurred_at >= '2026-11-10' "
            "AND occurred_at < '2026-11-11'"
        ).fetchone()[0]
        overall = conn.execute(
            "SELECT evaluable, sign_ins FROM reporting.mfa_coverage "
            "WHERE day = '2026-11-10' AND scope = 'overall'"
        ).fetchone()
    assert build[0] == "params" and build[1] == date(2026, 11, 10)
    assert build[2]["daily_access"] > 0
    assert counted == loaded > 200
    assert overall[0] is True and overall[1] > 0
    tis = {ti.task_id: ti.state for ti in result.get_task_instances()}
    assert tis["evidence_pack"] == "skipped"


def test_the_evidence_pack_param_writes_a_pack_that_verifies(
    dags: dict, warehouse_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACCESS_WAREHOUSE_EVIDENCE", str(tmp_path / "evidence"))
    assert run(dags["entra_signins"], DAY) == "success"
    result = dags["access_reporting"].test(
        run_conf={
            "start_day": "2026-11-10",
            "end_day": "2026-11-10",
            "evidence_pack": True,
            "review_start": "2026-11-10",
            "review_end": "2026-11-10",
        }
    )
    assert str(getattr(result.state, "value", result.state)) == "success"
    (pack,) = (tmp_path / "evidence").iterdir()
    manifest = json.loads((pack / "manifest.json").read_text())
    assert (manifest["period"]["period_start"], manifest["period"]["period_end"]) == (
        "2026-11-10",
        "2026-11-10",
    )
    assert verify_evidence_pack(pack, warehouse_dsn).ok
    (pack / "access.csv").write_text((pack / "access.csv").read_text() + "\n")
    assert not verify_evidence_pack(pack).ok


def test_days_to_build_from_asset_events_params_or_the_last_day() -> None:
    first, second = ({"days": ["2026-11-10"]}, {"days": ["2026-11-08"]})
    events = {
        ACCESS_EVENTS: [SimpleNamespace(extra=first), SimpleNamespace(extra=second)],
        POPULATIONS: [SimpleNamespace(extra={})],
    }
    assert days_to_build({"triggering_asset_events": events}) == (
        [date(2026, 11, 8), date(2026, 11, 10)],
        "asset",
    )
    assert days_to_build({"params": {"start_day": "2026-11-01", "end_day": "2026-11-03"}}) == (
        [date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3)],
        "params",
    )
    with pytest.raises(ReportingError, match="both start_day and end_day"):
        days_to_build({"params": {"start_day": "2026-11-01"}})
    with pytest.raises(ReportingError, match="ends"):
        days_to_build({"params": {"start_day": "2026-11-03", "end_day": "2026-11-01"}})
    days, why = days_to_build({"params": {}})
    assert why == "manual" and len(days) == 1
