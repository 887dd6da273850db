"""Values that used to load wrong: an event at two times, two versions in one batch, an older
extract loaded after a newer one, impossible times, bad IP addresses, partitions created by
loads running at once."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from toy_kind import toy_line
from warehouse_asserts import assert_access_logs_exact, land_pages

from access_warehouse.config import parse_sources
from access_warehouse.landing import ExtractWindow, LandingBatch
from access_warehouse.load import load_batch
from access_warehouse.sources.base import Feed

DAY = datetime(2026, 11, 10, tzinfo=UTC)


def toy(name: str = "demo") -> Feed:
    entry = {"kind": "toy", "name": name, "path": "/unused"}
    return parse_sources([entry], "test").feed(f"toy:{name}")


def record(n: int, **changes: object) -> dict:
    return {**json.loads(toy_line(n)), **changes}


def stored(dsn: str, *columns: str) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            f"SELECT event_id, {', '.join(columns)} FROM audit.access_events ORDER BY 1"
        ).fetchall()


@pytest.mark.robustness("Same id at another time")
def test_an_event_whose_time_changed_is_moved_not_doubled(warehouse_dsn: str) -> None:
    feed = toy()
    load_batch(warehouse_dsn, land_pages(warehouse_dsn, feed, [[record(1), record(2)]]), feed)
    moved = record(1, at="2026-11-10T09:30:00Z")
    summary = load_batch(warehouse_dsn, land_pages(warehouse_dsn, feed, [[moved]]), feed)

    assert (summary.inserted, summary.updated) == (0, 1)
    times = dict(stored(warehouse_dsn, "occurred_at"))
    assert times == {"toy-1": datetime(2026, 11, 10, 9, 30, tzinfo=UTC), "toy-2": times["toy-2"]}
    logs = assert_access_logs_exact(warehouse_dsn)
    assert sum(row[4] for row in logs) == 2


@pytest.mark.robustness("Two versions of an event in one batch")
def test_two_versions_in_one_batch_keep_the_last_landed_and_say_so(warehouse_dsn: str) -> None:
    feed = toy()
    first, second = record(1, resource="/first"), record(1, resource="/second")
    summary = load_batch(
        warehouse_dsn, land_pages(warehouse_dsn, feed, [[first, record(2)], [second]]), feed
    )

    assert (summary.loaded, summary.duplicates, summary.inserted) == (3, 1, 2)
    assert dict(stored(warehouse_dsn, "target_name"))["toy-1"] == "/second"
    with psycopg.connect(warehouse_dsn) as conn:
        details = conn.execute("SELECT details FROM audit.batches").fetchone()[0]
    assert details["conflicting_duplicates"] == 1


@pytest.mark.robustness("Older extract loaded after a newer one")
def test_an_older_extract_loaded_late_keeps_the_newer_content(warehouse_dsn: str) -> None:
    feed = toy()
    older = land_pages(warehouse_dsn, feed, [[record(1, resource="/old")]])
    newer = land_pages(warehouse_dsn, feed, [[record(1, resource="/new")]])
    load_batch(warehouse_dsn, newer, feed)

    late = load_batch(warehouse_dsn, older, feed)

    assert (late.inserted, late.updated, late.unchanged) == (0, 0, 1)
    assert stored(warehouse_dsn, "target_name") == [("toy-1", "/new")]
    with psycopg.connect(warehouse_dsn) as conn:
        stale = conn.execute(
            "SELECT details->'stale' FROM audit.batches WHERE batch_id = %s", (older,)
        ).fetchone()[0]
    assert stale == 1


@pytest.mark.robustness("Absurd, out-of-window and other-zone times; bad IPs")
def test_times_outside_the_window_and_bad_addresses_are_quarantined(warehouse_dsn: str) -> None:
    feed = toy()
    window = ExtractWindow(DAY, DAY + timedelta(days=1))
    batch = LandingBatch(
        warehouse_dsn, source_id=feed.source_id, source_kind=feed.record_kind, window=window
    )
    batch.write_page(
        [
            record(1),
            record(2, at="1601-01-01T00:00:00Z"),
            record(3, at="9999-12-31T23:00:00-05:00"),  # past datetime's range in UTC
            record(4, at="2026-11-11T00:00:00Z"),  # the window's end is excluded
            record(5, at="2026-11-10T01:30:00+02:00"),  # 23:30 the day before
            record(6, at="2026-11-10T12:00:00-05:00"),  # 17:00 UTC, inside
        ]
    )
    batch.finish("extracted")
    batch.close()
    feed_with_ip = replace(
        feed, normalise=lambda r, s: {**feed.normalise(r, s), "source_ip": r.get("ip")}
    )

    summary = load_batch(warehouse_dsn, str(batch.batch_id), feed_with_ip)

    assert (summary.loaded, summary.quarantined) == (2, 4)
    with psycopg.connect(warehouse_dsn) as conn:
        reasons = dict(conn.execute("SELECT record_key, reasons[1] FROM dq.quarantine"))
        partitions = [
            row[0]
            for row in conn.execute(
                "SELECT relname FROM pg_class WHERE relname LIKE 'access_events_y%%'"
                " AND relkind = 'r'"
            )
        ]
    assert "outside [2026-11-10T00:00:00+00:00, 2026-11-11T00:00:00+00:00)" in reasons["toy-2"]
    assert "OverflowError" in reasons["toy-3"]  # 9999-12-31T23:00-05:00 has no UTC datetime
    assert "outside" in reasons["toy-4"] and "outside" in reasons["toy-5"]
    assert partitions == ["access_events_y2026m11"], "no partition for 1601 or 9999"

    bad_ip = land_pages(warehouse_dsn, feed, [[record(7, ip="999.1.2.3"), record(8, ip="::1")]])
    summary = load_batch(warehouse_dsn, bad_ip, feed_with_ip)
    assert (summary.loaded, summary.quarantined) == (1, 1)
    with psycopg.connect(warehouse_dsn) as conn:
        reason = conn.execute(
            "SELECT reasons[1] FROM dq.quarantine WHERE record_key = 'toy-7'"
        ).fetchone()[0]
    assert "source_ip '999.1.2.3' is not an IPv4 or IPv6 address" in reason


@pytest.mark.robustness("Loads of four sources at once, all creating one new month")
def test_loads_of_several_sources_creating_the_same_month_at_once_do_not_deadlock(
    warehouse_dsn: str,
) -> None:
    # every load needs the same new month and the same new people and applications
    feeds = [toy(f"source{n}") for n in range(4)]
    month = [record(n, at=f"2029-03-0{1 + n % 5}T10:00:00Z") for n in range(40)]
    batches = [land_pages(warehouse_dsn, feed, [month]) for feed in feeds]
    errors: list[BaseException] = []
    start = threading.Barrier(len(feeds))

    def load(feed: Feed, batch_id: str) -> None:
        try:
            start.wait()
            load_batch(warehouse_dsn, batch_id, feed)
        except BaseException as exc:  # reported below, with its type
            errors.append(exc)

    threads = [
        threading.Thread(target=load, args=pair) for pair in zip(feeds, batches, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    with psycopg.connect(warehouse_dsn) as conn:
        counts = conn.execute(
            "SELECT source_id, count(*) FROM audit.access_events GROUP BY 1 ORDER BY 1"
        ).fetchall()
        people = conn.execute("SELECT count(*) FROM audit.external_users").fetchone()[0]
    assert counts == [(feed.source_id, 40) for feed in feeds]
    assert people == 3  # user0..2@example.com, shared by all four sources
    assert_access_logs_exact(warehouse_dsn)


@pytest.mark.robustness("Two runs of one window at once")
def test_two_runs_of_one_window_at_once_end_as_one_does(warehouse_dsn: str) -> None:
    feed = toy()
    records = [record(n) for n in range(30)]
    batches = [land_pages(warehouse_dsn, feed, [records]) for _ in range(2)]
    results: list[object] = []
    threads = [
        threading.Thread(target=lambda b=b: results.append(load_batch(warehouse_dsn, b, feed)))
        for b in batches
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert sorted((r.inserted, r.unchanged) for r in results) == [(0, 30), (30, 0)]
    assert len(stored(warehouse_dsn, "content_hash")) == 30
    assert_access_logs_exact(warehouse_dsn)
