"""Paging Graph with the provider's hook against the HTTPS simulator (no DAG around it)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from dag_runs import use_graph

from access_warehouse.landing import ExtractWindow
from access_warehouse.sources.base import FetchRequest, RequestStats
from access_warehouse.sources.entra import SIGNIN_EVENT_TYPES, EntraSource
from access_warehouse.sources.graph import GraphFeedQuery, GraphHTTPError, _wait_for, fetch_pages
from devtools.graph_simulator.server import FaultConfig, GraphSimulator, SimClock
from devtools.graph_simulator.tenant import TenantConfig

DAY = datetime(2026, 11, 10, tzinfo=UTC)


@pytest.fixture
def graph(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[GraphSimulator]:
    clock = SimClock(DAY + timedelta(days=2), frozen=True)
    faults = FaultConfig(throttle=False, token_lifetime_s=60)
    with GraphSimulator(
        TenantConfig(tenant_id="contoso", signins_per_day=800),
        faults,
        cert_dir=tmp_path / "cert",
        clock=clock,
    ) as simulator:
        use_graph(monkeypatch, simulator, "contoso")
        yield simulator


def tenant(**signins: object) -> EntraSource:
    return EntraSource.model_validate(
        {
            "kind": "entra",
            "name": "contoso",
            "tenant_id": "contoso",
            "conn_id": "msgraph_default",
            "signins": {
                "page_size": 50,
                "max_attempts": 4,
                "max_requests_per_10s": None,  # no pacing: these tests set their own limits
                **signins,
            },
        }
    )


def fetch(query: GraphFeedQuery, on_page: Callable[[str | None, list[dict]], None]) -> RequestStats:
    """Page one day through the provider's hook, as the extract does."""
    request = FetchRequest(window=ExtractWindow(DAY, DAY + timedelta(days=1)))
    for page in fetch_pages(query, request):
        on_page(page.stream, page.records)
    return request.stats


@pytest.mark.robustness("Token expiring mid-window")
def test_token_expiring_mid_window_is_renewed(graph: GraphSimulator) -> None:
    query = tenant().graph_query("signins")
    seen: list[str] = []

    def on_page(_stream: str | None, records: list[dict]) -> None:
        seen.extend(record["id"] for record in records)
        graph.clock.advance(45)  # the 60 s token expires every second page

    stats = fetch(query, on_page)

    expected = graph.tenant("contoso").signins(
        DAY, DAY + timedelta(days=1), event_types=SIGNIN_EVENT_TYPES
    )
    assert sorted(seen) == sorted(record["id"] for record in expected)
    assert stats.token_renewals >= 2
    assert graph.stats["tokens_issued"] == stats.token_renewals + 1


def test_v1_reads_one_unfiltered_stream_without_mfa_fields(graph: GraphSimulator) -> None:
    query = tenant(api_version="v1.0").graph_query("signins")
    assert query.streams == (None,)
    records: list[dict] = []

    fetch(query, lambda _stream, page: records.extend(page))

    assert records and all("authenticationDetails" not in record for record in records)
    expected = graph.tenant("contoso").signins(DAY, DAY + timedelta(days=1), version="v1.0")
    assert {r["id"] for r in records} == {r["id"] for r in expected}


@pytest.mark.robustness("Persistent 5xx: fails after max_attempts")
def test_persistent_server_errors_fail_after_max_attempts(graph: GraphSimulator) -> None:
    graph.faults.error_rate = 1.0
    query = tenant(max_attempts=2).graph_query("signins")

    with pytest.raises(GraphHTTPError) as error:
        fetch(query, lambda _stream, _page: None)

    assert error.value.status in (503, 504)
    assert graph.stats["errors_5xx"] == 2


def test_retry_after_is_honoured_as_given_even_with_decimals() -> None:
    throttled = GraphHTTPError(429, {"retry-after": "2.128"}, {"error": {"code": "x"}}, "u")
    assert throttled.retry_after == 2.128
    assert _wait_for(throttled, lambda _state: 99.0, None) == 2.128
    assert GraphHTTPError(429, {"retry-after": "7"}, {}, "u").retry_after == 7.0
    no_header = GraphHTTPError(503, {}, {}, "u")
    assert no_header.retry_after is None
    assert _wait_for(no_header, lambda _state: 3.5, None) == 3.5
