"""The shared file layer (``sources/files.py``) end to end, through the ``ecs_jsonl`` kind: real
files in a temporary folder, the real extract and load, a fresh warehouse per test.

The 1 GB bounded-memory run is ``benchmarks/big_file.py`` (too slow for the test suite)."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
from warehouse_asserts import audit_snapshot

from access_warehouse.config import ConfigError, parse_sources
from access_warehouse.extract import ExtractSummary, extract
from access_warehouse.load import LoadSummary, load_batch
from access_warehouse.sources.base import Feed

SOURCE_ID = "ecs_jsonl:audit"


def ecs(n: int, *, category: Any = "authentication", action: str = "user-login") -> dict:
    """An ECS audit document (the shape of tests/fixtures/ecs_jsonl)."""
    return {
        "@timestamp": f"2026-11-20T10:{n // 60 % 60:02d}:{n % 60:02d}Z",
        "event": {
            "id": f"evt-{n}",
            "category": category,
            "action": action,
            "outcome": "success" if n % 4 else "failure",
        },
        "user": {"email": f"user{n % 5}@example.com", "id": f"u-{n % 5}", "roles": ["dev"]},
        "source": {"ip": f"203.0.113.{n % 250 + 1}"},
        "user_agent": {"original": "engflow-client/2.1"},
        "url": {"full": f"https://build.example.com/api/{n % 7}"},
    }


def lines(*records: Any) -> bytes:
    return b"".join(json.dumps(record).encode() + b"\n" for record in records)


def feed_for(path: Path | str, **extra: Any) -> Feed:
    entry = {"kind": "ecs_jsonl", "name": "audit", "path": str(path), **extra}
    return parse_sources([entry], "test").feeds()[0]


def run(dsn: str, feed: Feed) -> tuple[ExtractSummary, LoadSummary]:
    extracted = extract(dsn, feed)
    return extracted, load_batch(dsn, extracted.batch_id, feed)


def manifest(dsn: str) -> dict[str, tuple]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT path, size, sha256, records FROM landing.processed_files WHERE source_id = %s",
            (SOURCE_ID,),
        ).fetchall()
    return {Path(row[0]).name: row[1:] for row in rows}


def query(dsn: str, sql: str, *params: Any) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql, params).fetchall()


def event_count(dsn: str) -> int:
    return query(dsn, "SELECT count(*) FROM audit.access_events WHERE source_id = %s", SOURCE_ID)[
        0
    ][0]


def batch_counts(dsn: str, batch_id: str) -> tuple:
    return query(
        dsn,
        "SELECT extracted, loaded, quarantined, excluded, details FROM audit.batches"
        " WHERE batch_id = %s",
        batch_id,
    )[0]


def test_every_file_is_loaded_once_and_a_rerun_reads_nothing(
    warehouse_dsn: str, tmp_path: Path
) -> None:
    (tmp_path / "a.jsonl").write_bytes(lines(*(ecs(n) for n in range(7))))
    (tmp_path / "b.jsonl.gz").write_bytes(gzip.compress(lines(*(ecs(n) for n in range(7, 12)))))
    feed = feed_for(tmp_path / "*.jsonl*", page_size=3)

    first, loaded = run(warehouse_dsn, feed)
    assert first.records == 12 and first.requests["files_read"] == 2
    assert (loaded.loaded, loaded.quarantined, loaded.inserted) == (12, 0, 12)
    assert event_count(warehouse_dsn) == 12
    files = manifest(warehouse_dsn)
    assert {name: state[2] for name, state in files.items()} == {"a.jsonl": 7, "b.jsonl.gz": 5}
    raw = (tmp_path / "b.jsonl.gz").read_bytes()
    assert files["b.jsonl.gz"][:2] == (len(raw), hashlib.sha256(raw).hexdigest())
    before = audit_snapshot(warehouse_dsn)

    again, reloaded = run(warehouse_dsn, feed)
    assert again.records == 0 and again.pages == 0
    assert (again.requests["files_read"], again.requests["files_skipped"]) == (0, 2)
    assert (reloaded.inserted, reloaded.updated) == (0, 0)
    assert audit_snapshot(warehouse_dsn) == before
    assert manifest(warehouse_dsn) == files


def test_a_changed_file_is_read_again_and_upserts_without_duplicates(
    warehouse_dsn: str, tmp_path: Path
) -> None:
    path = tmp_path / "audit.jsonl"
    path.write_bytes(lines(*(ecs(n) for n in range(5))))
    feed = feed_for(path)
    run(warehouse_dsn, feed)
    assert event_count(warehouse_dsn) == 5

    changed = [ecs(n) for n in range(5)]
    changed[2]["event"]["action"] = "user-logout"  # the writer corrected an event
    path.write_bytes(lines(*changed, ecs(5), ecs(6)))
    os.utime(path, (time.time() + 5, time.time() + 5))  # a coarse clock still sees a change
    extracted, loaded = run(warehouse_dsn, feed)

    assert extracted.records == 7 and extracted.requests["files_read"] == 1
    assert (loaded.inserted, loaded.updated, loaded.unchanged) == (2, 1, 4)
    assert event_count(warehouse_dsn) == 7
    assert query(
        warehouse_dsn, "SELECT action FROM audit.access_events WHERE event_id = 'evt-2'"
    ) == [("user-logout",)]
    assert manifest(warehouse_dsn)["audit.jsonl"][2] == 7


def test_a_touched_but_unchanged_file_is_not_landed_again(
    warehouse_dsn: str, tmp_path: Path
) -> None:
    path = tmp_path / "audit.jsonl"
    path.write_bytes(lines(ecs(1), ecs(2)))
    feed = feed_for(path)
    run(warehouse_dsn, feed)
    before = audit_snapshot(warehouse_dsn)
    os.utime(path, (time.time() + 60, time.time() + 60))

    extracted, _ = run(warehouse_dsn, feed)
    assert extracted.records == 0 and extracted.requests["files_skipped"] == 1
    assert audit_snapshot(warehouse_dsn) == before
    third, _ = run(warehouse_dsn, feed)  # the manifest took the new time: not even checked
    assert third.records == 0 and third.requests["files_skipped"] == 1


def test_a_truncated_last_line_defers_the_file_until_it_is_complete(
    warehouse_dsn: str, tmp_path: Path
) -> None:
    path = tmp_path / "audit.jsonl"
    whole = lines(ecs(1), ecs(2), ecs(3))
    path.write_bytes(whole[:-40])  # the writer is in the middle of line 3
    feed = feed_for(tmp_path)

    extracted, loaded = run(warehouse_dsn, feed)
    assert extracted.records == 0 and extracted.requests["files_deferred"] == 1
    assert loaded.loaded == 0 and event_count(warehouse_dsn) == 0  # not half-loaded
    assert manifest(warehouse_dsn) == {}

    path.write_bytes(whole)
    extracted, loaded = run(warehouse_dsn, feed)
    assert extracted.records == 3 and loaded.inserted == 3
    again, _ = run(warehouse_dsn, feed)
    assert again.records == 0 and event_count(warehouse_dsn) == 3


def test_a_last_line_without_newline_that_is_whole_loads(
    warehouse_dsn: str, tmp_path: Path
) -> None:
    path = tmp_path / "audit.jsonl"
    path.write_bytes(lines(ecs(1)) + json.dumps(ecs(2)).encode())
    extracted, loaded = run(warehouse_dsn, feed_for(path))
    assert extracted.records == 2 and loaded.loaded == 2


def test_a_file_cut_short_that_has_settled_loads_and_quarantines_its_tail(
    warehouse_dsn: str, tmp_path: Path
) -> None:
    path = tmp_path / "audit.jsonl"
    path.write_bytes(lines(ecs(1), ecs(2)) + b'{"@timestamp": "2026-11-20T1')
    old = time.time() - 2 * 3600  # its writer stopped two hours ago (settle_minutes: 60)
    os.utime(path, (old, old))

    extracted, loaded = run(warehouse_dsn, feed_for(path))
    assert extracted.records == 3 and extracted.requests["files_deferred"] == 0
    assert (loaded.loaded, loaded.quarantined) == (2, 1)
    [(reasons,)] = query(warehouse_dsn, "SELECT reasons FROM dq.quarantine")
    assert f"{path} line 3" in reasons[0]


def test_a_gzip_file_is_read_and_one_cut_short_is_deferred(
    warehouse_dsn: str, tmp_path: Path
) -> None:
    whole = gzip.compress(lines(*(ecs(n) for n in range(50))))
    (tmp_path / "audit-1.json.gz").write_bytes(gzip.compress(lines(ecs(100), ecs(101))))
    cut = tmp_path / "audit-2.json.gz"
    cut.write_bytes(whole[: len(whole) // 2])  # still being uploaded
    feed = feed_for(tmp_path / "*.gz")

    extracted, loaded = run(warehouse_dsn, feed)
    assert extracted.records == 2 and loaded.loaded == 2
    assert (extracted.requests["files_read"], extracted.requests["files_deferred"]) == (1, 1)
    assert set(manifest(warehouse_dsn)) == {"audit-1.json.gz"}

    cut.write_bytes(whole)
    extracted, loaded = run(warehouse_dsn, feed)
    assert extracted.records == 50 and loaded.inserted == 50
    assert event_count(warehouse_dsn) == 52


def test_a_gzip_file_without_gz_suffix_is_recognised(warehouse_dsn: str, tmp_path: Path) -> None:
    (tmp_path / "audit.log").write_bytes(gzip.compress(lines(ecs(1), ecs(2))))
    extracted, loaded = run(warehouse_dsn, feed_for(tmp_path / "audit.log"))
    assert extracted.records == 2 and loaded.loaded == 2


def test_bad_and_non_object_lines_are_quarantined_with_file_and_line(
    warehouse_dsn: str, tmp_path: Path
) -> None:
    path = tmp_path / "audit.jsonl"
    path.write_bytes(
        lines(ecs(1))
        + b"{not json at all\n"
        + b"\n"  # a blank line: skipped, but counted
        + b'["an", "array"]\n'
        + lines(ecs(2))
        + b"\xef\xbb\xbf\n"  # stray bytes that are no JSON
        + lines(ecs(3))
    )
    extracted, loaded = run(warehouse_dsn, feed_for(path))

    assert extracted.records == 6
    assert (loaded.loaded, loaded.quarantined, loaded.excluded) == (3, 3, 0)
    extracted_n, loaded_n, quarantined_n, excluded_n, _ = batch_counts(
        warehouse_dsn, extracted.batch_id
    )
    assert extracted_n == loaded_n + quarantined_n + excluded_n == 6
    reasons = sorted(row[0][0] for row in query(warehouse_dsn, "SELECT reasons FROM dq.quarantine"))
    assert reasons[0].startswith(f"normalise: {path} line 2: not JSON")
    assert reasons[1].startswith(f"normalise: {path} line 4: a JSON list, not an object")
    assert reasons[2].startswith(f"normalise: {path} line 6: not JSON")
    payloads = [row[0] for row in query(warehouse_dsn, "SELECT payload FROM dq.quarantine")]
    assert {"_file_error", "file", "line", "text"} == set(payloads[0])
    assert any(payload["text"] == '["an", "array"]\n' for payload in payloads)


def test_a_folder_with_rotated_files(warehouse_dsn: str, tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    (folder / "old").mkdir(parents=True)
    (folder / "old" / "audit.log.2.gz").write_bytes(gzip.compress(lines(ecs(1), ecs(2))))
    (folder / "audit.log.1").write_bytes(lines(ecs(3), ecs(4)))
    (folder / "audit.log").write_bytes(lines(ecs(5)))
    feed = feed_for(folder)
    extracted, loaded = run(warehouse_dsn, feed)
    assert extracted.requests["files_read"] == 3 and loaded.inserted == 5

    # logrotate: .1 -> .2.gz, live -> .1, a new live file
    (folder / "audit.log.1").rename(folder / "old" / "audit.log.3")
    (folder / "audit.log").rename(folder / "audit.log.1")
    (folder / "audit.log").write_bytes(lines(ecs(6), ecs(7)))
    extracted, loaded = run(warehouse_dsn, feed)
    # the renamed files are new paths, read again: their events upsert unchanged
    assert extracted.requests["files_read"] == 3 and extracted.requests["files_skipped"] == 1
    assert (loaded.inserted, loaded.updated) == (2, 0)
    assert event_count(warehouse_dsn) == 7
    assert query(
        warehouse_dsn, "SELECT count(DISTINCT event_id) = count(*) FROM audit.access_events"
    ) == [(True,)]


def test_an_excluded_category_is_counted_per_rule(warehouse_dsn: str, tmp_path: Path) -> None:
    (tmp_path / "audit.jsonl").write_bytes(
        lines(
            ecs(1, category="authentication"),
            ecs(2, category=["IAM"]),
            ecs(3, category=["iam", "configuration"]),
            ecs(4, category="web"),
            ecs(5, category="Billing"),  # not an ECS category: never excluded
            ecs(6, category=["process", "iam"]),
        )
    )
    feed = feed_for(tmp_path, exclude_categories=["Auth", "iam"])
    extracted, loaded = run(warehouse_dsn, feed)

    assert (loaded.loaded, loaded.excluded, loaded.quarantined) == (3, 3, 0)
    *_, details = batch_counts(warehouse_dsn, extracted.batch_id)
    assert details["excluded_by_rule"] == {"category:authentication": 1, "category:iam": 2}
    assert sorted(
        row[0] for row in query(warehouse_dsn, "SELECT category FROM audit.access_events")
    ) == [
        "billing",
        "process",
        "web",
    ]


def test_an_unknown_excluded_category_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"not an ECS event\.category"):
        feed_for(tmp_path, exclude_categories=["authentcation"])


def test_an_empty_file_is_recorded_and_not_read_again(warehouse_dsn: str, tmp_path: Path) -> None:
    (tmp_path / "empty.jsonl").write_bytes(b"")
    (tmp_path / "blank.jsonl").write_bytes(b"\n\n")
    feed = feed_for(tmp_path)
    extracted, loaded = run(warehouse_dsn, feed)
    assert extracted.records == 0 and extracted.requests["files_read"] == 2
    assert loaded.extracted == 0
    assert manifest(warehouse_dsn) == {
        "empty.jsonl": (0, manifest(warehouse_dsn)["empty.jsonl"][1], 0),
        "blank.jsonl": (2, manifest(warehouse_dsn)["blank.jsonl"][1], 0),
    }
    again, _ = run(warehouse_dsn, feed)
    assert again.requests["files_skipped"] == 2


def test_a_failed_load_does_not_move_the_manifest(warehouse_dsn: str, tmp_path: Path) -> None:
    (tmp_path / "audit.jsonl").write_bytes(lines(ecs(1)))
    feed = feed_for(tmp_path)
    extract(warehouse_dsn, feed)  # extracted, never loaded
    assert manifest(warehouse_dsn) == {}
    extracted, loaded = run(warehouse_dsn, feed)  # the next run reads the file again
    assert extracted.records == 1 and loaded.loaded == 1
    assert set(manifest(warehouse_dsn)) == {"audit.jsonl"}


def test_documents_without_event_id_are_keyed_by_their_hash(
    warehouse_dsn: str, tmp_path: Path
) -> None:
    documents = [ecs(n) for n in range(3)]
    for document in documents:
        del document["event"]["id"]
    (tmp_path / "a.jsonl").write_bytes(lines(*documents))
    (tmp_path / "b.jsonl").write_bytes(lines(documents[0]))  # the same document again
    _, loaded = run(warehouse_dsn, feed_for(tmp_path))
    assert loaded.loaded == 4 and event_count(warehouse_dsn) == 3
    ids = [row[0] for row in query(warehouse_dsn, "SELECT event_id FROM audit.access_events")]
    assert all(event_id.startswith("sha256:") and len(event_id) == 71 for event_id in ids)
