"""Directory audits and several tenants: real DAG runs into one warehouse."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from dag_runs import load_dags, run, use_config, use_graph, use_warehouse
from warehouse_asserts import audit_snapshot, event_ids

from devtools.graph_simulator.server import FaultConfig, GraphSimulator, SimClock
from devtools.graph_simulator.tenant import TenantConfig

DAY = datetime(2026, 11, 10, tzinfo=UTC)
LOOKBACK = timedelta(minutes=60)
EXCLUDED_CATEGORY = "Policy"

SOURCES = f"""
sources:
  - kind: entra
    name: contoso
    tenant_id: contoso
    conn_id: msgraph_default
    default: true
    signins:
      page_size: 500
      max_attempts: 3
      max_requests_per_10s: null  # the simulator's limits are the test's own
    directory_audits:
      page_size: 500
      max_attempts: 3
      max_requests_per_10s: null  # the simulator's limits are the test's own
  - kind: entra
    name: fabrikam
    tenant_id: fabrikam
    conn_id: msgraph_fabrikam
    signins:
      enabled: false
    directory_audits:
      page_size: 50
      max_attempts: 3
      max_requests_per_10s: null
      exclude_categories: [{EXCLUDED_CATEGORY}]
"""


@pytest.fixture
def graph(tmp_path: Path) -> Iterator[GraphSimulator]:
    tenants = [
        # enough audits that some are still in ingestion a minute after midnight
        TenantConfig(tenant_id="contoso", signins_per_day=600, directory_audits_per_day=2000),
        TenantConfig(
            tenant_id="fabrikam",
            seed=7,
            client_id="fabrikam-client",
            client_secret="fabrikam-secret",
            signins_per_day=300,
            directory_audits_per_day=150,
        ),
    ]
    faults = FaultConfig(throttle=True, throttle_window_s=2.0, error_rate=0.1)
    clock = SimClock(DAY + timedelta(days=1, minutes=50), frozen=True)
    with GraphSimulator(tenants, faults, cert_dir=tmp_path / "cert", clock=clock) as simulator:
        yield simulator


@pytest.fixture
def dags(
    graph: GraphSimulator,
    warehouse_dsn: str,
    pg_server: str,
    airflow_db: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> dict:
    use_config(tmp_path, monkeypatch, SOURCES)
    use_warehouse(monkeypatch, pg_server, warehouse_dsn)
    use_graph(monkeypatch, graph, "contoso")
    use_graph(monkeypatch, graph, "fabrikam", conn_id="msgraph_fabrikam")
    return load_dags()


def expected_events(
    graph: GraphSimulator, tenant: str, start: datetime, end: datetime
) -> dict[str, str]:
    """Event ids the warehouse must hold for the audits served in [start, end), by category."""
    events: dict[str, str] = {}
    for record in graph.tenant(tenant).directory_audits(start, end, visible_at=graph.clock()):
        for n in range(max(1, len(record.get("targetResources") or []))):
            events[f"{record['id']}:{n}"] = record["category"]
    return events


def test_two_tenants_load_their_own_audits_with_exclusions(
    dags: dict, graph: GraphSimulator, warehouse_dsn: str
) -> None:
    assert {"entra_directory_audits", "entra_directory_audits_fabrikam"} <= set(dags)
    assert "entra_signins_fabrikam" not in dags  # disabled in config

    assert run(dags["entra_directory_audits"], DAY) == "success"
    assert run(dags["entra_directory_audits_fabrikam"], DAY) == "success"

    window = (DAY - LOOKBACK, DAY + timedelta(days=1))
    contoso = expected_events(graph, "contoso", *window)
    fabrikam = expected_events(graph, "fabrikam", *window)
    fabrikam_kept = {e for e, category in fabrikam.items() if category != EXCLUDED_CATEGORY}
    assert len(fabrikam_kept) < len(fabrikam), "precondition: the excluded category occurs"
    assert Counter(event_ids(warehouse_dsn, "entra:contoso:directory_audits")) == Counter(
        contoso.keys()
    )
    assert set(event_ids(warehouse_dsn, "entra:fabrikam:directory_audits")) == fabrikam_kept
    assert not set(contoso) & set(fabrikam)
    with psycopg.connect(warehouse_dsn) as conn:
        rows = conn.execute(
            "SELECT source_id, extracted, loaded, quarantined, excluded,"
            " details->'excluded_by_rule' FROM audit.batches ORDER BY source_id"
        ).fetchall()
        categories = conn.execute("SELECT DISTINCT category FROM audit.access_events").fetchall()
        view_rows, view_tenants = conn.execute(
            "SELECT count(*), array_agg(DISTINCT tenant_id ORDER BY tenant_id)"
            " FROM auditor.directory_changes"
        ).fetchone()
    served_fabrikam = graph.tenant("fabrikam").directory_audits(*window, visible_at=graph.clock())
    excluded = sum(1 for r in served_fabrikam if r["category"] == EXCLUDED_CATEGORY)
    (_, c_extracted, c_loaded, _, c_excluded, _), (_, f_extracted, f_loaded, _, f_excl, rules) = (
        rows
    )
    assert c_extracted == c_loaded and c_excluded == 0
    assert (f_extracted, f_loaded, f_excl) == (
        len(served_fabrikam),
        f_extracted - excluded,
        excluded,
    )
    assert rules == {f"category:{EXCLUDED_CATEGORY}": excluded}
    assert categories == [("iam",)]
    assert view_rows == len(contoso) + len(fabrikam_kept)
    assert view_tenants == ["contoso", "fabrikam"]


def test_one_tenants_broken_connection_leaves_the_other_green(
    dags: dict, graph: GraphSimulator, warehouse_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_graph(monkeypatch, graph, "fabrikam", conn_id="msgraph_fabrikam", secret="wrong")

    assert run(dags["entra_directory_audits_fabrikam"], DAY) == "failed"
    assert run(dags["entra_directory_audits"], DAY) == "success"

    assert event_ids(warehouse_dsn, "entra:fabrikam:directory_audits") == []
    window = (DAY - LOOKBACK, DAY + timedelta(days=1))
    expected = expected_events(graph, "contoso", *window)
    assert Counter(event_ids(warehouse_dsn, "entra:contoso:directory_audits")) == Counter(
        expected.keys()
    )


def test_audits_rerun_idempotently_and_late_audits_arrive_next_run(
    dags: dict, graph: GraphSimulator, warehouse_dsn: str
) -> None:
    day_end = DAY + timedelta(days=1)
    graph.clock.set(day_end + timedelta(minutes=1), frozen=True)
    dag = dags["entra_directory_audits"]
    assert run(dag, DAY) == "success"
    first = audit_snapshot(warehouse_dsn)
    assert run(dag, DAY) == "success"
    assert audit_snapshot(warehouse_dsn) == first

    everything = graph.tenant("contoso").directory_audits(DAY, day_end)
    seen_first = {
        e.split(":")[0] for e in event_ids(warehouse_dsn, "entra:contoso:directory_audits")
    }
    late = {r["id"] for r in everything} - seen_first
    assert late, "precondition: some audits of the day were not yet visible at the first run"

    graph.clock.set(day_end + timedelta(days=1, minutes=45), frozen=True)
    assert run(dag, day_end) == "success"

    loaded = Counter(event_ids(warehouse_dsn, "entra:contoso:directory_audits"))
    assert late <= {e.split(":")[0] for e in loaded}
    expected = expected_events(graph, "contoso", DAY - LOOKBACK, day_end + timedelta(days=1))
    assert loaded == Counter(expected.keys())


def test_changed_application_is_one_config_item_with_its_sign_ins(
    dags: dict, graph: GraphSimulator, warehouse_dsn: str
) -> None:
    assert run(dags["entra_signins"], DAY) == "success"
    assert run(dags["entra_directory_audits"], DAY) == "success"

    with psycopg.connect(warehouse_dsn) as conn:
        shared, audit_apps = conn.execute(
            """
            SELECT count(DISTINCT a.config_id) FILTER (WHERE s.config_id IS NOT NULL),
                   count(DISTINCT a.config_id)
            FROM audit.access_events a
            LEFT JOIN (SELECT DISTINCT config_id FROM audit.access_events
                       WHERE source_id = 'entra:contoso:signins') s USING (config_id)
            WHERE a.source_id = 'entra:contoso:directory_audits'
              AND a.target_type = 'application'
            """
        ).fetchone()
        people = conn.execute(
            """
            SELECT count(DISTINCT a.external_user_id)
            FROM audit.access_events a
            JOIN audit.access_events s ON s.external_user_id = a.external_user_id
            WHERE a.source_id = 'entra:contoso:directory_audits' AND a.actor_type = 'user'
              AND s.source_id = 'entra:contoso:signins'
            """
        ).fetchone()[0]
    assert audit_apps > 0 and shared > 0, "credential changes and sign-ins share config items"
    assert people > 0, "admins who change things are the same people who sign in"
