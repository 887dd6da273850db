"""Source faults through the provider's hook: every extract completes with all the data or
fails loudly with its landing batch marked failed, and paging never ends early."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from dag_runs import use_graph

from access_warehouse.extract import extract
from access_warehouse.landing import ExtractWindow
from access_warehouse.sources.base import Feed, FetchRequest, RequestStats
from access_warehouse.sources.entra import EntraSource
from access_warehouse.sources.graph import GraphPageError, SlidingWindowPacer, fetch_pages
from devtools.graph_simulator.server import PAGE_FAULTS, FaultConfig, GraphSimulator, SimClock
from devtools.graph_simulator.tenant import TenantConfig

DAY = datetime(2026, 11, 10, tzinfo=UTC)
WINDOW = ExtractWindow(DAY, DAY + timedelta(days=1))
RETRIED_PAGE_FAULTS = [fault for fault in PAGE_FAULTS if fault != "foreign_next_link"]


@pytest.fixture
def graph(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[GraphSimulator]:
    clock = SimClock(DAY + timedelta(days=2), frozen=True)
    with GraphSimulator(
        TenantConfig(tenant_id="contoso", signins_per_day=600),
        FaultConfig(throttle=False),
        cert_dir=tmp_path / "cert",
        clock=clock,
    ) as simulator:
        use_graph(monkeypatch, simulator, "contoso")
        yield simulator


def signins(max_attempts: int = 4, page_size: int = 50, paced: bool = False) -> Feed:
    source = EntraSource.model_validate(
        {
            "kind": "entra",
            "name": "contoso",
            "tenant_id": "contoso",
            "conn_id": "msgraph_default",
            "signins": {
                "api_version": "v1.0",
                "page_size": page_size,
                "max_attempts": max_attempts,
                # the simulator's limits here are the tests' own, not Graph's
                **({} if paced else {"max_requests_per_10s": None}),
            },
        }
    )
    return source.feed("signins")


def served_ids(graph: GraphSimulator) -> set[str]:
    records = graph.tenant("contoso").signins(WINDOW.start, WINDOW.end, version="v1.0")
    return {record["id"] for record in records}


def landed(dsn: str, batch_id: str) -> tuple[str, str | None, list[str]]:
    with psycopg.connect(dsn) as conn:
        status, error = conn.execute(
            "SELECT status, error FROM landing.extract_batches WHERE batch_id = %s", (batch_id,)
        ).fetchone()
        ids = [
            row[0]
            for row in conn.execute(
                "SELECT payload->>'id' FROM landing.records WHERE batch_id = %s", (batch_id,)
            )
        ]
    return status, error, ids


def last_batch(dsn: str) -> str:
    with psycopg.connect(dsn) as conn:
        return str(
            conn.execute(
                "SELECT batch_id FROM landing.extract_batches ORDER BY started_at DESC LIMIT 1"
            ).fetchone()[0]
        )


@pytest.mark.robustness("Graph page that cannot be read, once: retried, the window completes")
@pytest.mark.parametrize("fault", RETRIED_PAGE_FAULTS)
def test_an_unreadable_page_is_retried_and_the_window_completes(
    fault: str, graph: GraphSimulator, warehouse_dsn: str
) -> None:
    graph.faults.page_fault, graph.faults.page_fault_on_page = fault, 2

    summary = extract(warehouse_dsn, signins(), window=WINDOW)

    assert graph.stats["page_faults"] == 1
    assert summary.requests["bad_pages"] == 1
    status, _, ids = landed(warehouse_dsn, summary.batch_id)
    assert status == "extracted"
    assert sorted(ids) == sorted(served_ids(graph))  # nothing lost, nothing landed twice


@pytest.mark.robustness("Graph page that stays unreadable: the extract fails")
@pytest.mark.parametrize("fault", RETRIED_PAGE_FAULTS)
def test_a_page_that_stays_unreadable_fails_the_extract_loudly(
    fault: str, graph: GraphSimulator, warehouse_dsn: str
) -> None:
    graph.faults.page_fault, graph.faults.page_fault_on_page = fault, 3
    graph.faults.page_fault_times = 99

    with pytest.raises(GraphPageError, match="unreadable page"):
        extract(warehouse_dsn, signins(max_attempts=3), window=WINDOW)

    status, error, ids = landed(warehouse_dsn, last_batch(warehouse_dsn))
    assert status == "failed" and "GraphPageError" in error
    assert len(ids) == 2 * 50  # the two pages before it, kept for proof, never loaded


@pytest.mark.robustness("nextLink to another host: refused")
def test_a_next_link_to_another_host_is_refused(graph: GraphSimulator, warehouse_dsn: str) -> None:
    graph.faults.page_fault, graph.faults.page_fault_on_page = "foreign_next_link", 1

    with pytest.raises(Exception, match=r"graph\.evil\.example"):
        extract(warehouse_dsn, signins(), window=WINDOW)

    status, error, _ = landed(warehouse_dsn, last_batch(warehouse_dsn))
    assert status == "failed" and "graph.evil.example" in error
    assert graph.stats["page_faults"] == 1  # and no request went to the other host


@pytest.mark.robustness("429 storm on the first request (Retry-After)")
@pytest.mark.parametrize("decimal", [True, False], ids=["decimal", "integer"])
def test_a_429_storm_on_the_first_request_is_waited_out(
    decimal: bool, graph: GraphSimulator, warehouse_dsn: str
) -> None:
    graph.faults.retry_after_decimal, graph.faults.throttle_first = decimal, 3

    summary = extract(warehouse_dsn, signins(max_attempts=5), window=WINDOW)

    assert summary.requests["throttled"] == 3 == graph.stats["throttled"]
    expected_wait = 3 * (1.128 if decimal else 1.0)
    assert summary.requests["waited_s"] == pytest.approx(expected_wait, abs=0.01)
    _, _, ids = landed(warehouse_dsn, summary.batch_id)
    assert sorted(ids) == sorted(served_ids(graph))


@pytest.mark.robustness("5xx on every status Graph uses, and 429s mid-window")
@pytest.mark.parametrize("statuses", [(500, 502), (503, 504)], ids=str)
def test_server_errors_and_throttling_later_in_the_window_are_retried(
    statuses: tuple[int, ...], graph: GraphSimulator, warehouse_dsn: str
) -> None:
    # one request per 1.5 s: every page after the first is throttled, some answered 5xx
    graph.faults.error_rate, graph.faults.error_statuses = 0.25, statuses
    graph.faults.throttle, graph.faults.throttle_limit = True, 1
    graph.faults.throttle_window_s, graph.faults.retry_after_decimal = 1.5, True

    summary = extract(warehouse_dsn, signins(max_attempts=12, page_size=100), window=WINDOW)

    assert graph.stats["errors_5xx"] > 0 and graph.stats["throttled"] > 0
    assert summary.requests["server_errors"] == graph.stats["errors_5xx"]
    assert summary.requests["throttled"] == graph.stats["throttled"]
    _, _, ids = landed(warehouse_dsn, summary.batch_id)
    assert sorted(ids) == sorted(served_ids(graph))


def test_the_pacer_never_lets_more_than_the_limit_into_any_window() -> None:
    pacer = SlidingWindowPacer(limit=3, window_s=0.3, margin_s=0.0)

    async def send(count: int) -> list[float]:
        sent = []
        for _ in range(count):
            await pacer.wait()
            sent.append(time.monotonic())
            pacer.done()
        return sent

    sent = asyncio.run(send(10))
    assert sent[2] - sent[0] < 0.3  # the first three go at once
    assert all(sent[i + 3] - sent[i] >= 0.3 for i in range(len(sent) - 3))


@pytest.mark.robustness("Throttling: paced to the documented limit")
def test_an_extract_paced_to_the_limit_is_never_throttled(graph: GraphSimulator) -> None:
    """The simulator allows 3 requests per 1.5 s; paced to that, no request is wasted on a 429,
    and every record arrives. Unpaced, the same pages are throttled (and retried)."""
    faults = graph.faults
    faults.throttle, faults.throttle_limit, faults.throttle_window_s = True, 3, 1.5
    source = EntraSource.model_validate(
        {
            "kind": "entra",
            "name": "contoso",
            "tenant_id": "contoso",
            "conn_id": "msgraph_default",
            "signins": {"api_version": "v1.0", "page_size": 60, "max_attempts": 8},
        }
    )
    query = source.graph_query("signins")
    assert (query.max_requests, query.rate_window_s) == (5, 10.0)  # Graph's, by default

    def run(max_requests: int | None) -> tuple[int, RequestStats]:
        graph.reset_stats()
        request = FetchRequest(window=WINDOW)
        paced = replace(query, max_requests=max_requests, rate_window_s=1.5)
        records = sum(len(page.records) for page in fetch_pages(paced, request))
        return records, request.stats

    records, stats = run(3)
    assert graph.stats["throttled"] == 0 and stats.throttled == 0
    assert stats.paced_s > 0 and stats.requests > 2 * faults.throttle_limit  # 3+ windows
    assert records == len(served_ids(graph))

    records, stats = run(None)
    assert graph.stats["throttled"] > 0 and stats.retries >= stats.throttled > 0
    assert records == len(served_ids(graph))
