"""Loading landed sign-ins into the audit schema: real Postgres, real GX suite."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from warehouse_asserts import assert_access_logs_exact, audit_snapshot, land_pages

from access_warehouse.landing import ExtractWindow
from access_warehouse.load import BatchNotLoadable, load_batch
from access_warehouse.sources.base import Feed, Normaliser
from access_warehouse.sources.entra import EntraSource
from access_warehouse.sources.entra.signins import normalise_signin

FIXTURES = Path(__file__).parents[1] / "fixtures" / "entra_signins"
SIGNINS = EntraSource(kind="entra", name="test", tenant_id="test", conn_id="msgraph_default").feed(
    "signins"
)
WINDOW = ExtractWindow(
    datetime(2020, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC), timedelta(0)
)


def feed(normalise: Normaliser) -> Feed:
    """The test tenant's sign-in feed with another normaliser."""
    return replace(SIGNINS, normalise=normalise)


def fixture_records() -> tuple[list[dict], list[dict]]:
    valid, invalid = [], []
    for path in sorted(FIXTURES.glob("*.json")):
        if path.name.endswith(".expected.json"):
            continue
        record = json.loads(path.read_text())
        (invalid if path.name.startswith("invalid_") else valid).append(record)
    return valid, invalid


def land(dsn: str, pages: list[list[dict]], status: str = "extracted") -> str:
    return land_pages(dsn, SIGNINS, pages, status)


def test_load_counts_quarantine_and_lineage(warehouse_dsn: str) -> None:
    valid, invalid = fixture_records()
    batch_id = land(warehouse_dsn, [valid[:5], valid[5:] + invalid])

    summary = load_batch(warehouse_dsn, batch_id, feed(normalise_signin))

    assert summary.extracted == len(valid) + len(invalid)
    assert summary.quarantined == len(invalid)
    assert summary.loaded == len(valid)
    assert summary.extracted == summary.loaded + summary.quarantined
    assert summary.inserted == len(valid) and summary.updated == 0
    with psycopg.connect(warehouse_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM audit.access_events").fetchone()[0] == len(valid)
        reasons = conn.execute("SELECT record_key, reasons FROM dq.quarantine").fetchall()
        assert len(reasons) == len(invalid)
        assert all(r[1] and r[1][0].startswith("normalise: ") for r in reasons)
        row = conn.execute(
            "SELECT extracted, loaded, quarantined, batch_hash, prev_hash FROM audit.batches"
        ).fetchone()
        assert row[:3] == (summary.extracted, summary.loaded, summary.quarantined)
        assert row[3] == summary.batch_hash and row[4] is None
        status = conn.execute("SELECT status FROM landing.extract_batches").fetchone()[0]
        assert status == "loaded"
        # every event resolved to a person; user events also to an application config item
        unresolved = conn.execute(
            "SELECT count(*) FROM audit.access_events WHERE external_user_id IS NULL"
        ).fetchone()[0]
        assert unresolved == 0


def test_rerun_changes_no_row(warehouse_dsn: str) -> None:
    valid, _ = fixture_records()
    load_batch(warehouse_dsn, land(warehouse_dsn, [valid]), feed(normalise_signin))
    before = audit_snapshot(warehouse_dsn)

    again = load_batch(warehouse_dsn, land(warehouse_dsn, [valid]), feed(normalise_signin))

    assert (again.inserted, again.updated, again.unchanged) == (0, 0, len(valid))
    assert audit_snapshot(warehouse_dsn) == before
    with psycopg.connect(warehouse_dsn) as conn:
        hashes = conn.execute(
            "SELECT prev_hash, batch_hash FROM audit.batches ORDER BY sequence_no"
        ).fetchall()
    assert hashes[1][0] == hashes[0][1], "each batch row chains to the one before"


def test_duplicates_within_a_batch_collapse(warehouse_dsn: str) -> None:
    valid, _ = fixture_records()
    summary = load_batch(
        warehouse_dsn,
        land(warehouse_dsn, [valid, valid[:3]]),
        feed(normalise_signin),
    )
    assert summary.duplicates == 3
    assert summary.inserted == len(valid)
    assert summary.extracted == summary.loaded + summary.quarantined


def test_changed_event_is_updated(warehouse_dsn: str) -> None:
    valid, _ = fixture_records()
    load_batch(warehouse_dsn, land(warehouse_dsn, [valid]), feed(normalise_signin))
    changed = [dict(valid[0], riskState="remediated"), *valid[1:]]

    summary = load_batch(warehouse_dsn, land(warehouse_dsn, [changed]), feed(normalise_signin))

    assert (summary.inserted, summary.updated) == (0, 1)
    with psycopg.connect(warehouse_dsn) as conn:
        state = conn.execute(
            "SELECT properties->>'riskState' FROM audit.access_events WHERE event_id = %s",
            (valid[0]["id"],),
        ).fetchone()[0]
    assert state == "remediated"


@pytest.mark.robustness("Error in the middle of a load")
def test_failed_load_leaves_audit_untouched(warehouse_dsn: str) -> None:
    valid, _ = fixture_records()
    load_batch(warehouse_dsn, land(warehouse_dsn, [valid[:4]]), feed(normalise_signin))
    before = audit_snapshot(warehouse_dsn)
    batch_id = land(warehouse_dsn, [valid])
    calls = 0

    def breaks_midway(record: dict, source_id: str) -> dict:
        nonlocal calls
        calls += 1
        if calls == len(valid) - 1:
            raise MemoryError("simulated crash in the middle of a load")
        return normalise_signin(record, source_id)

    with pytest.raises(MemoryError):
        load_batch(warehouse_dsn, batch_id, feed(breaks_midway))

    assert audit_snapshot(warehouse_dsn) == before
    with psycopg.connect(warehouse_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM audit.batches").fetchone()[0] == 1
    # the batch is still loadable: the retry completes it
    summary = load_batch(warehouse_dsn, batch_id, feed(normalise_signin))
    assert summary.loaded == len(valid)


def test_only_extracted_batches_load_and_a_loaded_one_is_done(warehouse_dsn: str) -> None:
    valid, _ = fixture_records()
    failed = land(warehouse_dsn, [valid[:2]], status="failed")
    with pytest.raises(BatchNotLoadable, match="'failed'"):
        load_batch(warehouse_dsn, failed, feed(normalise_signin))
    loaded = land(warehouse_dsn, [valid[:2]])
    first = load_batch(warehouse_dsn, loaded, feed(normalise_signin))
    before = audit_snapshot(warehouse_dsn)
    # a load task retried after its load committed (the worker died before reporting back)
    again = load_batch(warehouse_dsn, loaded, feed(normalise_signin))
    assert again.batch_hash == first.batch_hash
    assert (again.extracted, again.loaded, again.inserted) == (2, 2, 2)
    assert audit_snapshot(warehouse_dsn) == before
    with psycopg.connect(warehouse_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM audit.batches").fetchone()[0] == 1


def test_identity_mapping_joins_aliases_to_one_person(warehouse_dsn: str) -> None:
    valid, _ = fixture_records()
    by_user = {r["userId"]: r for r in valid if r.get("userId") and r.get("userPrincipalName")}
    user_records = list(by_user.values())[:2]
    assert len(user_records) == 2 and user_records[0]["userId"] != user_records[1]["userId"]
    load_batch(
        warehouse_dsn,
        land(warehouse_dsn, [user_records[:1]]),
        feed(normalise_signin),
    )
    with psycopg.connect(warehouse_dsn) as conn:
        person = conn.execute("SELECT external_user_id FROM audit.access_events").fetchone()[0]
        # an operator says the second account's UPN is the same person
        conn.execute(
            "INSERT INTO audit.identity_mappings (alias, external_user_id, note)"
            " VALUES (%s, %s, %s)",
            (user_records[1]["userPrincipalName"].strip().lower(), person, "second account"),
        )

    load_batch(
        warehouse_dsn,
        land(warehouse_dsn, [user_records]),
        feed(normalise_signin),
    )

    with psycopg.connect(warehouse_dsn) as conn:
        people = conn.execute(
            "SELECT DISTINCT external_user_id FROM audit.access_events"
        ).fetchall()
    assert people == [(person,)]


def test_expectation_failures_quarantine_the_whole_record(warehouse_dsn: str) -> None:
    valid, _ = fixture_records()
    bad_id = valid[2]["id"]

    def two_events_per_record(record: dict, source_id: str) -> list[dict]:
        event = normalise_signin(record, source_id)
        second = dict(event, event_id=f"{event['event_id']}:1")
        if record["id"] == bad_id:
            second["outcome"] = "maybe"  # breaks the outcome expectation
        return [event, second]

    summary = load_batch(warehouse_dsn, land(warehouse_dsn, [valid]), feed(two_events_per_record))

    assert (summary.extracted, summary.loaded, summary.quarantined) == (
        len(valid),
        len(valid) - 1,
        1,
    )
    assert summary.events == 2 * (len(valid) - 1)
    with psycopg.connect(warehouse_dsn) as conn:
        loaded_ids = {r[0] for r in conn.execute("SELECT event_id FROM audit.access_events")}
        record_key, reasons = conn.execute(
            "SELECT record_key, reasons FROM dq.quarantine"
        ).fetchone()
        expectation = conn.execute(
            "SELECT success, unexpected_count FROM dq.expectation_results"
            " WHERE expectation = 'outcome.in_set' AND column_name = 'outcome'"
        ).fetchone()
    assert bad_id not in loaded_ids and f"{bad_id}:1" not in loaded_ids
    assert record_key == bad_id
    # the suite file's id of the expectation, then the GX expectation it is
    assert reasons == ["expectation: outcome.in_set: expect_column_values_to_be_in_set(outcome)"]
    assert expectation == (False, 1)


def test_an_empty_window_loads_as_an_empty_batch(warehouse_dsn: str) -> None:
    summary = load_batch(warehouse_dsn, land(warehouse_dsn, []), feed(normalise_signin))

    assert (summary.extracted, summary.loaded, summary.quarantined, summary.events) == (0, 0, 0, 0)
    with psycopg.connect(warehouse_dsn) as conn:
        assert conn.execute("SELECT extracted, pages FROM audit.batches").fetchone() == (0, 0)
        # nothing to validate row by row, but the batch-level checks ran and are on record
        runs = conn.execute("SELECT evaluated, status FROM dq.validation_runs").fetchall()
        checks = conn.execute(
            "SELECT expectation FROM dq.expectation_results WHERE level = 'batch'"
        ).fetchall()
    assert runs == [(0, "passed")]
    assert ("actors_resolved",) in checks and ("natural_key_unique_in_batch",) in checks


def test_access_logs_stay_exact_through_new_changed_and_remapped_events(
    warehouse_dsn: str,
) -> None:
    valid, _ = fixture_records()
    successes = [r for r in valid if (r.get("status") or {}).get("errorCode") == 0]
    assert len(successes) >= 4

    def load(records: list[dict]) -> None:
        load_batch(warehouse_dsn, land(warehouse_dsn, [records]), feed(normalise_signin))

    load(successes[:2])
    assert_access_logs_exact(warehouse_dsn)
    # overlap plus a later copy of an event of the same person and app (merged incrementally)
    later = dict(successes[0], id="later-0", createdDateTime="2026-11-21T23:59:59Z")
    load([*successes[1:], later])
    stored = assert_access_logs_exact(warehouse_dsn)
    assert any(row[4] >= 2 for row in stored), "a pair with two successful events"
    # an event turns into a failure: its pair is recomputed, and dropped if nothing is left
    failed = dict(successes[1], status={"errorCode": 50126, "failureReason": "Invalid"})
    load([failed])
    assert_access_logs_exact(warehouse_dsn)
    # the person behind an account is remapped: both the old and the new pair are right
    with psycopg.connect(warehouse_dsn) as conn:
        other = conn.execute(
            "SELECT id FROM audit.external_users WHERE principal_name IS NOT NULL"
            " AND id <> (SELECT external_user_id FROM audit.access_events WHERE event_id = %s)"
            " ORDER BY id LIMIT 1",
            (successes[0]["id"],),
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO audit.identity_mappings (alias, external_user_id) VALUES (%s, %s)",
            (successes[0]["userPrincipalName"].strip().lower(), other),
        )
    load([successes[0], later])
    with psycopg.connect(warehouse_dsn) as conn:
        moved = conn.execute(
            "SELECT DISTINCT external_user_id FROM audit.access_events WHERE event_id IN (%s, %s)",
            (successes[0]["id"], "later-0"),
        ).fetchall()
    assert moved == [(other,)]
    assert_access_logs_exact(warehouse_dsn)
