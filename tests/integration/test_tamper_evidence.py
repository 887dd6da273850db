"""Tamper evidence on real loads: the manifest chain per source, and the verifier that names the
first batch whose rows changed after it was loaded.

Sign-ins go through the real load path (LandingBatch, load_batch) in three daily windows; the
second window's lookback re-extracts an event of the first with new content, so the second
batch takes a row over from the first (the first batch's expected rows are then its written
rows minus that one, checked by lane sums; the others by their ordered SHA-256 too). Each
tamper is made by the owner with plain SQL, as someone with write access would.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pgserver
import psycopg
import pytest
from toy_kind import normalise_toy, toy_line
from warehouse_asserts import new_database

from access_warehouse.cli import main
from access_warehouse.config import parse_sources
from access_warehouse.extract import extract
from access_warehouse.integrity.manifests import record_purge
from access_warehouse.integrity.verify import verify_warehouse
from access_warehouse.landing import ExtractWindow, LandingBatch
from access_warehouse.load import load_batch
from access_warehouse.quality.reprocess import reprocess_quarantine
from access_warehouse.sources.base import Feed
from access_warehouse.warehouse import apply_migrations

SIGNINS = "entra:contoso:signins"
SOURCES = [
    {"kind": "entra", "name": "contoso", "tenant_id": "contoso", "conn_id": "msgraph_default"}
]
FEED = parse_sources(SOURCES, "test").feed(SIGNINS)
DAY = datetime(2026, 11, 6, tzinfo=UTC)
LEGACY_DUMP = Path(__file__).parents[1] / "fixtures" / "legacy_warehouse" / "warehouse.sql.gz"


def signin(event_id: str, at: datetime, who: str = "alice", *, app: str = "Portal") -> dict:
    return {
        "id": event_id,
        "createdDateTime": at.isoformat().replace("+00:00", "Z"),
        "userId": str(uuid.uuid5(uuid.NAMESPACE_DNS, who)),
        "userDisplayName": who.title(),
        "userPrincipalName": f"{who}@contoso.com",
        "appId": str(uuid.uuid5(uuid.NAMESPACE_DNS, app)),
        "appDisplayName": app,
        "ipAddress": "10.0.0.1",
        "location": {"countryOrRegion": "DE", "city": "Berlin"},
        "clientAppUsed": "Browser",
        "status": {"errorCode": 0, "failureReason": None},
        "authenticationRequirement": "multiFactorAuthentication",
    }


def load(dsn: str, start: datetime, end: datetime, records: list[dict], feed: Feed = FEED):
    batch = LandingBatch(
        dsn,
        source_id=feed.source_id,
        source_kind=feed.record_kind,
        window=ExtractWindow(start, end, timedelta(0)),
    )
    if records:
        batch.write_page(records)
    batch.finish("extracted")
    batch.close()
    return load_batch(dsn, batch.batch_id, feed)


def day(n: int, hour: int = 0) -> datetime:
    return DAY + timedelta(days=n, hours=hour)


def three_days(dsn: str) -> list[Any]:
    """Three windows of sign-ins; the second re-extracts s1-2 (of the first) with a new app,
    which takes that row over from the first batch. Returns the three load summaries."""
    first = load(dsn, day(0), day(1), [signin(f"s1-{n}", day(0, n + 8)) for n in range(4)])
    second = load(
        dsn,
        day(0, 9),  # the lookback reaches back into the first day
        day(2),
        [
            signin("s1-2", day(0, 10), app="Payroll"),  # changed since: taken over
            signin("s1-3", day(0, 11)),  # the same: stays the first batch's
            *(signin(f"s2-{n}", day(1, n + 8), "bob") for n in range(3)),
        ],
    )
    third = load(dsn, day(2), day(3), [signin(f"s3-{n}", day(2, n + 8), "carol") for n in range(3)])
    return [first, second, third]


def owner_sql(dsn: str, *statements: str, params: Any = None) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement, params if "%(" in statement else None)


def manifests(dsn: str, source_id: str = SIGNINS) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT entry_no, kind, batch_id::text, row_count, removed_row_count, removed,"
            " prev_hash, entry_hash FROM audit.manifests WHERE source_id = %s ORDER BY entry_no",
            (source_id,),
        ).fetchall()


def test_every_load_chains_an_entry_and_an_untouched_warehouse_verifies(warehouse_dsn) -> None:
    first, second, third = three_days(warehouse_dsn)
    rerun = load(
        warehouse_dsn, day(2), day(3), [signin(f"s3-{n}", day(2, n + 8), "carol") for n in range(3)]
    )
    assert (rerun.inserted, rerun.updated) == (0, 0)

    entries = manifests(warehouse_dsn)
    assert [(no, kind, batch) for no, kind, batch, *_ in entries] == [
        (1, "load", first.batch_id),
        (2, "load", second.batch_id),
        (3, "load", third.batch_id),
        (4, "load", rerun.batch_id),
    ]
    # rows written: all of the first; the second's changed one and its three new ones
    assert [(rows, taken) for _, _, _, rows, taken, *_ in entries] == [
        (4, 0),
        (4, 1),
        (3, 0),
        (0, 0),
    ]
    assert entries[1][5][0]["batch_id"] == first.batch_id and entries[1][5][0]["rows"] == 1
    # the chain: each entry points at the one before it
    assert entries[0][6] is None
    assert [entry[6] for entry in entries[1:]] == [entry[7] for entry in entries[:-1]]
    with psycopg.connect(warehouse_dsn) as conn:
        details = conn.execute(
            "SELECT details->'manifest' FROM audit.batches WHERE batch_id = %s", (third.batch_id,)
        ).fetchone()[0]
    assert details == {"entry_no": 3, "entry_hash": entries[2][7]}

    report = verify_warehouse(warehouse_dsn, dag_id="test", run_id="r1")
    assert report.ok, report.lines()
    (source,) = report.sources
    assert (source.entries, source.rows, source.head_entry_no) == (4, 10, 4)
    assert source.head_hash == entries[-1][7]
    with psycopg.connect(warehouse_dsn) as conn:
        run = conn.execute(
            "SELECT status, sources_checked, entries_checked, rows_checked, findings,"
            " chain_heads, dag_id, run_id FROM etl.verifier_runs"
            " WHERE verifier_run_id = %s",
            (report.verifier_run_id,),
        ).fetchone()
    assert run == (
        "ok",
        1,
        4,
        10,
        [],
        {SIGNINS: {"entry_no": 4, "entry_hash": entries[-1][7]}},
        "test",
        "r1",
    )


def _first_event_of(dsn: str, batch_id: str) -> tuple[str, datetime]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT event_id, occurred_at FROM audit.access_events WHERE batch_id = %s"
            " ORDER BY event_id LIMIT 1",
            (batch_id,),
        ).fetchone()


# (what is done to which batch's rows, the kind the verifier must name); batch 0 had a row
# taken over by batch 1 (lane sums decide), batch 2 had none (the ordered SHA-256 decides too)
TAMPERS = {
    "edit_an_event_of_a_batch_with_a_row_taken_over": (
        0,
        "UPDATE audit.access_events SET actor_name = 'Mallory' "
        "WHERE event_id = %(event_id)s AND occurred_at = %(occurred_at)s",
        "changed",
    ),
    "edit_an_event_keeping_its_content_hash": (
        2,
        "UPDATE audit.access_events SET outcome = 'failure', "
        "properties = properties || '{\"x\": 1}' "
        "WHERE event_id = %(event_id)s AND occurred_at = %(occurred_at)s",
        "changed",
    ),
    "edit_an_events_resolution": (
        2,
        "UPDATE audit.access_events SET external_user_id = gen_random_uuid() "
        "WHERE event_id = %(event_id)s AND occurred_at = %(occurred_at)s",
        "changed",
    ),
    "delete_an_event": (
        1,
        "DELETE FROM audit.access_events "
        "WHERE event_id = %(event_id)s AND occurred_at = %(occurred_at)s",
        "deleted",
    ),
    # a copy of one of its rows under a new event id
    "insert_an_event_into_a_batch": (2, None, "added"),
}


@pytest.mark.parametrize("case", sorted(TAMPERS))
def test_an_edited_deleted_or_inserted_event_is_named_with_its_batch_and_kind(
    warehouse_dsn: str, case: str, capsys: pytest.CaptureFixture
) -> None:
    summaries = three_days(warehouse_dsn)
    batch_no, statement, kind = TAMPERS[case]
    target = summaries[batch_no]
    event_id, occurred_at = _first_event_of(warehouse_dsn, target.batch_id)
    if statement is None:
        owner_sql(
            warehouse_dsn,
            "CREATE TEMP TABLE copy AS SELECT * FROM audit.access_events"
            " WHERE event_id = %(event_id)s AND occurred_at = %(occurred_at)s",
            "UPDATE copy SET event_id = 'forged-1', actor_name = 'Mallory'",
            "INSERT INTO audit.access_events SELECT * FROM copy",
            params={"event_id": event_id, "occurred_at": occurred_at},
        )
    else:
        owner_sql(
            warehouse_dsn, statement, params={"event_id": event_id, "occurred_at": occurred_at}
        )

    report = verify_warehouse(warehouse_dsn)
    assert not report.ok
    first = report.sources[0].first
    assert first is not None
    assert (first.kind, first.batch_id, first.entry_kind) == (kind, target.batch_id, "load")
    assert (first.window_start, first.window_end) == (target.window_start, target.window_end)
    assert len(report.findings) == 1, report.lines()
    assert (first.expected_rows, first.found_rows) == {
        "changed": (first.expected_rows, first.expected_rows),
        "deleted": (first.expected_rows, first.expected_rows - 1),
        "added": (first.expected_rows, first.expected_rows + 1),
    }[kind]

    assert main(["verify-warehouse", "--dsn", warehouse_dsn]) == 1
    out = capsys.readouterr().out
    assert f"{SIGNINS}: {kind}: entry {batch_no + 1} (load), batch {target.batch_id}" in out
    with psycopg.connect(warehouse_dsn) as conn:
        runs = conn.execute(
            "SELECT status, findings->0->>'kind', findings->0->>'batch_id'"
            " FROM etl.verifier_runs ORDER BY finished_at"
        ).fetchall()
    assert runs == [("mismatch", kind, target.batch_id)] * 2


def test_a_later_load_does_not_wash_out_an_edit(warehouse_dsn: str) -> None:
    """An edit that also rewrote content_hash makes the next load re-classify the event as
    changed and take the edited row over: the first batch still shows it was changed."""
    first, _second, _third = three_days(warehouse_dsn)
    owner_sql(
        warehouse_dsn,
        "UPDATE audit.access_events SET actor_name = 'Mallory', content_hash = 'forged' "
        "WHERE event_id = 's1-0'",
    )
    healed = load(warehouse_dsn, day(0), day(1), [signin("s1-0", day(0, 8))])
    assert healed.updated == 1
    report = verify_warehouse(warehouse_dsn)
    first_finding = report.sources[0].first
    assert (first_finding.kind, first_finding.batch_id) == ("changed", first.batch_id)


def test_rows_under_a_batch_id_no_manifest_wrote_are_added(warehouse_dsn: str) -> None:
    three_days(warehouse_dsn)
    forged = str(uuid.uuid4())
    owner_sql(
        warehouse_dsn,
        "CREATE TEMP TABLE copy AS SELECT * FROM audit.access_events WHERE event_id = 's2-0'",
        "UPDATE copy SET event_id = 'forged-2', batch_id = %(forged)s",
        "INSERT INTO audit.access_events SELECT * FROM copy",
        params={"forged": forged},
    )
    report = verify_warehouse(warehouse_dsn)
    (finding,) = report.findings
    assert (finding.kind, finding.batch_id, finding.entry_no, finding.found_rows) == (
        "added",
        forged,
        None,
        1,
    )


MANIFEST_TAMPERS = {
    # a field edited: the entry's own hash no longer matches it
    "edit_an_entry": (
        "UPDATE audit.manifests SET row_count = row_count - 1 WHERE entry_no = 2",
        "manifest_changed",
        2,
    ),
    # edited and rehashed: the next entry's prev_hash gives it away
    "edit_and_rehash_an_entry": (
        "UPDATE audit.manifests m SET row_count = row_count - 1 WHERE entry_no = 2; "
        "UPDATE audit.manifests m SET entry_hash = audit.manifest_entry_hash(m) "
        "WHERE entry_no = 2",
        "chain_broken",
        3,
    ),
    # a gap in the numbers, and audit.batches still records the load
    "delete_an_entry": ("DELETE FROM audit.manifests WHERE entry_no = 2", "manifest_deleted", 2),
    # the last one: nothing after it chains, but audit.batches still records the load
    "delete_the_last_entry": (
        "DELETE FROM audit.manifests WHERE entry_no = 3",
        "manifest_missing",
        None,
    ),
}


@pytest.mark.parametrize("case", sorted(MANIFEST_TAMPERS))
def test_an_edited_or_deleted_manifest_is_named(warehouse_dsn: str, case: str) -> None:
    summaries = three_days(warehouse_dsn)
    statement, kind, entry_no = MANIFEST_TAMPERS[case]
    # append-only for everyone: even the owner must first turn the guard off
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
        owner_sql(warehouse_dsn, statement.split(";")[0])
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
        owner_sql(warehouse_dsn, "TRUNCATE audit.manifests")
    owner_sql(
        warehouse_dsn,
        "ALTER TABLE audit.manifests DISABLE TRIGGER manifests_append_only",
        *statement.split("; "),
        "ALTER TABLE audit.manifests ENABLE TRIGGER manifests_append_only",
    )
    report = verify_warehouse(warehouse_dsn)
    assert not report.ok
    first = report.sources[0].first
    assert (first.kind, first.entry_no) == (kind, entry_no), report.lines()
    if kind == "manifest_missing":  # and its rows are now rows no entry wrote
        assert first.batch_id == summaries[2].batch_id
        assert {(f.kind, f.batch_id) for f in report.findings} == {
            ("manifest_missing", summaries[2].batch_id),
            ("added", summaries[2].batch_id),
        }
    if case == "delete_an_entry":
        assert ("manifest_missing", summaries[1].batch_id) in {
            (f.kind, f.batch_id) for f in report.findings
        }
    if case == "edit_an_entry":  # the batch's rows no longer match the edited count either
        assert ("added", summaries[1].batch_id) in {(f.kind, f.batch_id) for f in report.findings}


def test_a_purge_is_chained_and_not_read_as_tampering(warehouse_dsn: str) -> None:
    first, second, _third = three_days(warehouse_dsn)
    run_id = uuid.uuid4()
    with psycopg.connect(warehouse_dsn) as conn:  # the retention transaction
        recorded = record_purge(
            conn,
            retention_run_id=run_id,
            source_id=SIGNINS,
            occurred_from=day(0),
            occurred_to=day(1),
        )
        conn.execute(
            "DELETE FROM audit.access_events WHERE source_id = %s AND occurred_at >= %s"
            " AND occurred_at < %s",
            (SIGNINS, day(0), day(1)),
        )
    # day 0 held three rows of the first batch and the one the second took over
    assert recorded["rows"] == 4
    assert recorded["batches"] == {first.batch_id: 3, second.batch_id: 1}
    assert (recorded["entry_no"], recorded["retention_run_id"]) == (4, run_id)
    assert recorded["prev_hash"] == manifests(warehouse_dsn)[2][7]
    entry = manifests(warehouse_dsn)[-1]
    assert (entry[1], entry[3], entry[4], entry[7]) == ("purge", 0, 4, recorded["entry_hash"])

    report = verify_warehouse(warehouse_dsn)
    assert report.ok, report.lines()
    assert report.sources[0].rows == 6
    # a purge that was recorded but whose rows stayed, and one row deleted beside it, both show
    owner_sql(warehouse_dsn, "DELETE FROM audit.access_events WHERE event_id = 's2-1'")
    report = verify_warehouse(warehouse_dsn)
    assert [(f.kind, f.batch_id) for f in report.findings] == [("deleted", second.batch_id)]


def test_a_real_retention_run_is_chained_and_not_read_as_tampering(warehouse_dsn: str) -> None:
    """access_retention's own function drops a partition past the 13 months the shipped policy
    keeps: it records the purge in the chain (record_purge) before the partition goes."""
    from access_warehouse.retention.config import load_retention_config
    from access_warehouse.retention.enforce import enforce_retention

    old = load(
        warehouse_dsn,
        datetime(2024, 1, 10, tzinfo=UTC),
        datetime(2024, 1, 11, tzinfo=UTC),
        [signin(f"old-{n}", datetime(2024, 1, 10, n + 8, tzinfo=UTC)) for n in range(3)],
    )
    three_days(warehouse_dsn)
    summary = enforce_retention(
        warehouse_dsn, load_retention_config(), now=datetime(2026, 11, 20, tzinfo=UTC)
    )
    assert "access_events_y2024m01" in summary.partitions_dropped
    purge = manifests(warehouse_dsn)[-1]
    assert (purge[1], purge[4]) == ("purge", 3)
    assert purge[5] == [{"batch_id": old.batch_id, "rows": 3, "lanes": purge[5][0]["lanes"]}]
    report = verify_warehouse(warehouse_dsn)
    assert report.ok, report.lines()
    assert report.sources[0].rows == 10  # the three days' rows; the old month's are gone


def test_a_purge_whose_rows_stay_shows_them_as_added(warehouse_dsn: str) -> None:
    first, _second, _third = three_days(warehouse_dsn)
    with psycopg.connect(warehouse_dsn) as conn:
        record_purge(
            conn,
            retention_run_id=uuid.uuid4(),
            source_id=SIGNINS,
            occurred_from=day(0),
            occurred_to=day(0, 9),
        )
    report = verify_warehouse(warehouse_dsn)
    (finding,) = report.findings
    assert (finding.kind, finding.batch_id, finding.expected_rows, finding.found_rows) == (
        "added",
        first.batch_id,
        2,
        3,
    )
    with psycopg.connect(warehouse_dsn) as conn, pytest.raises(ValueError, match="empty"):
        record_purge(
            conn,
            retention_run_id=uuid.uuid4(),
            source_id=SIGNINS,
            occurred_from=day(1),
            occurred_to=day(1),
        )


def test_a_moved_event_is_taken_over_not_tampering(warehouse_dsn: str) -> None:
    """An event whose time changed leaves its old row (deleted by the load): the later entry
    records that row as taken over."""
    first, _second, _third = three_days(warehouse_dsn)
    moved = load(warehouse_dsn, day(0), day(1), [signin("s1-1", day(0, 20))])
    assert moved.updated == 1
    entry = manifests(warehouse_dsn)[-1]
    assert (entry[3], entry[4], entry[5][0]["batch_id"]) == (1, 1, first.batch_id)
    assert verify_warehouse(warehouse_dsn).ok


def test_numbers_jsonb_cannot_tell_apart_and_local_times_are_not_read_as_edits(
    warehouse_dsn: str, tmp_path: Path
) -> None:
    """The verifier hashes each row's columns again: properties come back from jsonb, which
    stores 1e16 as 10000000000000000 and -0.0 as 0.0, and a time comes back in UTC whatever zone
    the normaliser gave it in; none of that is an edit. A real edit of such a row still is."""
    odd = {
        "big_float": 1e16,
        "huge": 1.2e300,
        "neg_zero": -0.0,
        "big_int": 10**17,
        "u64": 2**64 - 1,
    }
    first = load(warehouse_dsn, day(0), day(1), [{**signin("odd-1", day(0, 9)), "odd": odd}])
    with psycopg.connect(warehouse_dsn) as conn:
        stored = conn.execute(
            "SELECT properties->'odd' FROM audit.access_events WHERE event_id = 'odd-1'"
        ).fetchone()[0]
    assert stored["big_float"] == 10**16 and type(stored["big_float"]) is int  # what jsonb kept

    path = tmp_path / "toy.jsonl"
    path.write_text("\n".join(toy_line(n, at=day(4, n)) for n in range(3)) + "\n")
    toy = parse_sources([{"kind": "toy", "name": "tz", "path": str(path)}], "t").feed("toy:tz")

    def in_berlin(record: dict[str, Any], source_id: str) -> dict[str, Any]:
        event = normalise_toy(record, source_id)
        return {**event, "occurred_at": event["occurred_at"].astimezone(ZoneInfo("Europe/Berlin"))}

    berlin = replace(toy, normalise=in_berlin)
    load_batch(
        warehouse_dsn,
        extract(warehouse_dsn, berlin, window=ExtractWindow(day(4), day(5))).batch_id,
        berlin,
    )
    rerun = load_batch(
        warehouse_dsn,
        extract(warehouse_dsn, toy, window=ExtractWindow(day(4), day(5))).batch_id,
        toy,
    )
    assert (rerun.inserted, rerun.updated, rerun.unchanged) == (0, 0, 3)  # the same events
    report = verify_warehouse(warehouse_dsn)
    assert report.ok, report.lines()

    owner_sql(
        warehouse_dsn,
        "UPDATE audit.access_events SET properties = jsonb_set(properties, '{odd,big_int}', '1')"
        " WHERE event_id = 'odd-1'",
    )
    (finding,) = verify_warehouse(warehouse_dsn).findings
    assert (finding.kind, finding.batch_id) == ("changed", first.batch_id)
    assert "edited in place" in finding.detail and "odd-1" in finding.detail


# --- quarantine re-processing (the toy kind: its normaliser rejects epoch times until fixed) ---


def _epoch_line(event_id: str, at: datetime) -> str:
    record = json.loads(toy_line(0, at=at))
    return json.dumps({**record, "id": event_id, "at": int(at.timestamp())})


def _fixed(feed: Feed) -> Feed:
    def normalise(record: dict[str, Any], source_id: str) -> dict[str, Any]:
        if type(record.get("at")) is int:
            record = {**record, "at": datetime.fromtimestamp(record["at"], UTC).isoformat()}
        return normalise_toy(record, source_id)

    return replace(feed, normalise=normalise)


def test_a_quarantine_reprocessing_is_chained_and_not_read_as_tampering(
    warehouse_dsn: str, tmp_path: Path
) -> None:
    path = tmp_path / "toy.jsonl"
    path.write_text(
        "\n".join(
            [
                *(toy_line(n, at=day(4, n)) for n in range(3)),
                _epoch_line("toy-3", day(4, 3)),
                _epoch_line("toy-4", day(4, 4)),
            ]
        )
        + "\n"
    )
    feed = parse_sources([{"kind": "toy", "name": "demo", "path": str(path)}], "t").feed("toy:demo")
    window = ExtractWindow(day(4), day(5))
    first = load_batch(warehouse_dsn, extract(warehouse_dsn, feed, window=window).batch_id, feed)
    assert (first.loaded, first.quarantined) == (3, 2)
    three_days(warehouse_dsn)  # another source loads meanwhile: its own chain

    summary = reprocess_quarantine(warehouse_dsn, _fixed(feed))
    assert (summary.released, summary.loaded) == (2, 2)
    entries = manifests(warehouse_dsn, "toy:demo")
    assert [(kind, batch, rows) for _, kind, batch, rows, *_ in entries] == [
        ("load", first.batch_id, 3),
        ("reprocess", summary.batch_id, 2),
    ]
    report = verify_warehouse(warehouse_dsn)
    assert report.ok, report.lines()
    assert {s.source_id: (s.entries, s.rows) for s in report.sources} == {
        "toy:demo": (2, 5),
        SIGNINS: (3, 10),
    }
    # a re-processed row edited afterwards is named with the re-processing batch
    owner_sql(warehouse_dsn, "UPDATE audit.access_events SET action = 'x' WHERE event_id = 'toy-4'")
    report = verify_warehouse(warehouse_dsn, source_id="toy:demo")
    assert [
        (s.source_id, s.first.kind, s.first.entry_kind, s.first.batch_id) for s in report.sources
    ] == [("toy:demo", "changed", "reprocess", summary.batch_id)]


def test_the_cli_exits_0_on_a_verified_warehouse_and_checks_one_source(
    warehouse_dsn: str, capsys: pytest.CaptureFixture
) -> None:
    three_days(warehouse_dsn)
    assert main(["verify-warehouse", "--dsn", warehouse_dsn, "--source", SIGNINS]) == 0
    out = capsys.readouterr().out
    assert ": 1 sources, 3 manifest entries, 10 rows: OK" in out
    assert f"{SIGNINS}      3 entries         10 rows  head #3 " in out
    head = manifests(warehouse_dsn)[-1][7]
    assert (
        main(["verify-warehouse", "--dsn", warehouse_dsn, "--expect-head", f"{SIGNINS}=3:{head}"])
        == 0
    )
    assert (
        main(
            ["verify-warehouse", "--dsn", warehouse_dsn, "--expect-head", f"{SIGNINS}=3:{'0' * 64}"]
        )
        == 1
    )
    assert f"{SIGNINS}: published_head_changed: entry 3 (load)" in capsys.readouterr().out
    assert (
        main(["verify-warehouse", "--dsn", warehouse_dsn, "--expect-head", f"{SIGNINS}=4:{head}"])
        == 1
    )
    assert f"{SIGNINS}: published_head_missing: entry 4" in capsys.readouterr().out
    assert main(["verify-warehouse", "--dsn", warehouse_dsn, "--expect-head", "no-head"]) == 2
    assert "want SOURCE=ENTRY_NO:HASH" in capsys.readouterr().err
    # a source with rows but no chain at all (written behind the load's back)
    owner_sql(
        warehouse_dsn,
        "CREATE TEMP TABLE copy AS SELECT * FROM audit.access_events WHERE event_id = 's2-0'",
        "UPDATE copy SET source_id = 'forged:source'",
        "INSERT INTO audit.access_events SELECT * FROM copy",
    )
    assert main(["verify-warehouse", "--dsn", warehouse_dsn, "--source", SIGNINS]) == 0
    assert main(["verify-warehouse", "--dsn", warehouse_dsn]) == 1
    assert "forged:source: added: batch " in capsys.readouterr().out


def test_the_demo_step_prints_a_verifier_run(warehouse_dsn: str) -> None:
    from devtools.demo_verify import verify_step

    three_days(warehouse_dsn)
    lines = verify_step(warehouse_dsn)
    assert ": 1 sources, 3 manifest entries, 10 rows: OK" in lines[1]
    assert lines[2].lstrip().startswith(SIGNINS) and "head #3 " in lines[2]
    assert "verify-warehouse --dsn DSN: OK (exit 0)" in lines[3]
    head = manifests(warehouse_dsn)[-1][7]
    assert lines[-1].endswith(f"--expect-head {SIGNINS}=3:{head}")
    owner_sql(warehouse_dsn, "DELETE FROM audit.access_events WHERE event_id = 's3-1'")
    lines = verify_step(warehouse_dsn)
    assert "MISMATCH (1 findings)" in lines[1] and "MISMATCH (exit 1)" in lines[4]
    assert f"{SIGNINS}: deleted: entry 3 (load)" in lines[3]


# --- a warehouse loaded before the chain existed ------------------------------------------------


@pytest.fixture
def legacy_dsn(pg_server: str, migrated_template: str) -> Any:
    """The warehouse the code before the source registry left (tests/fixtures/legacy_warehouse),
    restored, then migrated: migration 0012 writes the baseline entries."""
    psql = Path(pgserver.__file__).parent / "pginstall" / "bin" / "psql"
    with new_database(pg_server) as dsn:
        subprocess.run(
            [str(psql), "-q", "-v", "ON_ERROR_STOP=1", dsn],
            input=gzip.decompress(LEGACY_DUMP.read_bytes()),
            check=True,
            capture_output=True,
        )
        yield dsn


def test_a_warehouse_loaded_before_the_chain_verifies_from_its_baseline(legacy_dsn: str) -> None:
    assert "0012_tamper_evidence" in apply_migrations(legacy_dsn)
    with psycopg.connect(legacy_dsn) as conn:
        batches, events = conn.execute(
            "SELECT (SELECT count(*) FROM audit.batches),"
            " (SELECT count(*) FROM audit.access_events)"
        ).fetchone()
        baseline = conn.execute(
            "SELECT count(*), sum(row_count) FROM audit.manifests WHERE kind = 'baseline'"
        ).fetchone()
    assert baseline == (batches, events) and events > 500
    report = verify_warehouse(legacy_dsn)
    assert report.ok, report.lines()
    assert len(report.sources) == 4
    owner_sql(
        legacy_dsn,
        "UPDATE audit.access_events SET mfa = NOT coalesce(mfa, false) WHERE event_id = (SELECT"
        " min(event_id) FROM audit.access_events WHERE source_id = 'entra:fabrikam:signins')",
    )
    report = verify_warehouse(legacy_dsn)
    assert [(f.source_id, f.kind, f.entry_kind) for f in report.findings] == [
        ("entra:fabrikam:signins", "changed", "baseline")
    ]
