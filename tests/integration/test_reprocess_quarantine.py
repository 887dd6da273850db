"""Re-processing quarantined records after a fix, through the shared extract and load (the toy
kind, real Postgres): what loads leaves quarantine with its history, what fails again stays
with its new reasons, nothing moves a bookmark and every batch reconciles."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from toy_kind import normalise_toy, toy_line
from warehouse_asserts import event_ids

from access_warehouse.cli import main
from access_warehouse.config import parse_sources
from access_warehouse.extract import extract, read_bookmark
from access_warehouse.landing import ExtractWindow
from access_warehouse.load import load_batch
from access_warehouse.quality.reprocess import LOADED_NOTE, reprocess_quarantine
from access_warehouse.sources.base import Feed

DAY = datetime(2026, 11, 10, tzinfo=UTC)
WINDOW = ExtractWindow(DAY, DAY + timedelta(days=1))


def epoch_line(event_id: str, at: datetime) -> str:
    """A toy record whose ``at`` is epoch seconds: the toy normaliser rejects it."""
    record = json.loads(toy_line(0, at=at))
    return json.dumps({**record, "id": event_id, "at": int(at.timestamp())})


def fixed_normalise(record: dict[str, Any], source_id: str) -> dict[str, Any]:
    """The fix: epoch seconds are read as a time."""
    if type(record.get("at")) is int:
        at = datetime.fromtimestamp(record["at"], UTC).isoformat()
        record = {**record, "at": at}
    return normalise_toy(record, source_id)


def fixed(feed: Feed) -> Feed:
    """The feed after the fix: epoch times parse, and a new exclusion drops ``toy-9``."""
    return replace(
        feed,
        normalise=fixed_normalise,
        exclude=lambda record: "drop toy-9" if record.get("id") == "toy-9" else None,
    )


def toy_feed(path: Path, mode: str = "window") -> Feed:
    entry = {"kind": "toy", "name": "demo", "path": str(path), "mode": mode}
    return parse_sources([entry], "test").feed("toy:demo")


def write(path: Path, lines: list[str]) -> None:
    with path.open("a") as handle:
        handle.writelines(line + "\n" for line in lines)


def quarantine(dsn: str) -> dict[str, tuple]:
    """record_key -> (open?, reasons, reprocessed, released_batch_id)."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT record_key, released_at IS NULL, reasons, reprocessed, released_batch_id"
            " FROM dq.quarantine"
        ).fetchall()
    return {
        key: (is_open, reasons, count, released) for key, is_open, reasons, count, released in rows
    }


def history(dsn: str) -> list[tuple]:
    """(record_key, outcome, reasons, batch_id, note), oldest first."""
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT q.record_key, h.outcome, h.reasons, h.batch_id::text, h.note"
            " FROM dq.quarantine_history h JOIN dq.quarantine q USING (quarantine_id)"
            " ORDER BY h.at, q.record_key, h.outcome"
        ).fetchall()


def batch_counts(dsn: str, batch_id: str) -> tuple:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT extracted, loaded, quarantined, excluded, window_start, bookmark_to"
            " FROM audit.batches WHERE batch_id = %s",
            (batch_id,),
        ).fetchone()


def test_fixed_records_leave_quarantine_and_the_others_stay_with_new_reasons(
    warehouse_dsn: str, tmp_path: Path
) -> None:
    path = tmp_path / "toy.jsonl"
    write(
        path,
        [
            *(toy_line(n, at=DAY + timedelta(hours=n)) for n in range(5)),
            epoch_line("toy-5", DAY + timedelta(hours=5)),  # the fix loads it
            epoch_line("toy-6", DAY + timedelta(hours=6)),  # the fix loads it
            # the fix reads its time, which is outside the window its batch was asked for
            epoch_line("toy-7", DAY + timedelta(days=2)),
            epoch_line("bad-8", DAY + timedelta(hours=8)),  # then breaks the toy id expectation
            epoch_line("toy-9", DAY + timedelta(hours=9)),  # the new exclusion rule drops it
            toy_line(10, at=DAY + timedelta(hours=10)).replace("toy-10", "bad-10"),  # unchanged
        ],
    )
    feed = toy_feed(path)
    first = load_batch(warehouse_dsn, extract(warehouse_dsn, feed, window=WINDOW).batch_id, feed)
    assert (first.extracted, first.loaded, first.quarantined) == (11, 5, 6)
    before = quarantine(warehouse_dsn)
    epoch = int((DAY + timedelta(hours=5)).timestamp())
    assert before["toy-5"][1] == [f"normalise: bad at {epoch}: not a string"]
    old_bad_10 = before["bad-10"][1]

    # without a fix, re-processing releases nothing: every record fails as it did
    unfixed = reprocess_quarantine(warehouse_dsn, feed)
    assert (unfixed.selected, unfixed.released, unfixed.kept) == (6, 0, 6)
    assert {key: row[:2] for key, row in quarantine(warehouse_dsn).items()} == {
        key: row[:2] for key, row in before.items()
    }

    dry = reprocess_quarantine(warehouse_dsn, fixed(feed), dry_run=True)
    assert (dry.batch_id, dry.selected, dry.released) == (None, 6, 0)
    assert quarantine(warehouse_dsn)["toy-5"][0] is True  # a dry run changes nothing

    summary = reprocess_quarantine(warehouse_dsn, fixed(feed))
    assert (summary.selected, summary.released, summary.kept) == (6, 3, 3)
    assert (summary.loaded, summary.excluded) == (2, 1)
    assert sorted(event_ids(warehouse_dsn, "toy:demo")) == sorted([f"toy-{n}" for n in range(7)])

    after = quarantine(warehouse_dsn)
    for key in ("toy-5", "toy-6", "toy-9"):
        is_open, reasons, reprocessed, released_batch = after[key]
        assert not is_open and str(released_batch) == summary.batch_id
        assert reasons == before[key][1]  # the row keeps why it was held
        assert reprocessed == 2  # the unfixed attempt and this one
    assert after["toy-7"][0] and "is outside" in after["toy-7"][1][0]
    (new_reason,) = after["bad-8"][1]  # normalise passes now: the toy id expectation fails
    assert after["bad-8"][0] and new_reason.startswith("expectation:")
    assert "match_regex(event_id)" in new_reason
    assert after["bad-10"][:3] == (True, old_bad_10, 2)

    ours = [row for row in history(warehouse_dsn) if row[3] == summary.batch_id]
    released = {
        key: (reasons, note) for key, outcome, reasons, _, note in ours if outcome == "released"
    }
    kept = {key: (reasons, note) for key, outcome, reasons, _, note in ours if outcome == "kept"}
    assert released["toy-5"] == (before["toy-5"][1], LOADED_NOTE)
    assert released["toy-9"][1].startswith("excluded by configuration (rule 'drop toy-9')")
    assert set(released) == {"toy-5", "toy-6", "toy-9"}
    assert set(kept) == {"toy-7", "bad-8", "bad-10"}
    assert kept["bad-8"][0] == after["bad-8"][1]  # the new reasons
    assert "reasons before: normalise: bad at" in kept["bad-8"][1]

    # the re-processing batch reconciles, has no window and is marked in landing
    assert batch_counts(warehouse_dsn, summary.batch_id) == (6, 2, 3, 1, None, None)
    with psycopg.connect(warehouse_dsn) as conn:
        stats = conn.execute(
            "SELECT request_stats FROM landing.extract_batches WHERE batch_id = %s",
            (summary.batch_id,),
        ).fetchone()[0]
    assert stats["reprocess"]["records"] == 6
    assert stats["reprocess"]["pages"][0]["from_batch_id"] == first.batch_id

    # nothing open is left that the fix can release
    again = reprocess_quarantine(warehouse_dsn, fixed(feed))
    assert (again.selected, again.released, again.kept) == (3, 0, 3)
    none_left = reprocess_quarantine(warehouse_dsn, fixed(feed), reason_like="not a string")
    assert (none_left.selected, none_left.batch_id) == (0, None)

    # a normal rerun of the window with the fixed feed: no released record comes back and no
    # event twice; the open ones are left as they are (a rerun is not a re-processing)
    kept_before = quarantine(warehouse_dsn)
    history_before = history(warehouse_dsn)
    rerun_feed = fixed(feed)
    rerun = load_batch(
        warehouse_dsn, extract(warehouse_dsn, rerun_feed, window=WINDOW).batch_id, rerun_feed
    )
    assert (rerun.loaded, rerun.quarantined, rerun.excluded) == (7, 3, 1)
    assert (rerun.inserted, rerun.unchanged) == (0, 7)
    assert quarantine(warehouse_dsn) == kept_before
    assert history(warehouse_dsn) == history_before
    assert sorted(event_ids(warehouse_dsn, "toy:demo")) == sorted([f"toy-{n}" for n in range(7)])


def test_a_released_record_that_fails_again_in_a_normal_load_is_quarantined_again(
    warehouse_dsn: str, tmp_path: Path
) -> None:
    path = tmp_path / "toy.jsonl"
    write(path, [toy_line(0, at=DAY), epoch_line("toy-1", DAY + timedelta(hours=1))])
    feed = toy_feed(path)
    load_batch(warehouse_dsn, extract(warehouse_dsn, feed, window=WINDOW).batch_id, feed)
    assert reprocess_quarantine(warehouse_dsn, fixed(feed)).released == 1
    # the fix is reverted: the normal load holds the record back again, in an open row
    load_batch(warehouse_dsn, extract(warehouse_dsn, feed, window=WINDOW).batch_id, feed)
    is_open, reasons, _, released_batch = quarantine(warehouse_dsn)["toy-1"]
    assert is_open and released_batch is None and "not a string" in reasons[0]
    last = history(warehouse_dsn)[-1]
    assert last[:2] == ("toy-1", "kept") and "after its release" in last[4]


def test_reprocessing_a_bookmark_feed_moves_no_bookmark(warehouse_dsn: str, tmp_path: Path) -> None:
    path = tmp_path / "toy.jsonl"
    write(
        path,
        [
            toy_line(0, seq=1, at=DAY),
            epoch_line("toy-1", DAY + timedelta(hours=1)).replace('"seq": 0', '"seq": 2'),
            toy_line(2, seq=3, at=DAY),
        ],
    )
    feed = toy_feed(path, "bookmark")
    first = load_batch(warehouse_dsn, extract(warehouse_dsn, feed).batch_id, feed)
    assert (first.loaded, first.quarantined) == (2, 1)
    position = read_bookmark(warehouse_dsn, "toy:demo")
    assert position == {"cursor": 3, "key": 3}

    summary = reprocess_quarantine(warehouse_dsn, fixed(feed))
    assert (summary.released, summary.kept) == (1, 0)
    assert read_bookmark(warehouse_dsn, "toy:demo") == position
    with psycopg.connect(warehouse_dsn) as conn:
        (bookmark_batch,) = conn.execute(
            "SELECT batch_id::text FROM audit.bookmarks WHERE source_id = 'toy:demo'"
        ).fetchone()
    assert bookmark_batch == first.batch_id
    assert batch_counts(warehouse_dsn, summary.batch_id) == (1, 1, 0, 0, None, None)
    # the next extract still starts after the stored position
    assert extract(warehouse_dsn, feed).bookmark_from == position


@pytest.mark.parametrize("dry_run", [True, False])
def test_the_command_prints_the_counts(
    warehouse_dsn: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    dry_run: bool,
) -> None:
    path = tmp_path / "toy.jsonl"
    write(path, [toy_line(0, at=DAY), epoch_line("toy-1", DAY + timedelta(hours=1))])
    write(path, [toy_line(2, at=DAY).replace("toy-2", "bad-2")])
    config = tmp_path / "sources.yaml"
    config.write_text(f"sources:\n  - {{kind: toy, name: demo, path: {path}}}\n")
    feed = toy_feed(path)
    load_batch(warehouse_dsn, extract(warehouse_dsn, feed, window=WINDOW).batch_id, feed)
    monkeypatch.setattr("toy_kind.normalise_toy", fixed_normalise)  # the fix, as deployed

    args = ["--path", str(config), "reprocess-quarantine", "toy:demo", "--dsn", warehouse_dsn]
    args += ["--reason-like", "NOT A STRING"] + (["--dry-run"] if dry_run else [])
    assert main(args) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["selected"] == 1  # only the record whose reason matches
    assert printed["released"] == (0 if dry_run else 1)
    assert printed["dry_run"] is dry_run
    assert quarantine(warehouse_dsn)["toy-1"][0] is dry_run
    assert quarantine(warehouse_dsn)["bad-2"][0] is True


def test_reprocessing_a_file_feed_leaves_its_manifest_alone(
    warehouse_dsn: str, tmp_path: Path
) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    good = {
        "@timestamp": "2026-11-20T10:00:00Z",
        "event": {"id": "evt-1", "category": "authentication", "action": "user-login"},
        "user": {"email": "ann@example.com"},
    }
    epoch = {**good, "event": {**good["event"], "id": "evt-2"}, "@timestamp": 1794996000}
    (folder / "a.jsonl").write_text(json.dumps(good) + "\n" + json.dumps(epoch) + "\n")
    entry = {"kind": "ecs_jsonl", "name": "audit", "path": str(folder / "*.jsonl")}
    feed = parse_sources([entry], "test").feeds()[0]
    first = load_batch(warehouse_dsn, extract(warehouse_dsn, feed).batch_id, feed)
    assert (first.loaded, first.quarantined) == (1, 1)

    def manifest() -> list[tuple]:
        with psycopg.connect(warehouse_dsn) as conn:
            return conn.execute(
                "SELECT path, sha256, batch_id::text, loaded_at FROM landing.processed_files"
            ).fetchall()

    before = manifest()
    assert [row[2] for row in before] == [first.batch_id]

    def epoch_seconds(record: dict[str, Any], source_id: str) -> Any:
        if type(record.get("@timestamp")) is int:
            at = datetime.fromtimestamp(record["@timestamp"], UTC).isoformat()
            record = {**record, "@timestamp": at}
        return feed.normalise(record, source_id)

    summary = reprocess_quarantine(warehouse_dsn, replace(feed, normalise=epoch_seconds))
    assert (summary.released, summary.kept) == (1, 0)
    assert manifest() == before
    with psycopg.connect(warehouse_dsn) as conn:
        files = conn.execute(
            "SELECT count(*) FROM landing.batch_files WHERE batch_id = %s", (summary.batch_id,)
        ).fetchone()[0]
    assert files == 0
    # the next extract still finds nothing new to read
    assert extract(warehouse_dsn, feed).records == 0
