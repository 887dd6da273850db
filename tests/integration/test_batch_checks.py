"""Validation as a stage people can read: the repo's suites quarantine each kind of row defect
with every failed expectation's id, warnings are counted without holding a row back, and the
batch-level checks (quarantine share, volume, a stalled feed, freshness) fail the whole window:
nothing of it loads, and what failed, by how much, is in ``dq.*``. Real loads into a real
warehouse; every test would fail without the check it is about."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from access_warehouse.config import parse_sources
from access_warehouse.contract import NORMALISED_COLUMNS
from access_warehouse.landing import ExtractWindow, LandingBatch
from access_warehouse.load import load_batch
from access_warehouse.quality.batch_checks import BatchChecksFailed
from access_warehouse.quality.policy import QualityPolicy
from access_warehouse.quality.suites import SuiteError, event_suite
from access_warehouse.sources.base import Feed
from access_warehouse.sources.registry import registered_kinds

DAY = datetime(2026, 11, 10, tzinfo=UTC)
FIXTURES = Path(__file__).parents[1] / "fixtures"


def passthrough(record: dict[str, Any], source_id: str) -> dict[str, Any]:
    """Records that are events already: each defect reaches validation as written."""
    event = {column: record.get(column) for column in NORMALISED_COLUMNS}
    event.update(
        source_id=source_id,
        occurred_at=datetime.fromisoformat(record["occurred_at"]),
        properties={},
    )
    return event


def event(n: int, at: datetime, **fields: Any) -> dict[str, Any]:
    return {
        "event_id": f"e-{n}",
        "occurred_at": at.isoformat(),
        "category": "authentication",
        "action": "sign_in",
        "outcome": "success",
        "actor_external_id": f"user-{n % 3}",
        "actor_name": f"user {n % 3}",
        "actor_principal_name": f"user{n % 3}@example.com",
        "actor_type": "user",
        "target_external_id": "app-1",
        "target_name": "App",
        "target_type": "application",
        "source_ip": "203.0.113.9",
        "mfa": False,
        **fields,
    }


def toy_feed(tmp_path: Path, **policy: Any) -> Feed:
    (source,) = parse_sources(
        [{"kind": "toy", "name": "checks", "path": str(tmp_path / "none.jsonl")}], "test"
    ).sources
    (feed,) = source.feeds()
    return replace(feed, normalise=passthrough, expectations=None, quality=QualityPolicy(**policy))


def land(dsn: str, feed: Feed, records: list[dict[str, Any]], start: datetime) -> str:
    batch = LandingBatch(
        dsn,
        source_id=feed.source_id,
        source_kind=feed.record_kind,
        window=ExtractWindow(start, start + timedelta(days=1)),
    )
    batch.write_page(records)
    batch.finish("extracted")
    batch.close()
    return str(batch.batch_id)


def day_of(count: int, start: datetime, first: int = 0) -> list[dict[str, Any]]:
    step = timedelta(days=1) / max(count, 1)
    return [event(first + n, start + n * step) for n in range(count)]


def one(dsn: str, query: str, *params: Any) -> Any:
    with psycopg.connect(dsn) as conn:
        return conn.execute(query, params).fetchall()


# --- row-level: the shared suite --------------------------------------------------------------


def test_each_row_defect_is_quarantined_naming_its_expectation_and_warnings_load(
    tmp_path: Path, warehouse_dsn: str
) -> None:
    feed = toy_feed(tmp_path, max_quarantine_share=None)
    at = DAY + timedelta(hours=9)
    records = [
        event(1, at),
        event(2, at, source_ip="300.1.2.3"),  # no IPv4
        event(3, at, error_code="E-12", outcome="failure"),  # not a numeric code
        event(4, at, category="database", mfa=True),  # MFA on a statement
        event(5, DAY - timedelta(hours=1)),  # before the window it was extracted for
        event(6, at, outcome="maybe"),
        event(7, at, category="billing"),  # unknown category: a warning, it loads
        event(8, at, mfa=True, auth_method=None),  # MFA without a method: a warning, it loads
        event(9, at, source_ip="2001:db8::7", mfa=True, auth_method="fido2"),
    ]
    summary = load_batch(warehouse_dsn, land(warehouse_dsn, feed, records, DAY), feed)

    assert (summary.extracted, summary.loaded, summary.quarantined) == (9, 4, 5)
    reasons = dict(one(warehouse_dsn, "SELECT payload->>'event_id', reasons FROM dq.quarantine"))
    # the shared guard refuses an impossible address before the suite sees it (the suite's
    # source_ip.valid keeps each kind's normaliser honest all the same)
    assert reasons.pop("e-2") == ["normalise: source_ip '300.1.2.3' is not an IPv4 or IPv6 address"]
    expected = {
        "e-3": "error_code.format",
        "e-4": "mfa.only_on_access",
        "e-5": "occurred_at.in_window",
        "e-6": "outcome.in_set",
    }
    assert set(reasons) == set(expected)
    for key, expectation in expected.items():
        assert [reason.split(": ")[1] for reason in reasons[key]] == [expectation], reasons[key]
    assert "outside [2026-11-10T00:00:00+00:00, 2026-11-11T00:00:00+00:00)" in reasons["e-5"][0]
    loaded = {row[0] for row in one(warehouse_dsn, "SELECT event_id FROM audit.access_events")}
    assert loaded == {"e-1", "e-7", "e-8", "e-9"}

    results = {
        row[0]: row[1:]
        for row in one(
            warehouse_dsn,
            "SELECT expectation, success, severity, level, unexpected_count, evaluated,"
            " unexpected_percent, observed_value FROM dq.expectation_results WHERE level = 'row'",
        )
    }
    assert results["source_ip.valid"][:5] == (True, "error", "row", 0, 8)  # e-2 never got here
    assert results["error_code.format"][:5] == (False, "error", "row", 1, 8)
    assert results["error_code.format"][6] == ["E-12"]
    assert results["category.in_set"][:4] == (False, "warning", "row", 1)
    assert results["category.in_set"][6] == ["billing"]
    assert results["mfa.method_named"][:2] == (False, "warning")
    assert results["required.event_id"][:2] == (True, "error")
    assert results["outcome.in_set"][5] == pytest.approx(100 / 8, rel=1e-3)
    runs = one(
        warehouse_dsn,
        "SELECT suite_name, status, success, evaluated, warnings, window_start, window_end"
        " FROM dq.validation_runs",
    )
    assert runs == [
        ("access_events.toy_events", "quarantined", False, 8, 2, DAY, DAY + timedelta(days=1))
    ]


def test_a_kind_suite_replaces_a_shared_expectation_by_id() -> None:
    shared = {spec.id: spec for spec in event_suite("toy_events").expectations}
    csvlog = {spec.id: spec for spec in event_suite("postgres_csvlog").expectations}
    assert shared["error_code.format"].kwargs["regex"] == "^-?[0-9]+$"
    assert csvlog["error_code.format"].kwargs["regex"] == "^[0-9A-Z]{5}$"  # SQLSTATE: 28P01
    assert set(shared) == set(csvlog)


def test_a_malformed_suite_file_is_refused_naming_the_file_and_expectation(
    tmp_path: Path,
) -> None:
    good = json.loads(
        (FIXTURES.parents[1] / "include/quality/suites/access_events.json").read_text()
    )
    broken = copy.deepcopy(good)
    broken["expectations"][3]["severity"] = "fatal"
    (tmp_path / "access_events.json").write_text(json.dumps(broken))
    with pytest.raises(SuiteError, match=r"access_events.json expectation 4 \(required.category\)"):
        event_suite("toy_events", tmp_path)
    broken["expectations"][3] = {**good["expectations"][3], "type": "expect_column_to_sparkle"}
    (tmp_path / "access_events.json").write_text(json.dumps(broken))
    with pytest.raises(SuiteError, match="GX has no expectation 'expect_column_to_sparkle'"):
        event_suite("other_kind", tmp_path)


# --- row-level: a kind's raw suite ------------------------------------------------------------


def test_graph_raw_checks_quarantine_an_unparseable_time_and_warn_on_new_enum_members(
    warehouse_dsn: str,
) -> None:
    kind = registered_kinds()["entra"]
    feeds = parse_sources([{"kind": "entra", **kind.example}], "test").feeds()
    (feed,) = [f for f in feeds if f.record_kind == "entra_signins"]
    feed = replace(feed, quality=QualityPolicy(max_quarantine_share=None))
    record = json.loads((FIXTURES / "entra_signins/beta_extra_fields.json").read_text())
    at = datetime.fromisoformat(record["createdDateTime"].replace("Z", "+00:00"))
    start = at.replace(hour=0, minute=0, second=0)
    bad_time = {**record, "id": "bad-time", "createdDateTime": "2026-11-20 20:10"}
    new_member = {**record, "id": "new-member", "conditionalAccessStatus": "reportOnlySuccess"}
    batch = land(warehouse_dsn, feed, [record, bad_time, new_member], start)

    summary = load_batch(warehouse_dsn, batch, feed)

    assert (summary.loaded, summary.quarantined) == (2, 1)
    (reasons,) = one(warehouse_dsn, "SELECT reasons FROM dq.quarantine")[0]
    assert any(
        r.startswith("expectation: raw.entra_signins.createdDateTime.iso8601") for r in reasons
    )
    raw = {
        row[0]: row[1:]
        for row in one(
            warehouse_dsn,
            "SELECT r.expectation, r.success, r.severity, r.observed_value"
            " FROM dq.expectation_results r JOIN dq.validation_runs v USING (validation_id)"
            " WHERE v.suite_name = 'raw.entra_signins'",
        )
    }
    assert raw["conditionalAccessStatus.known"] == (False, "warning", ["reportOnlySuccess"])
    assert raw["id.present"][0] is True


# --- batch-level ------------------------------------------------------------------------------


def test_a_quarantine_share_above_the_threshold_fails_the_window_and_loads_nothing(
    tmp_path: Path, warehouse_dsn: str
) -> None:
    feed = toy_feed(tmp_path, max_quarantine_share=0.5)
    at = DAY + timedelta(hours=9)
    records = [event(n, at) for n in range(10)]
    records += [event(n, at, outcome="maybe") for n in range(10, 30)]
    batch = land(warehouse_dsn, feed, records, DAY)

    with pytest.raises(BatchChecksFailed) as failure:
        load_batch(warehouse_dsn, batch, feed)

    message = str(failure.value)
    assert "quarantine_share: 20 of 30 records quarantined (66.7%), more than the 50.0%" in message
    assert one(warehouse_dsn, "SELECT count(*) FROM audit.access_events") == [(0,)]
    assert one(warehouse_dsn, "SELECT count(*) FROM audit.batches") == [(0,)]
    assert one(warehouse_dsn, "SELECT count(*) FROM dq.quarantine") == [(0,)]
    assert one(warehouse_dsn, "SELECT status FROM landing.extract_batches") == [("extracted",)]
    assert one(warehouse_dsn, "SELECT status, success FROM dq.validation_runs") == [
        ("failed", False)
    ]
    # the window's completeness evidence says so: never reported as complete
    ((status, problems),) = one(warehouse_dsn, "SELECT status, problems FROM dq.completeness")
    assert status == "failed_checks" and problems[0].startswith("quarantine_share: 20 of 30")
    (observed,) = one(
        warehouse_dsn,
        "SELECT observed_value FROM dq.expectation_results WHERE expectation = 'quarantine_share'",
    )[0]
    assert observed == {"quarantined": 20, "extracted": 30, "share": 0.6667}

    # named in warn_only, the same check only warns: the window loads, the warning is recorded
    warned = replace(feed, quality=QualityPolicy(warn_only=("quarantine_share",)))
    summary = load_batch(warehouse_dsn, batch, warned)
    assert (summary.loaded, summary.quarantined) == (10, 20)
    assert one(
        warehouse_dsn,
        "SELECT v.status, r.success, r.severity FROM dq.expectation_results r"
        " JOIN dq.validation_runs v USING (validation_id) WHERE r.expectation = 'quarantine_share'"
        " ORDER BY v.run_at",
    ) == [("failed", False, "error"), ("quarantined", False, "warning")]


def _history(dsn: str, feed: Feed, per_day: int = 24, days: int = 3) -> None:
    for day in range(days):
        start = DAY + timedelta(days=day)
        load_batch(dsn, land(dsn, feed, day_of(per_day, start, first=day * 1000), start), feed)


def test_a_stalled_feed_fails_where_the_source_normally_has_events(
    tmp_path: Path, warehouse_dsn: str
) -> None:
    feed = toy_feed(tmp_path)
    _history(warehouse_dsn, feed)
    quiet = DAY + timedelta(days=3)
    batch = land(warehouse_dsn, feed, [], quiet)
    with pytest.raises(BatchChecksFailed, match="no_events: no record at all in this window"):
        load_batch(warehouse_dsn, batch, feed)
    # a source that may be quiet says so
    summary = load_batch(
        warehouse_dsn, batch, replace(feed, quality=QualityPolicy(expect_events=False))
    )
    assert summary.extracted == 0


def test_volume_far_below_or_above_the_trailing_windows_fails(
    tmp_path: Path, warehouse_dsn: str
) -> None:
    feed = toy_feed(tmp_path)
    _history(warehouse_dsn, feed)
    start = DAY + timedelta(days=3)
    drop = land(warehouse_dsn, feed, day_of(1, start, first=5000), start)
    with pytest.raises(BatchChecksFailed, match=r"volume: 0.0 records per hour is 0.04 times"):
        load_batch(warehouse_dsn, drop, feed)
    flood = land(warehouse_dsn, feed, day_of(300, start, first=6000), start)
    with pytest.raises(BatchChecksFailed, match=r"volume: 12.5 records per hour is 12.50 times"):
        load_batch(warehouse_dsn, flood, feed)
    normal = land(warehouse_dsn, feed, day_of(30, start, first=7000), start)
    assert load_batch(warehouse_dsn, normal, feed).loaded == 30
    (observed,) = one(
        warehouse_dsn,
        "SELECT observed_value FROM dq.expectation_results r JOIN dq.validation_runs v"
        " USING (validation_id) WHERE r.expectation = 'volume' AND v.status <> 'failed'",
    )[0]
    assert observed["windows_compared"] == 3 and observed["ratio"] == 1.25


def test_the_newest_event_older_than_allowed_fails_freshness(
    tmp_path: Path, warehouse_dsn: str
) -> None:
    feed = toy_feed(tmp_path, max_event_age_minutes=120)
    stale = land(warehouse_dsn, feed, [event(1, DAY + timedelta(hours=2))], DAY)
    with pytest.raises(BatchChecksFailed, match="freshness: the newest event is 1320 minutes"):
        load_batch(warehouse_dsn, stale, feed)
    fresh = land(warehouse_dsn, feed, [event(2, DAY + timedelta(hours=23))], DAY)
    assert load_batch(warehouse_dsn, fresh, feed).loaded == 1
