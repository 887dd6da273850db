"""Completeness evidence per window (``dq.completeness``), the daily summary view and its CLI
command, through the real extract and load: Graph against the HTTPS simulator, a file source,
``generic_sql`` on the embedded Postgres."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from dag_runs import use_graph
from test_generic_sql import ROWS, T0, WINDOW, feed_of, insert, source_db  # noqa: F401

from access_warehouse.cli import main
from access_warehouse.extract import extract
from access_warehouse.landing import ExtractWindow
from access_warehouse.load import load_batch
from access_warehouse.quality.completeness import (
    completeness_rows,
    daily_summary,
    record_failure,
)
from access_warehouse.sources.base import Feed, FetchRequest, Page
from access_warehouse.sources.database import SourceUnavailable
from access_warehouse.sources.entra import EntraSource
from devtools.graph_simulator.server import FaultConfig, GraphSimulator, SimClock
from devtools.graph_simulator.tenant import TenantConfig

GRAPH_DAY = datetime(2026, 11, 10, tzinfo=UTC)
SQL_SOURCE = "generic_sql:billing_app"


def days_back(day: date) -> int:
    """The ``days`` argument that reaches back to ``day`` (today included)."""
    return (datetime.now(UTC).date() - day).days + 1


def only_row(dsn: str, source_id: str) -> dict[str, Any]:
    (row,) = completeness_rows(dsn, source_id)
    return row


# --- Graph -------------------------------------------------------------------------------


@pytest.fixture
def graph(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[GraphSimulator]:
    clock = SimClock(GRAPH_DAY + timedelta(days=2), frozen=True)
    with GraphSimulator(
        TenantConfig(tenant_id="contoso", signins_per_day=300),
        FaultConfig(throttle=False),
        cert_dir=tmp_path / "cert",
        clock=clock,
    ) as simulator:
        use_graph(monkeypatch, simulator, "contoso")
        yield simulator


def signins_feed() -> Feed:
    source = EntraSource.model_validate(
        {
            "kind": "entra",
            "name": "contoso",
            "tenant_id": "contoso",
            "conn_id": "msgraph_default",
            "signins": {"page_size": 20, "max_requests_per_10s": None},
        }
    )
    return next(feed for feed in source.feeds() if feed.record_kind == "entra_signins")


def test_graph_window_records_its_filter_pages_and_end_of_paging(
    warehouse_dsn: str, graph: GraphSimulator
) -> None:
    feed = signins_feed()
    window = ExtractWindow(GRAPH_DAY, GRAPH_DAY + timedelta(days=1))

    extracted = extract(warehouse_dsn, feed, window=window, dag_id="entra_signins", run_id="r1")
    loaded = load_batch(warehouse_dsn, extracted.batch_id, feed)

    row = only_row(warehouse_dsn, feed.source_id)
    assert row["status"] == "complete" and row["problems"] == []
    assert (row["dag_id"], row["run_id"]) == ("entra_signins", "r1")
    assert (row["window_start"], row["window_end"]) == (window.start, window.end)
    assert row["asked"]["window"]["start"] == window.start.isoformat()
    assert row["asked"]["selection"] == feed.selection.describe()
    streams = row["asked"]["streams"]
    assert streams and all(
        stream["params"]["$filter"].startswith(
            "createdDateTime ge 2026-11-10T00:00:00Z and createdDateTime lt 2026-11-11T00:00:00Z"
        )
        and stream["params"]["$top"] == 20
        and stream["request"].startswith(f"GET /{row['asked']['api_version']}/auditLogs/signIns?")
        for stream in streams
    )
    said = row["source_said"]
    assert said["paging_ended"] is True
    assert said["pages"] == extracted.pages > len(streams)  # several pages per stream
    assert sum(stream["pages"] for stream in said["streams"].values()) == extracted.pages
    assert all(stream["paging_ended"] for stream in said["streams"].values())
    assert sum(stream["records"] for stream in said["streams"].values()) == extracted.records
    assert row["extracted"] == extracted.records == loaded.extracted > 0
    assert (row["loaded"], row["quarantined"], row["excluded"]) == (
        loaded.loaded,
        loaded.quarantined,
        loaded.excluded,
    )
    assert row["source_count"] is None  # Graph gives no count of a window
    # the evidence lives in the warehouse, not in XCom
    assert "asked" not in extracted.requests and "source_said" not in extracted.requests


# --- files -------------------------------------------------------------------------------


def ecs_line(n: int) -> str:
    return (
        f'{{"@timestamp": "2026-11-20T10:00:{n:02d}Z", "event": {{"id": "evt-{n}", '
        '"category": "authentication", "action": "user-login", "outcome": "success"}, '
        f'"user": {{"email": "user{n}@example.com"}}}}\n'
    )


def test_file_source_records_each_file_with_its_size_and_lines(
    warehouse_dsn: str, tmp_path: Path
) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    first, second = folder / "a.jsonl", folder / "b.jsonl"
    first.write_text(ecs_line(1) + ecs_line(2) + "\n" + ecs_line(3))  # a blank line: not a record
    second.write_text(ecs_line(4) + "not json\n")  # a bad line lands and is quarantined
    (feed,) = _file_feed(folder)

    extracted = extract(warehouse_dsn, feed)
    load_batch(warehouse_dsn, extracted.batch_id, feed)

    row = only_row(warehouse_dsn, feed.source_id)
    assert row["status"] == "complete", row["problems"]
    assert row["asked"]["files"] == [str(first), str(second)]
    assert row["asked"]["path"] == str(folder)
    files = row["source_said"]["files"]
    assert {path: (state["lines"], state["read"]) for path, state in files.items()} == {
        str(first): (3, 3),
        str(second): (2, 2),
    }
    assert files[str(first)]["size"] == first.stat().st_size
    assert row["source_count"] == 5 == row["extracted"]
    assert row["quarantined"] == 1 and row["loaded"] == 4


def _file_feed(folder: Path) -> list[Feed]:
    from access_warehouse.config import parse_sources

    return parse_sources([{"kind": "ecs_jsonl", "name": "audit", "path": str(folder)}], "t").feeds()


# --- database ----------------------------------------------------------------------------


def test_database_source_records_its_query_parameters_and_count(
    warehouse_dsn: str,
    source_db: str,  # noqa: F811
) -> None:
    insert(source_db, ROWS)
    feed = feed_of()

    extracted = extract(warehouse_dsn, feed, window=WINDOW)
    load_batch(warehouse_dsn, extracted.batch_id, feed)

    row = only_row(warehouse_dsn, SQL_SOURCE)
    assert row["status"] == "complete", row["problems"]
    asked = row["asked"]
    assert asked["table"] == "app.access_log"
    query = " ".join(asked["query"].split())
    assert "FROM app.access_log WHERE app.access_log.created_at >=" in query
    assert sorted(asked["parameters"].values()) == [
        WINDOW.start.isoformat(),
        WINDOW.end.isoformat(),
    ]
    assert row["source_said"]["count"] == row["source_count"] == len(ROWS) == row["extracted"]
    assert row["source_said"]["count_snapshot"] is True  # Postgres: one REPEATABLE READ snapshot


def dropping_first_row(feed: Feed) -> Feed:
    """The feed with a fetch that loses the first row it reads (as a buggy kind would)."""

    def fetch(request: FetchRequest) -> Iterator[Page]:
        dropped = False
        for page in feed.fetch(request):
            if not dropped and page.records:
                page, dropped = dataclasses.replace(page, records=page.records[1:]), True
            yield page

    return dataclasses.replace(feed, fetch=fetch)


def test_a_window_that_does_not_reconcile_is_marked_and_its_day_never_complete(
    warehouse_dsn: str,
    source_db: str,  # noqa: F811
) -> None:
    insert(source_db, ROWS)
    insert(
        source_db, [(100 + n, 60 + n, "carol", "login", "ok", None, None, None) for n in range(3)]
    )
    feed = feed_of()
    later = ExtractWindow(WINDOW.end, WINDOW.end + timedelta(hours=1))
    for window, which in ((WINDOW, dropping_first_row(feed)), (later, feed)):
        summary = extract(warehouse_dsn, which, window=window)
        load_batch(warehouse_dsn, summary.batch_id, which)

    rows = {row["window_start"]: row for row in completeness_rows(warehouse_dsn, SQL_SOURCE)}
    short, whole = rows[WINDOW.start], rows[later.start]
    assert whole["status"] == "complete" and whole["source_count"] == whole["extracted"] == 3
    assert short["status"] == "not_reconciled"
    assert (short["source_count"], short["extracted"]) == (len(ROWS), len(ROWS) - 1)
    assert short["problems"] == [
        f"the source counted {len(ROWS)} records, {len(ROWS) - 1} were extracted (1 missing)"
    ]

    (day,) = daily_summary(warehouse_dsn, days_back(T0.date()), SQL_SOURCE)
    assert (day.day, day.batches, day.windows) == (T0.date(), 2, 2)
    assert day.status == "not_reconciled"
    assert day.extracted == len(ROWS) - 1 + 3
    assert day.problems == short["problems"]

    # a rerun of the window that reads every row answers for it: the day is complete again
    summary = extract(warehouse_dsn, feed, window=WINDOW)
    load_batch(warehouse_dsn, summary.batch_id, feed)
    (day,) = daily_summary(warehouse_dsn, days_back(T0.date()), SQL_SOURCE)
    assert (day.status, day.batches, day.windows, day.problems) == ("complete", 3, 2, [])
    assert day.extracted == len(ROWS) + 3


def test_a_failed_extract_is_recorded_extract_failed(
    warehouse_dsn: str,
    source_db: str,  # noqa: F811
) -> None:
    feed = feed_of(table="app.no_such_table")

    with pytest.raises(SourceUnavailable, match="no_such_table"):
        extract(warehouse_dsn, feed, window=WINDOW)

    row = only_row(warehouse_dsn, SQL_SOURCE)
    assert row["status"] == "extract_failed"
    assert len(row["problems"]) == 1 and "SourceUnavailable" in row["problems"][0]
    assert row["loaded"] is None and row["asked"]["window"]["end"] == WINDOW.end.isoformat()
    (day,) = daily_summary(warehouse_dsn, days_back(T0.date()))
    assert day.status == "extract_failed"


def test_failed_checks_mark_the_window_in_a_transaction_of_their_own(
    warehouse_dsn: str,
    source_db: str,  # noqa: F811
) -> None:
    insert(source_db, ROWS)
    feed = feed_of()
    summary = extract(warehouse_dsn, feed, window=WINDOW)

    record_failure(
        warehouse_dsn,
        summary.batch_id,
        "failed_checks",
        ["row count 6 below the expected minimum 10"],
        selection=feed.selection.describe(),
        counts={"quarantined": 0, "excluded": 0},
    )

    row = only_row(warehouse_dsn, SQL_SOURCE)
    assert (row["status"], row["loaded"], row["extracted"]) == ("failed_checks", 0, len(ROWS))
    assert row["source_count"] == len(ROWS)  # the evidence of the extract is kept
    assert row["problems"] == ["row count 6 below the expected minimum 10"]
    (day,) = daily_summary(warehouse_dsn, days_back(T0.date()))
    assert day.status == "failed_checks"
    with pytest.raises(ValueError, match="not 'complete'"):
        record_failure(warehouse_dsn, summary.batch_id, "complete", [])


# --- the CLI -------------------------------------------------------------------------------


def test_cli_prints_the_daily_summary(
    warehouse_dsn: str,
    source_db: str,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    insert(source_db, ROWS)
    feed = dropping_first_row(feed_of())
    summary = extract(warehouse_dsn, feed, window=WINDOW)
    load_batch(warehouse_dsn, summary.batch_id, feed)
    days = str(days_back(T0.date()))

    assert main(["daily-summary", "--dsn", warehouse_dsn, "--days", days]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"daily summary, last {days} days (UTC): 1 sources")
    assert lines[1].split() == [
        "day",
        "source",
        "batches",
        "extracted",
        "loaded",
        "quarantined",
        "excluded",
        "failed",
        "checks",
        "status",
    ]
    row = lines[3].split()
    assert row[:2] == [T0.date().isoformat(), SQL_SOURCE]
    assert row[2:4] == ["1", str(len(ROWS) - 1)] and row[-1] == "not_reconciled"
    assert "the source counted 6 records, 5 were extracted (1 missing)" in lines[4]

    assert main(["daily-summary", "--dsn", warehouse_dsn, "--source", "toy:nothing"]) == 0
    assert "no windows recorded" in capsys.readouterr().out


def test_auditors_read_the_summary(warehouse_dsn: str) -> None:
    with psycopg.connect(warehouse_dsn) as conn:
        granted = conn.execute(
            "SELECT has_table_privilege('auditor_readonly', 'auditor.daily_completeness', 'SELECT')"
        ).fetchone()[0]
    assert granted
