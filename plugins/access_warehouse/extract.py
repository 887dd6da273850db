"""Extract: land what a feed fetches as one landing batch (the batch lifecycle, for every kind).

A feed only yields pages; starting the batch, landing and committing each page, reading the
bookmark, logging progress and ending the batch ``extracted`` or ``failed`` (with the error and
the request statistics) happen here, once.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from typing import Any

from access_warehouse.landing import ExtractWindow, LandingBatch, fail_abandoned_batches
from access_warehouse.sources.base import (
    Bookmark,
    Feed,
    FetchRequest,
    FileManifest,
    FileState,
    Page,
    Position,
    RequestStats,
    TimeWindow,
)
from access_warehouse.streams import read_ahead
from access_warehouse.warehouse import connect, execute

log = logging.getLogger(__name__)


class ExtractError(RuntimeError):
    """A feed produced something the shared path cannot land (not a page, not a list)."""


@dataclass(frozen=True)
class ExtractSummary:
    batch_id: str
    source_id: str
    pages: int
    records: int
    seconds: float
    requests: dict[str, Any]
    window_start: str | None = None
    window_end: str | None = None
    bookmark_from: Position | None = None
    bookmark_to: Position | None = None

    def as_xcom(self) -> dict[str, Any]:
        """Small, JSON-safe: ids and counts only; rows travel through the warehouse."""
        return asdict(self)


def read_bookmark(dsn: str, source_id: str) -> Position | None:
    """The stored position of a bookmark feed (None before its first committed load)."""
    with connect(dsn) as conn:
        row = execute(conn, "bookmarks/read_bookmark.sql", {"source_id": source_id}).fetchone()
    return row[0] if row else None


def extract(
    dsn: str,
    feed: Feed,
    *,
    window: ExtractWindow | None = None,
    dag_id: str | None = None,
    run_id: str | None = None,
) -> ExtractSummary:
    """Land every page ``feed`` fetches for ``window`` (time-window feeds) or after its stored
    bookmark (bookmark feeds) as one landing batch.

    On any error the batch is marked ``failed`` with the error text and the error propagates,
    so Airflow retries the task with a fresh batch; the audit tables are untouched either way.
    """
    after: Position | None = None
    processed: dict[str, FileState] = {}
    if isinstance(feed.selection, TimeWindow):
        if window is None:
            raise ValueError(f"{feed.source_id} extracts by time window: give a window")
        asked = f"window {window.describe()}"
    elif isinstance(feed.selection, Bookmark):
        window = None
        after = read_bookmark(dsn, feed.source_id)
        asked = f"records after bookmark {after}" if after else "every record (no bookmark yet)"
    elif isinstance(feed.selection, FileManifest):
        window = None
        processed = read_manifest(dsn, feed.source_id)
        asked = f"files matching {feed.selection.pattern} ({len(processed)} loaded before)"
    else:
        raise TypeError(f"unknown selection {feed.selection!r}")
    abandoned = fail_abandoned_batches(dsn, feed.source_id)
    if abandoned:
        log.warning(
            "marked %d abandoned landing batches of %s failed: %s",
            len(abandoned),
            feed.source_id,
            ", ".join(map(str, abandoned)),
        )
        for abandoned_id in abandoned:
            _record_extract_failure(dsn, abandoned_id, feed, [])
    batch = LandingBatch(
        dsn,
        source_id=feed.source_id,
        source_kind=feed.record_kind,
        window=window,
        bookmark_from=after,
        dag_id=dag_id,
        run_id=run_id,
    )
    stats = RequestStats()
    started = time.monotonic()
    position = after
    log.info("extracting %s: %s, into landing batch %s", feed.source_id, asked, batch.batch_id)
    # The next page is fetched while this one lands: one page ahead, so memory holds two.
    request = FetchRequest(window=window, after=after, stats=stats, processed=processed)
    pages = read_ahead(iter(feed.fetch(request)), 1, "fetch")
    try:
        for page in pages:
            _check_page(page)
            if feed.redact is not None:
                stats.redacted += sum(feed.redact.redact_record(record) for record in page.records)
            batch.write_page(page.records, position=page.position)
            position = page.position if page.position is not None else position
            elapsed = time.monotonic() - started
            log.info(
                "page %d%s: %d records (%d so far, %.0f records/s)",
                batch.pages,
                f" of stream {page.stream}" if page.stream else "",
                len(page.records),
                batch.records,
                batch.records / elapsed if elapsed else 0.0,
            )
    except BaseException as exc:
        pages.close()  # the fetch has stopped before its stats are stored
        batch.finish("failed", error=f"{type(exc).__name__}: {exc}"[:4000], stats=stats)
        log.error("extract of %s failed after %d pages: %s", feed.source_id, batch.pages, exc)
        _record_extract_failure(dsn, batch.batch_id, feed, [f"{type(exc).__name__}: {exc}"])
        raise
    else:
        batch.record_files(request.files)
        batch.finish("extracted", stats=stats)
    finally:
        pages.close()
        batch.close()
    seconds = time.monotonic() - started
    log.info(
        "extracted %d records in %d pages in %.1f s (%d requests, %d throttled, %d retried)%s%s",
        batch.records,
        batch.pages,
        seconds,
        stats.requests,
        stats.throttled,
        stats.retries,
        f"; {batch.raw_records} kept raw (jsonb cannot hold them)" if batch.raw_records else "",
        f"; {stats.redacted} values redacted before landing" if feed.redact is not None else "",
    )
    return ExtractSummary(
        batch_id=str(batch.batch_id),
        source_id=feed.source_id,
        pages=batch.pages,
        records=batch.records,
        seconds=round(seconds, 3),
        # what was asked and said is in the warehouse (dq.completeness), not in XCom
        requests={k: v for k, v in asdict(stats).items() if k not in ("asked", "source_said")},
        window_start=window.start.isoformat() if window else None,
        window_end=window.end.isoformat() if window else None,
        bookmark_from=after,
        bookmark_to=position,
    )


def _record_extract_failure(dsn: str, batch_id: Any, feed: Feed, problems: list[str]) -> None:
    """The ``extract_failed`` completeness row of a failed attempt, in a transaction of its
    own; a failure to write it is logged, never raised over the extract's own error."""
    from access_warehouse.quality.completeness import record_failure

    try:
        record_failure(
            dsn, batch_id, "extract_failed", problems, selection=feed.selection.describe()
        )
    except Exception as exc:
        log.warning("could not record the failed extract %s in dq.completeness: %s", batch_id, exc)


def read_manifest(dsn: str, source_id: str) -> dict[str, FileState]:
    """The files a file feed's committed loads have read, by path."""
    with connect(dsn) as conn:
        rows = execute(conn, "landing/processed_files.sql", {"source_id": source_id}).fetchall()
    return {row[0]: FileState(*row) for row in rows}


def _check_page(page: Any) -> None:
    if not isinstance(page, Page):
        raise ExtractError(f"the feed yielded {type(page).__name__}, not a Page")
    if type(page.records) is not list:
        raise ExtractError(f"a page's records are {type(page.records).__name__}, not a list")
