"""Real `entra_signins` DAG runs (``dag.test()``) from the HTTPS Graph simulator into Postgres."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from dag_runs import load_dags, run, use_config, use_graph, use_warehouse
from warehouse_asserts import audit_snapshot, event_ids

from access_warehouse.sources.entra import SIGNIN_EVENT_TYPES
from devtools.graph_simulator.server import FaultConfig, GraphSimulator, SimClock
from devtools.graph_simulator.tenant import TenantConfig

SOURCE_ID = "entra:contoso:signins"
DAY = datetime(2026, 11, 10, tzinfo=UTC)
LOOKBACK = timedelta(minutes=60)

TEST_SOURCES = """
sources:
  - kind: entra
    name: contoso
    tenant_id: contoso
    conn_id: msgraph_default
    signins:
      schedule: "0 0 * * *"
      lookback_minutes: 60
      api_version: beta
      page_size: 100
      max_attempts: 4
      max_requests_per_10s: null  # 429 handling is under test, not pacing
    directory_audits:
      enabled: false
"""


@pytest.fixture
def graph(tmp_path: Path) -> Iterator[GraphSimulator]:
    faults = FaultConfig(throttle=True, throttle_window_s=2.0, error_rate=0.15)
    clock = SimClock(DAY + timedelta(days=1, minutes=50), frozen=True)
    with GraphSimulator(
        TenantConfig(tenant_id="contoso", signins_per_day=1500),
        faults,
        cert_dir=tmp_path / "cert",
        clock=clock,
    ) as simulator:
        yield simulator


@pytest.fixture
def dag(
    graph: GraphSimulator,
    warehouse_dsn: str,
    pg_server: str,
    airflow_db: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
):
    use_config(tmp_path, monkeypatch, TEST_SOURCES)
    use_warehouse(monkeypatch, pg_server, warehouse_dsn)
    use_graph(monkeypatch, graph, "contoso")
    return load_dags()["entra_signins"]


def served(graph: GraphSimulator, start: datetime, end: datetime) -> list[str]:
    """The ids the simulator serves for [start, end) at its current clock."""
    records = graph.tenant("contoso").signins(
        start, end, version="beta", event_types=SIGNIN_EVENT_TYPES, visible_at=graph.clock()
    )
    return [record["id"] for record in records]


@pytest.mark.robustness("429 and 503/504 during a DAG run")
def test_one_interval_lands_every_event_exactly_once_despite_faults(
    dag, graph: GraphSimulator, warehouse_dsn: str
) -> None:
    assert run(dag, DAY) == "success"

    expected = served(graph, DAY - LOOKBACK, DAY + timedelta(days=1))
    loaded = event_ids(warehouse_dsn, SOURCE_ID)
    assert len(expected) > 1000
    assert Counter(loaded) == Counter(expected)
    assert graph.stats["throttled"] > 0 and graph.stats["errors_5xx"] > 0, "faults were exercised"
    with psycopg.connect(warehouse_dsn) as conn:
        batch = conn.execute(
            "SELECT extracted, loaded, quarantined, pages, window_start, window_end, lookback "
            "FROM audit.batches"
        ).fetchone()
        kinds = dict(
            conn.execute(
                "SELECT actor_type, count(*) FROM audit.access_events GROUP BY 1"
            ).fetchall()
        )
        in_view = conn.execute("SELECT count(*) FROM auditor.sign_ins").fetchone()[0]
        mfa = conn.execute(
            "SELECT count(*) FILTER (WHERE mfa IS NULL), count(*) FILTER (WHERE mfa) "
            "FROM audit.access_events WHERE actor_type = 'user'"
        ).fetchone()
    assert batch[:3] == (len(expected), len(expected), 0)
    assert batch[3] > len(SIGNIN_EVENT_TYPES)  # several pages per stream
    assert (batch[4], batch[5], batch[6]) == (DAY - LOOKBACK, DAY + timedelta(days=1), LOOKBACK)
    assert {"user", "service_principal", "managed_identity"} <= set(kinds)
    assert mfa[1] > 0, "beta records carry MFA"
    assert in_view == len(expected)


def test_rerun_and_overlapping_windows_change_nothing(
    dag, graph: GraphSimulator, warehouse_dsn: str
) -> None:
    assert run(dag, DAY) == "success"
    first = audit_snapshot(warehouse_dsn)

    assert run(dag, DAY) == "success"

    assert audit_snapshot(warehouse_dsn) == first
    with psycopg.connect(warehouse_dsn) as conn:
        rows = conn.execute(
            "SELECT inserted, updated, unchanged, loaded FROM audit.batches ORDER BY sequence_no"
        ).fetchall()
    assert rows[1][:2] == (0, 0) and rows[1][2] == rows[1][3]


def test_late_events_are_picked_up_by_the_next_runs_lookback(
    dag, graph: GraphSimulator, warehouse_dsn: str
) -> None:
    day_end = DAY + timedelta(days=1)
    graph.clock.set(day_end + timedelta(minutes=1), frozen=True)  # run right after the interval
    assert run(dag, DAY) == "success"
    visible_then = set(served(graph, DAY - LOOKBACK, day_end))
    everything = graph.tenant("contoso").signins(
        DAY, day_end, version="beta", event_types=SIGNIN_EVENT_TYPES
    )
    late = {record["id"] for record in everything} - visible_then
    assert late, "precondition: some events of the day were not yet visible at the first run"
    assert not late & set(event_ids(warehouse_dsn, SOURCE_ID))

    graph.clock.set(day_end + timedelta(days=1, minutes=45), frozen=True)
    assert run(dag, day_end) == "success"

    loaded = Counter(event_ids(warehouse_dsn, SOURCE_ID))
    assert late <= set(loaded), "the late events landed through the lookback"
    assert max(loaded.values()) == 1
    expected = served(graph, DAY - LOOKBACK, day_end + timedelta(days=1))
    assert Counter(loaded) == Counter(expected)


@pytest.mark.robustness("Connection dropped after 3 pages")
def test_failed_extract_leaves_no_partial_data_and_the_retry_completes(
    dag, graph: GraphSimulator, warehouse_dsn: str
) -> None:
    graph.faults.error_rate = 0.0
    graph.faults.drop_connection_after_pages = 3
    before = audit_snapshot(warehouse_dsn)

    assert run(dag, DAY) == "failed"

    assert audit_snapshot(warehouse_dsn) == before
    with psycopg.connect(warehouse_dsn) as conn:
        failed = conn.execute("SELECT status, pages, error FROM landing.extract_batches").fetchall()
        batches = conn.execute("SELECT count(*) FROM audit.batches").fetchone()[0]
    assert batches == 0
    assert [(status, pages) for status, pages, _ in failed] == [("failed", 3)]
    assert failed[0][2]  # the error is recorded

    graph.faults.drop_connection_after_pages = None
    assert run(dag, DAY) == "success"

    expected = served(graph, DAY - LOOKBACK, DAY + timedelta(days=1))
    assert Counter(event_ids(warehouse_dsn, SOURCE_ID)) == Counter(expected)
