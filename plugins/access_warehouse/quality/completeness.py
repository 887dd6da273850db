"""Completeness evidence per window (``dq.completeness``) and the daily summary over it.

Every extract attempt gets one row: what was asked (the selection, the window or bookmark, and
what the kind adds in ``RequestStats.asked``: the Graph URL and ``$filter``, the SQL text and
its parameters, the files), what the source said (pages and records landed, and what the kind
adds in ``RequestStats.source_said`` / ``source_count``: the end of paging, a ``count(*)`` over
the same window, the lines of each file), what loaded, was quarantined or excluded, and whether
those numbers reconcile (:func:`reconcile`). A window whose numbers disagree is
``not_reconciled``, with a problem text naming the numbers; it is never reported complete.

The shared path writes the rows, so every source kind has them without code of its own:

- :func:`record_load` in the load's transaction (it commits with the load, or not at all);
- :func:`record_failure` in a short transaction of its own: an extract that failed
  (``extract_failed``) or a window whose batch-level checks failed (``failed_checks``).

:func:`daily_summary` reads the view ``dq.daily_summary`` (per source and UTC day);
:func:`format_daily_summary` renders it as the one page the CLI prints.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from access_warehouse.sources.base import Feed
from access_warehouse.warehouse import connect, execute, sql

log = logging.getLogger(__name__)

STATUSES = ("complete", "not_reconciled", "failed_checks", "extract_failed")
#: Keys of ``asked`` and ``source_said`` the shared path writes; a kind's keys of the same name
#: give way to them.
SHARED_ASKED = ("selection", "window", "bookmark_from")
SHARED_SAID = ("pages", "records", "bookmark_to")


def reconcile(
    *,
    extracted: int,
    loaded: int | None,
    quarantined: int | None,
    excluded: int | None,
    source_count: int | None,
    source_said: Mapping[str, Any],
) -> tuple[str, list[str]]:
    """``("complete", [])`` when every number agrees, else ``("not_reconciled", problems)``,
    one problem text per number that disagrees, saying by how much.

    - every extracted record is loaded, quarantined or excluded;
    - the source's own count (when it gave one) equals the records extracted; a count that does
      not share the read's snapshot (``source_said["count_snapshot"]`` false: a live table
      counted apart from the read) may be lower, by rows written between count and read, but
      never higher (rows the read missed);
    - paging ended (when the kind says: the last page had no next link);
    - every file was read fully (lines read = lines counted).
    """
    problems: list[str] = []
    if loaded is not None:
        accounted = loaded + (quarantined or 0) + (excluded or 0)
        if accounted != extracted:
            problems.append(
                f"extracted {extracted} records but loaded {loaded} + quarantined "
                f"{quarantined or 0} + excluded {excluded or 0} = {accounted} "
                f"({extracted - accounted:+d} unaccounted)"
            )
    if source_count is not None:
        difference = source_count - extracted
        if difference > 0:
            problems.append(
                f"the source counted {source_count} records, {extracted} were extracted "
                f"({difference} missing)"
            )
        elif difference < 0 and source_said.get("count_snapshot", True):
            problems.append(
                f"the source counted {source_count} records in the read's own snapshot, "
                f"{extracted} were extracted ({-difference} more than it holds)"
            )
    if "paging_ended" in source_said and source_said["paging_ended"] is not True:
        unfinished = [
            name
            for name, stream in (source_said.get("streams") or {}).items()
            if isinstance(stream, dict) and stream.get("paging_ended") is not True
        ]
        problems.append(
            "paging did not end: the last page read still had a next link"
            + (f" (stream {', '.join(unfinished)})" if unfinished else "")
        )
    for path, state in (source_said.get("files") or {}).items():
        if not isinstance(state, dict):
            continue
        lines, read = state.get("lines"), state.get("read")
        if lines != read:
            problems.append(f"file {path}: {lines} lines counted, {read} read")
    return ("not_reconciled" if problems else "complete"), problems


def _evidence(
    batch: Mapping[str, Any], selection: str | None
) -> tuple[dict[str, Any], dict[str, Any], int | None]:
    """``(asked, source_said, source_count)`` of a landing batch: the kind's part from its
    stored request statistics, the shared part from the batch itself."""
    stats = batch["request_stats"] or {}
    asked = dict(stats.get("asked") or {})
    if selection is not None:
        asked["selection"] = selection
    if batch["window_start"] is not None:
        asked["window"] = {
            "start": batch["window_start"].isoformat(),
            "end": batch["window_end"].isoformat(),
            "lookback_s": batch["lookback"].total_seconds(),
        }
    elif batch["bookmark_from"] is not None:
        asked["bookmark_from"] = batch["bookmark_from"]
    said = dict(stats.get("source_said") or {})
    said["pages"] = batch["pages"]
    said["records"] = batch["records"]
    if batch["bookmark_to"] is not None:
        said["bookmark_to"] = batch["bookmark_to"]
    count = stats.get("source_count")
    return asked, said, int(count) if count is not None else None


def _batch(conn: psycopg.Connection, batch_id: uuid.UUID) -> dict[str, Any]:
    with conn.cursor(row_factory=dict_row) as cursor:
        row = cursor.execute(
            sql("quality/completeness_batch.sql"), {"batch_id": batch_id}
        ).fetchone()
    if row is None:
        raise LookupError(f"landing batch {batch_id} does not exist")
    return row


def _write(
    conn: psycopg.Connection,
    batch: Mapping[str, Any],
    *,
    asked: dict[str, Any],
    source_said: dict[str, Any],
    source_count: int | None,
    counts: Mapping[str, Any],
    status: str,
    problems: list[str],
    dag_id: str | None,
    run_id: str | None,
) -> None:
    execute(
        conn,
        "quality/completeness_upsert.sql",
        {
            "batch_id": batch["batch_id"],
            "source_id": batch["source_id"],
            "dag_id": dag_id or batch["dag_id"],
            "run_id": run_id or batch["run_id"],
            "window_start": batch["window_start"],
            "window_end": batch["window_end"],
            "lookback": batch["lookback"] or timedelta(0),
            "asked": Jsonb(asked),
            "source_said": Jsonb(source_said),
            "source_count": source_count,
            "extracted": counts.get("extracted", batch["records"]),
            "loaded": counts.get("loaded"),
            "quarantined": counts.get("quarantined"),
            "excluded": counts.get("excluded"),
            "status": status,
            "problems": problems,
        },
    )


def record_load(
    conn: psycopg.Connection,
    batch_id: uuid.UUID,
    feed: Feed,
    counts: Mapping[str, Any],
    *,
    dag_id: str | None = None,
    run_id: str | None = None,
) -> str:
    """Write the completeness row of a batch being loaded, in the load's transaction ``conn``,
    from the landing batch's stored window or bookmark and request statistics plus the load's
    ``counts`` (``extracted``, ``loaded``, ``quarantined``, ``excluded``); return its status
    (``complete`` or ``not_reconciled``)."""
    batch = _batch(conn, batch_id)
    asked, said, source_count = _evidence(batch, feed.selection.describe())
    extracted = int(counts.get("extracted", batch["records"]))
    status, problems = reconcile(
        extracted=extracted,
        loaded=counts.get("loaded"),
        quarantined=counts.get("quarantined"),
        excluded=counts.get("excluded"),
        source_count=source_count,
        source_said=said,
    )
    _write(
        conn,
        batch,
        asked=asked,
        source_said=said,
        source_count=source_count,
        counts={**counts, "extracted": extracted},
        status=status,
        problems=problems,
        dag_id=dag_id,
        run_id=run_id,
    )
    if problems:
        log.warning("window of batch %s does not reconcile: %s", batch_id, "; ".join(problems))
    return status


def record_failure(
    dsn: str,
    batch_id: str | uuid.UUID,
    status: str,
    problems: list[str],
    *,
    selection: str | None = None,
    counts: Mapping[str, Any] | None = None,
    dag_id: str | None = None,
    run_id: str | None = None,
) -> None:
    """Mark the window of ``batch_id`` ``failed_checks`` (its batch-level checks failed: nothing
    loaded) or ``extract_failed`` (its extract failed), with ``problems`` saying why, in a
    transaction of its own (the load's or extract's own transaction is gone or rolled back).

    ``counts`` may give ``loaded``, ``quarantined``, ``excluded`` (``extracted`` defaults to the
    records landed); ``selection`` is the feed's ``selection.describe()``.
    """
    if status not in ("failed_checks", "extract_failed"):
        raise ValueError(f"record_failure records failed_checks or extract_failed, not {status!r}")
    counts = dict(counts or {})
    if status == "failed_checks":
        counts.setdefault("loaded", 0)
    with connect(dsn) as conn:
        batch = _batch(conn, uuid.UUID(str(batch_id)))
        asked, said, source_count = _evidence(batch, selection)
        if status == "extract_failed" and batch["error"] and not problems:
            problems = [batch["error"]]
        _write(
            conn,
            batch,
            asked=asked,
            source_said=said,
            source_count=source_count,
            counts=counts,
            status=status,
            problems=[problem[:4000] for problem in problems],
            dag_id=dag_id,
            run_id=run_id,
        )


# --- the daily summary ----------------------------------------------------------------------


@dataclass(frozen=True)
class DailySummaryRow:
    """One source on one UTC day (``dq.daily_summary``)."""

    day: date
    source_id: str
    batches: int  # extract attempts
    windows: int  # windows (or batches without one) after retries
    extracted: int
    loaded: int
    quarantined: int
    excluded: int
    failed_validations: int  # validation runs whose batch-level checks failed
    failed_expectations: int  # expectation results that failed (severity error)
    status: str  # complete only when every window of the day is complete
    problems: list[str]


def daily_summary(dsn: str, days: int = 7, source_id: str | None = None) -> list[DailySummaryRow]:
    """The daily summary of the last ``days`` UTC days (today included), newest day first,
    of every source or of ``source_id``."""
    if days < 1:
        raise ValueError(f"days must be at least 1, not {days}")
    with connect(dsn) as conn, conn.cursor(row_factory=dict_row) as cursor:
        rows = cursor.execute(
            sql("quality/completeness_daily_summary.sql"),
            {"days": days, "source_id": source_id},
        ).fetchall()
    return [DailySummaryRow(**row) for row in rows]


def completeness_rows(dsn: str, source_id: str) -> list[dict[str, Any]]:
    """Every ``dq.completeness`` row of ``source_id``, newest first."""
    with connect(dsn) as conn, conn.cursor(row_factory=dict_row) as cursor:
        return cursor.execute(
            sql("quality/completeness_window.sql"), {"source_id": source_id}
        ).fetchall()


_HEADER = (
    ("day", 10),
    ("source", 36),
    ("batches", 7),
    ("extracted", 9),
    ("loaded", 9),
    ("quarantined", 11),
    ("excluded", 8),
    ("failed checks", 13),
    ("status", 14),
)
_LEFT = (0, 1, len(_HEADER) - 1)  # day, source and status read left to right
#: Problem lines shown under a row, so the summary stays one page.
PROBLEMS_SHOWN = 2


def format_daily_summary(rows: list[DailySummaryRow], days: int) -> str:
    """The summary as one page of text: a line per day and source, the day's problems under
    it (at most :data:`PROBLEMS_SHOWN`), a blank line between days."""
    width = sum(size for _, size in _HEADER) + 2 * (len(_HEADER) - 1)
    lines = [
        f"daily summary, last {days} day{'s' if days != 1 else ''} (UTC): "
        f"{len({row.source_id for row in rows})} sources, {len(rows)} source-days, "
        f"{sum(row.status != 'complete' for row in rows)} not complete",
        "  ".join(
            name.ljust(size) if index in _LEFT else name.rjust(size)
            for index, (name, size) in enumerate(_HEADER)
        ).rstrip(),
        "-" * width,
    ]
    previous: date | None = None
    for row in rows:
        if previous is not None and row.day != previous:
            lines.append("")
        values = (
            row.day.isoformat() if row.day != previous else "",
            row.source_id,
            row.batches,
            row.extracted,
            row.loaded,
            row.quarantined,
            row.excluded,
            row.failed_validations + row.failed_expectations,
            row.status,
        )
        previous = row.day
        lines.append(
            "  ".join(
                str(value).ljust(size) if index in _LEFT else str(value).rjust(size)
                for index, (value, (_, size)) in enumerate(zip(values, _HEADER, strict=True))
            ).rstrip()
        )
        for problem in row.problems[:PROBLEMS_SHOWN]:
            lines.append(f"{'':12}! {problem[: width - 14]}")
        if len(row.problems) > PROBLEMS_SHOWN:
            lines.append(f"{'':12}! ... and {len(row.problems) - PROBLEMS_SHOWN} more problems")
    if not rows:
        lines.append("no windows recorded in these days")
    return "\n".join(lines)
