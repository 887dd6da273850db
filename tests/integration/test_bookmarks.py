"""Forward-only bookmarks through the shared extract and load (the toy kind, real Postgres)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest
from toy_kind import toy_line

from access_warehouse.config import parse_sources
from access_warehouse.extract import extract, read_bookmark
from access_warehouse.load import load_batch
from access_warehouse.sources.base import Feed, FetchRequest, Page


def feed_of(path: Path) -> Feed:
    entry = {"kind": "toy", "name": "demo", "path": str(path), "mode": "bookmark"}
    return parse_sources([entry], "test").feed("toy:demo")


def append(path: Path, numbers: range) -> None:
    with path.open("a") as handle:
        handle.writelines(toy_line(n, seq=n) + "\n" for n in numbers)


@pytest.mark.robustness("Bookmark feed: two extracts from one position, loaded out of order")
def test_a_batch_extracted_before_another_load_cannot_move_the_bookmark(
    warehouse_dsn: str, tmp_path: Path
) -> None:
    path = tmp_path / "toy.jsonl"
    append(path, range(4))
    feed = feed_of(path)
    first = extract(warehouse_dsn, feed)
    append(path, range(4, 6))
    second = extract(warehouse_dsn, feed)  # same start, two records more
    assert first.bookmark_from is None and second.bookmark_from is None
    assert (first.records, second.records) == (4, 6)

    # the larger batch loads first and moves the bookmark to its end
    assert load_batch(warehouse_dsn, second.batch_id, feed).bookmark_advanced is True
    assert read_bookmark(warehouse_dsn, "toy:demo") == {"cursor": 5, "key": 6}
    # the older batch still loads (its records are all there already) but leaves it alone
    late = load_batch(warehouse_dsn, first.batch_id, feed)
    assert late.bookmark_advanced is False
    assert (late.inserted, late.updated, late.unchanged) == (0, 0, 4)
    assert read_bookmark(warehouse_dsn, "toy:demo") == {"cursor": 5, "key": 6}

    append(path, range(6, 7))
    third = extract(warehouse_dsn, feed)
    assert third.bookmark_from == {"cursor": 5, "key": 6} and third.records == 1
    assert load_batch(warehouse_dsn, third.batch_id, feed).bookmark_advanced is True
    with psycopg.connect(warehouse_dsn) as conn:
        ids = [row[0] for row in conn.execute("SELECT event_id FROM audit.access_events")]
        stored = conn.execute(
            "SELECT bookmark_from, bookmark_to FROM landing.extract_batches WHERE batch_id = %s",
            (third.batch_id,),
        ).fetchone()
    assert sorted(ids) == sorted(f"toy-{n}" for n in range(7))
    assert stored == ({"cursor": 5, "key": 6}, {"cursor": 6, "key": 7})


@pytest.mark.robustness("Bookmark feed: extract failing after a page")
def test_a_failed_extract_leaves_the_bookmark_and_the_next_one_starts_there(
    warehouse_dsn: str, tmp_path: Path
) -> None:
    path = tmp_path / "toy.jsonl"
    append(path, range(3))
    feed = feed_of(path)
    load_batch(warehouse_dsn, extract(warehouse_dsn, feed).batch_id, feed)
    append(path, range(3, 9))

    def dies_after_one_page(request: FetchRequest) -> Iterator[Page]:
        pages = feed.fetch(request)
        yield next(pages)
        raise ConnectionError("simulated: the source went away")

    with pytest.raises(ConnectionError):
        extract(warehouse_dsn, replace(feed, fetch=dies_after_one_page))
    with psycopg.connect(warehouse_dsn) as conn:
        status, error, records = conn.execute(
            "SELECT status, error, records FROM landing.extract_batches"
            " ORDER BY started_at DESC LIMIT 1"
        ).fetchone()
    assert (status, records) == ("failed", 3) and "ConnectionError" in error
    assert read_bookmark(warehouse_dsn, "toy:demo") == {"cursor": 2, "key": 3}

    resumed = extract(warehouse_dsn, feed)
    assert resumed.bookmark_from == {"cursor": 2, "key": 3} and resumed.records == 6
