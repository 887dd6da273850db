"""The contract every registered source kind passes, with no code per kind.

For each feed of each registered kind (built from the kind's own ``example`` config, through
the same config parser the DAGs use):

- golden files: every ``tests/fixtures/<record_kind>/<case>.json`` normalises to
  ``<case>.expected.json`` (its events, or the reason it is quarantined); a mismatch prints
  every differing field, ``properties`` included. Regenerate after an intended change with

      UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/contract -k golden

  and review the diff of the ``.expected.json`` files like code;
- hostile records (missing keys, wrong types, NUL, lone surrogates, deep nesting, huge strings,
  SQL and HTML, records that are not objects) are loaded or quarantined with reasons, never
  crash the load, and extracted = loaded + quarantined + excluded;
- a rerun of the same batch changes no row.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from normalise_asserts import fixture_paths
from warehouse_asserts import audit_snapshot, land_pages

from access_warehouse.config import parse_sources
from access_warehouse.contract import NormalisationError
from access_warehouse.load import UNSTORABLE_REASON, load_batch
from access_warehouse.normalise import normalise_record
from access_warehouse.quality.policy import QualityPolicy
from access_warehouse.sources.base import Feed
from access_warehouse.sources.registry import registered_kinds

UPDATE_GOLDEN = os.environ.get("UPDATE_GOLDEN") == "1"


def example_feeds() -> list[tuple[str, Feed]]:
    feeds = []
    for kind in registered_kinds().values():
        config = parse_sources([{"kind": kind.name, **kind.example}], f"{kind.name}.example")
        feeds += [(kind.name, feed) for feed in config.feeds()]
    return feeds


FEEDS = example_feeds()
FEED_IDS = [f"{kind}:{feed.record_kind}" for kind, feed in FEEDS]
CASES = [(feed, path) for _, feed in FEEDS for path in fixture_paths(feed.record_kind)]


def test_every_registered_kind_has_feeds_with_fixtures() -> None:
    assert {"entra", "toy"} <= set(registered_kinds()), "the toy kind of the tests is registered"
    for kind in registered_kinds():
        assert any(name == kind for name, _ in FEEDS), f"kind {kind}'s example gives no feed"
    for _, feed in FEEDS:
        cases = fixture_paths(feed.record_kind)
        valid = [path for path in cases if not path.stem.startswith("invalid")]
        assert valid, f"no fixtures for {feed.record_kind} in tests/fixtures/{feed.record_kind}/"


def test_no_golden_file_without_its_case() -> None:
    for _, feed in FEEDS:
        folder = fixture_paths(feed.record_kind)[0].parent
        for expected in folder.glob("*.expected.json"):
            case = expected.with_name(expected.name.replace(".expected.json", ".json"))
            assert case.exists(), f"{expected} has no case {case.name}"


# --- golden files -------------------------------------------------------------------------


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON: {value!r}")


def golden_form(feed: Feed, record: Any) -> dict[str, Any]:
    """What a fixture normalises to, in the form the golden files keep."""
    try:
        events = normalise_record(feed.normalise, record, feed.source_id)
    except NormalisationError as exc:
        return {"quarantined": str(exc)}
    return json.loads(json.dumps({"events": events}, default=_json_value))


def field_diff(expected: Any, actual: Any, path: str = "") -> list[str]:
    """Every leaf that differs, as ``path: expected ..., got ...``."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        lines = []
        for key in sorted(set(expected) | set(actual)):
            sub = f"{path}.{key}" if path else key
            if key not in actual:
                lines.append(f"{sub}: expected {expected[key]!r}, missing")
            elif key not in expected:
                lines.append(f"{sub}: not expected, got {actual[key]!r}")
            else:
                lines += field_diff(expected[key], actual[key], sub)
        return lines
    if isinstance(expected, list) and isinstance(actual, list):
        lines = []
        if len(expected) != len(actual):
            lines.append(f"{path}: expected {len(expected)} items, got {len(actual)}")
        for index, (left, right) in enumerate(zip(expected, actual, strict=False)):
            lines += field_diff(left, right, f"{path}[{index}]")
        return lines
    return [] if expected == actual else [f"{path}: expected {expected!r}, got {actual!r}"]


@pytest.mark.parametrize(
    ("feed", "case"), CASES, ids=[f"{feed.record_kind}/{path.stem}" for feed, path in CASES]
)
def test_fixture_normalises_to_its_golden_file(feed: Feed, case: Path) -> None:
    actual = golden_form(feed, json.loads(case.read_text()))
    golden = case.with_name(f"{case.stem}.expected.json")
    if UPDATE_GOLDEN:
        golden.write_text(json.dumps(actual, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    assert golden.exists(), f"no golden file {golden.name}: see this module's docstring"
    diff = field_diff(json.loads(golden.read_text()), actual)
    assert not diff, f"{case.name} no longer normalises to {golden.name}:\n  " + "\n  ".join(diff)


def test_the_diff_names_every_differing_field() -> None:
    expected = {"events": [{"mfa": True, "properties": {"a": [1, 2], "b": "x"}}]}
    actual = {"events": [{"mfa": None, "properties": {"a": [1, 3], "c": "x"}}]}
    assert field_diff(expected, actual) == [
        "events[0].mfa: expected True, got None",
        "events[0].properties.a[1]: expected 2, got 3",
        "events[0].properties.b: expected 'x', missing",
        "events[0].properties.c: not expected, got 'x'",
    ]


# --- hostile records through the real load ---------------------------------------------------


def _map_strings(value: Any, change: Any) -> Any:
    if isinstance(value, str):
        return change(value)
    if isinstance(value, dict):
        return {key: _map_strings(item, change) for key, item in value.items()}
    if isinstance(value, list):
        return [_map_strings(item, change) for item in value]
    return value


def _deep(levels: int) -> Any:
    value: Any = "bottom"
    for _ in range(levels):
        value = {"next": value}
    return value


def hostile_records(valid: dict[str, Any]) -> tuple[list[Any], list[Any]]:
    """``(must_quarantine, must_not_crash)`` records derived from one valid record."""
    must_quarantine = [
        {},
        [],
        [valid],
        "a string",
        42,
        None,
        True,
        {key: None for key in valid},
        {**valid, "comment": "NUL \x00 here"},
        {**valid, "nested": {"text": "NUL \x00 deeper"}},
        {**valid, "comment": "lone surrogate \ud800"},
        {**valid, "deep": _deep(300)},
    ]
    must_not_crash = [
        {key: {"unexpected": [1, {"x": None}]} for key in valid},
        {key: 12345 for key in valid},
        {key: [valid[key], valid[key]] for key in valid},
        _map_strings(valid, lambda text: text + "x" * 10_000),
        _map_strings(valid, lambda text: text + "'); DROP TABLE audit.access_events; --"),
        _map_strings(valid, lambda text: f"<script>alert({text!r})</script>"),
        {**valid, "big": "y" * 1_000_000},
        {**valid, "unicode": "zażółć 🔐 \u202e"},
    ]
    return must_quarantine, must_not_crash


def _valid_fixtures(feed: Feed) -> list[dict[str, Any]]:
    return [
        json.loads(path.read_text())
        for path in fixture_paths(feed.record_kind)
        if "events" in json.loads(path.with_name(f"{path.stem}.expected.json").read_text())
    ]


@pytest.mark.robustness("Hostile records, every kind (see hostile_records)")
@pytest.mark.parametrize(("kind", "feed"), FEEDS, ids=FEED_IDS)
def test_hostile_records_never_crash_a_load_and_are_accounted_for(
    kind: str, feed: Feed, warehouse_dsn: str
) -> None:
    valid = _valid_fixtures(feed)
    must_quarantine, must_not_crash = hostile_records(valid[0])
    pages = [valid, must_quarantine, must_not_crash]
    extracted = sum(len(page) for page in pages)
    # Record by record: most of this batch is hostile on purpose, which the quarantine-share
    # check would rightly fail as a whole (tests/integration/test_batch_checks.py); here it is
    # off, to see what happens to each record.
    feed = replace(feed, quality=QualityPolicy(max_quarantine_share=None))

    summary = load_batch(warehouse_dsn, land_pages(warehouse_dsn, feed, pages), feed)

    assert summary.extracted == extracted
    assert summary.extracted == summary.loaded + summary.quarantined + summary.excluded
    assert summary.quarantined >= len(must_quarantine)
    with psycopg.connect(warehouse_dsn) as conn:
        assert conn.execute("SELECT to_regclass('audit.access_events')").fetchone()[0]
        quarantined = conn.execute(
            "SELECT payload, raw, reasons FROM dq.quarantine WHERE source_id = %s",
            (feed.source_id,),
        ).fetchall()
        # SQL in a value is data: kept verbatim in an event (every field lands somewhere) or in
        # quarantine, and the table it names is still there
        injected = conn.execute(
            "SELECT count(*) FROM audit.access_events e WHERE source_id = %s"
            " AND row_to_json(e)::text LIKE '%%DROP TABLE audit.access_events; --%%'",
            (feed.source_id,),
        ).fetchone()[0]
    assert all(reasons for _, _, reasons in quarantined)
    payloads = [payload for payload, raw, _ in quarantined if raw is None]
    for record in must_quarantine[:8]:  # storable as jsonb: quarantined as they came
        assert record in payloads, f"{record!r} was not quarantined"
    unstorable = [reasons for _, raw, reasons in quarantined if raw is not None]
    assert len(unstorable) == 4 and all(reasons == [UNSTORABLE_REASON] for reasons in unstorable)
    raw_bytes = {bytes(raw) for _, raw, _ in quarantined if raw is not None}
    assert any(b"\\u0000 here" in raw for raw in raw_bytes)  # byte for byte, NUL included
    assert any(b"\\ud800" in raw for raw in raw_bytes)
    for record in valid:  # the valid fixtures are never the ones quarantined
        assert record not in payloads
    assert injected > 0 or must_not_crash[4] in payloads

    before = audit_snapshot(warehouse_dsn)
    again = load_batch(warehouse_dsn, land_pages(warehouse_dsn, feed, pages), feed)
    assert (again.inserted, again.updated) == (0, 0)
    assert (again.loaded, again.quarantined, again.excluded) == (
        summary.loaded,
        summary.quarantined,
        summary.excluded,
    )
    assert audit_snapshot(warehouse_dsn) == before, "a rerun changes no row"
