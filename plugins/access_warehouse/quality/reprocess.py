"""Re-process quarantined records after a fix: they load, or stay with their new reasons.

The source's open ``dq.quarantine`` rows (all, or those of one batch, with a reason matching a
text, or given ids) land again, byte for byte as they first landed, as a NEW landing batch of
the source, marked ``request_stats.reprocess`` (what was chosen, and one page per batch the
records first came from). That batch then goes through the same :func:`load_batch` as any
extract, with the source's current feed: the current code is the fix. Then, per record:

- it loaded, or the configuration now excludes it: it leaves quarantine (``released_at``,
  ``released_batch_id``) and a ``released`` row in ``dq.quarantine_history`` keeps the reasons
  it was held for and a note saying which;
- it failed again: it stays, with its new reasons, ``reprocessed`` counts the attempt and a
  ``kept`` history row names the reasons before (written by the load's own quarantine step).

A re-processing batch has no window and no end position: it moves no bookmark and enters no
file in a manifest. Its records are held to the window of the batch they first came from
(``load.reprocess_page_bounds``), so re-processing without a fix releases nothing.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import psycopg

from access_warehouse.landing import LandingBatch
from access_warehouse.load import load_batch
from access_warehouse.quality.policy import QualityPolicy
from access_warehouse.sources.base import Feed
from access_warehouse.warehouse import connect, execute, sql

log = logging.getLogger(__name__)

#: The history note of a record that loaded when re-processed.
LOADED_NOTE = "loaded when re-processed"


def excluded_note(rule: str) -> str:
    """The history note of a record that the configuration excludes when re-processed."""
    return f"excluded by configuration (rule {rule!r}) when re-processed: no longer held"


@dataclass(frozen=True)
class ReprocessSummary:
    """What one re-processing did; small and JSON-safe (it is the DAG task's XCom)."""

    source_id: str
    #: the re-processing landing batch (None: a dry run, or nothing to re-process)
    batch_id: str | None
    dry_run: bool
    #: open quarantine rows chosen
    selected: int
    #: of those, left quarantine: loaded, or excluded by configuration
    released: int
    #: of those, failed again and stay in quarantine with their new reasons
    kept: int
    #: of the released, excluded by configuration rather than loaded
    excluded: int
    #: of the released, loaded as events
    loaded: int
    #: events the loaded records gave
    events: int = 0
    #: UTC days (ISO) whose reports the re-processing load changed
    touched_days: list[str] = field(default_factory=list)

    def as_xcom(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ReprocessRequest:
    """The ``request_stats`` of a re-processing landing batch: visible in landing (and told
    apart from an extract's request statistics by its one key)."""

    reprocess: dict[str, Any]


def reprocess_quarantine(
    dsn: str,
    feed: Feed,
    *,
    batch_id: str | uuid.UUID | None = None,
    reason_like: str | None = None,
    ids: Sequence[int] | None = None,
    dry_run: bool = False,
    except_batch_id: str | uuid.UUID | None = None,
    dag_id: str | None = None,
    run_id: str | None = None,
    chunk_size: int = 10_000,
) -> ReprocessSummary:
    """Re-process ``feed``'s open quarantine rows (only those first quarantined by ``batch_id``,
    with a reason containing ``reason_like`` (case-insensitive; ILIKE wildcards work), with a
    quarantine id in ``ids``, when given): land them as a new batch, load it with ``feed`` and
    write back which records left quarantine. ``dry_run`` only counts what would be chosen.
    ``except_batch_id`` leaves out what that batch quarantined (a DAG run's own load, just done
    with the same code: re-processing it could only keep it).

    One re-processing of a source runs at a time. A run that stopped after its load committed
    has its outcome written back by the next one (before that one chooses records).
    """
    source_id = feed.source_id
    selection = {
        # a malformed id fails here, naming it, rather than as a cast error in SQL
        "batch_id": str(uuid.UUID(str(batch_id))) if batch_id is not None else None,
        "reason_like": reason_like,
        "ids": list(ids) if ids is not None else None,
        "except_batch_id": str(except_batch_id) if except_batch_id is not None else None,
    }
    with connect(dsn, autocommit=True) as lock:
        execute(lock, "quality/reprocess_lock.sql", {"source_id": source_id})
        try:
            for unfinished, excluded in _unfinished(dsn, source_id):
                log.warning("writing back the outcome of re-processing batch %s", unfinished)
                _write_back(dsn, feed, unfinished, excluded)
            return _reprocess(dsn, feed, selection, dry_run, dag_id, run_id, chunk_size)
        finally:
            execute(lock, "quality/reprocess_unlock.sql", {"source_id": source_id})


def _reprocess(
    dsn: str,
    feed: Feed,
    selection: dict[str, Any],
    dry_run: bool,
    dag_id: str | None,
    run_id: str | None,
    chunk_size: int,
) -> ReprocessSummary:
    source_id = feed.source_id
    with connect(dsn) as conn:
        conn.execute(sql("quality/reprocess_create_chosen.sql"))  # type: ignore[arg-type]
        execute(
            conn,
            "quality/reprocess_choose.sql",
            {
                "source_id": source_id,
                "from_batch_id": selection["batch_id"],
                "reason_like": selection["reason_like"],
                "ids": selection["ids"],
                "except_batch_id": selection["except_batch_id"],
            },
        )
        pages = [
            {
                "page_no": page_no,
                "from_batch_id": str(from_batch),
                "window_start": start.isoformat() if start else None,
                "window_end": end.isoformat() if end else None,
                "records": records,
            }
            for page_no, from_batch, start, end, records in execute(
                conn, "quality/reprocess_chosen_pages.sql"
            ).fetchall()
        ]
        selected = sum(page["records"] for page in pages)
        if dry_run or not selected:
            conn.rollback()
            log.info(
                "%s: %d open quarantined records %s (%s)",
                source_id,
                selected,
                "would be re-processed" if dry_run else "to re-process: nothing to do",
                _describe(selection),
            )
            return ReprocessSummary(source_id, None, dry_run, selected, 0, 0, 0, 0)
        batch = LandingBatch(
            dsn, source_id=source_id, source_kind=feed.record_kind, dag_id=dag_id, run_id=run_id
        )
        try:
            params = {"batch_id": batch.batch_id}
            execute(conn, "quality/reprocess_land.sql", params)
            execute(conn, "quality/reprocess_map.sql", params)
            execute(
                conn,
                "quality/reprocess_landed.sql",
                {**params, "pages": len(pages), "records": selected},
            )
            conn.commit()
        except BaseException as exc:
            conn.rollback()
            batch.finish("failed", error=f"{type(exc).__name__}: {exc}"[:4000])
            batch.close()
            raise
        request = {"selection": selection, "records": selected, "pages": pages}
        batch.finish("extracted", stats=ReprocessRequest(request))
        batch.close()
    log.info(
        "re-processing %d quarantined records of %s (%s) as landing batch %s",
        selected,
        source_id,
        _describe(selection),
        batch.batch_id,
    )
    loaded = load_batch(
        dsn,
        batch.batch_id,
        _without_share_check(feed),
        chunk_size=chunk_size,
        dag_id=dag_id,
        run_id=run_id,
    )
    released, kept, excluded = _write_back(dsn, feed, batch.batch_id, loaded.excluded)
    summary = ReprocessSummary(
        source_id=source_id,
        batch_id=str(batch.batch_id),
        dry_run=False,
        selected=selected,
        released=released,
        kept=kept,
        excluded=excluded,
        loaded=released - excluded,
        events=loaded.events,
        touched_days=loaded.touched_days,
    )
    if released + kept != selected or kept != loaded.quarantined:
        # e.g. a record whose payload hash changed on the way: it was quarantined as a new row
        log.warning(
            "re-processing batch %s of %s does not reconcile: %d chosen, %d released, %d kept, "
            "load: %d quarantined",
            batch.batch_id,
            source_id,
            selected,
            released,
            kept,
            loaded.quarantined,
        )
    log.info(
        "re-processed %d quarantined records of %s in batch %s: %d released (%d loaded, "
        "%d excluded by configuration), %d kept with their new reasons",
        selected,
        source_id,
        batch.batch_id,
        released,
        summary.loaded,
        excluded,
        kept,
    )
    return summary


def _without_share_check(feed: Feed) -> Feed:
    """The feed with the batch-level quarantine-share check off: a re-processing batch is made
    of records that failed before, so a high share is expected and must not hold back the ones
    the fix lets through. The other batch checks concern a window, which it does not have."""
    policy = feed.quality or QualityPolicy()
    return replace(feed, quality=policy.model_copy(update={"max_quarantine_share": None}))


def _unfinished(dsn: str, source_id: str) -> list[tuple[uuid.UUID, int]]:
    with connect(dsn) as conn:
        rows = execute(conn, "quality/reprocess_unfinished.sql", {"source_id": source_id})
        return [(batch_id, excluded) for batch_id, excluded in rows.fetchall()]


def _write_back(
    dsn: str, feed: Feed, batch_id: uuid.UUID, excluded_count: int
) -> tuple[int, int, int]:
    """Release the records of loaded re-processing batch ``batch_id`` that its load did not
    quarantine again, in one transaction; returns (released, kept, excluded)."""
    with connect(dsn) as conn:
        excluded_ids = _excluded_by_rule(conn, feed, batch_id) if excluded_count else {}
        excluded = 0
        for rule, ids in excluded_ids.items():
            excluded += _release(conn, batch_id, excluded_note(rule), ids)
        released = excluded + _release(conn, batch_id, LOADED_NOTE, None)
        (kept,) = execute(conn, "quality/reprocess_kept.sql", {"batch_id": batch_id}).fetchone()
    return released, kept, excluded


def _excluded_by_rule(
    conn: psycopg.Connection, feed: Feed, batch_id: uuid.UUID
) -> dict[str, list[int]]:
    """Which of the batch's released records the configuration excludes, by rule: the load
    counts them but does not say which they are, and ``feed.exclude`` is a pure function of the
    record (asked as the load asks it). Read in chunks: memory holds ids only."""
    found: dict[str, list[int]] = defaultdict(list)
    if feed.exclude is None:
        return found
    with conn.cursor(name="reprocess_not_kept") as cursor:
        cursor.execute(sql("quality/reprocess_not_kept.sql"), {"batch_id": batch_id})  # type: ignore[arg-type]
        while rows := cursor.fetchmany(1000):
            for quarantine_id, payload in rows:
                rule = _exclusion(feed, payload)
                if rule is not None:
                    found[rule].append(quarantine_id)
    return found


def _exclusion(feed: Feed, record: Any) -> str | None:
    # as load._BatchLoader._exclusion: an odd record is never excluded
    if feed.exclude is None or type(record) is not dict:
        return None
    try:
        return feed.exclude(record)
    except Exception:
        return None


def _release(
    conn: psycopg.Connection, batch_id: uuid.UUID, note: str, ids: list[int] | None
) -> int:
    cursor = execute(
        conn, "quality/reprocess_release.sql", {"batch_id": batch_id, "note": note, "ids": ids}
    )
    return cursor.rowcount


def _describe(selection: dict[str, Any]) -> str:
    parts = [
        f"first quarantined by batch {selection['batch_id']}" if selection["batch_id"] else "",
        f"with a reason like {selection['reason_like']!r}" if selection["reason_like"] else "",
        f"{len(selection['ids'])} ids" if selection["ids"] is not None else "",
    ]
    return ", ".join(part for part in parts if part) or "every open record"
