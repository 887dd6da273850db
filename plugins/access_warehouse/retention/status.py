"""``reporting.retention_status``: per table and source, what retention leaves and what next.

Every enforcing run (not a dry run) rewrites ``etl.retention_state`` in one transaction, after
its purges; the view ``reporting.retention_status`` (``include/sql/views/070_retention_status.sql``)
adds the legal holds in force now and the latest purge. Per table and source:

- the policy (and whether it is the family's default, the source's own, or, for rows of no
  single source, the family's longest) and the cutoff of this run;
- the oldest row kept and from when the data is complete: from the oldest row when no purge
  removed anything after it, else from the end of the newest purge (a hold that kept older
  rows leaves a gap between them and that point);
- rows kept past the policy this run and why (a legal hold, a source that keeps longer sharing
  a partition, a landing batch never loaded);
- the next purge date: the first UTC day a run removes the oldest row not yet past the policy
  (for events: the next partition holding the source's rows that falls due);
- a note: for landing, which batches can still be replayed.

Counting ``audit.access_events`` per source would read every event daily: its rows are left
NULL; its oldest rows come from a loose scan of each partition's key and a probe of the oldest
partition holding the source.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from access_warehouse.retention.config import FAMILIES, Keep, RetentionConfig, day_start
from access_warehouse.retention.enforce import (
    Hold,
    Item,
    _on_partition,
    _partition_due,
    _partition_sources,
    _partitions,
)
from access_warehouse.retention.tables import ACCESS_EVENTS, TABLES, TableSpec
from access_warehouse.warehouse import execute, sql

#: The cutoff of a period kept forever: nothing is ever older.
_NEVER = "-infinity"


def _next_row_purge(keep: Keep, moment: datetime | None) -> date | None:
    """The first UTC day a run removes a row of time ``moment`` (its cutoff then is later)."""
    if moment is None:
        return None
    due = keep.shift(moment, 1)
    if due is None:
        return None
    return (day_start(due) + timedelta(days=1)).date()


def _kept_this_run(items: list[Item]) -> dict[tuple[str, str], tuple[int, list[str]]]:
    """Rows kept past their policy by this run, and why, per table and source."""
    kept: dict[tuple[str, str], tuple[int, list[str]]] = {}
    for item in items:
        if not item.kept_rows:
            continue
        texts = [reason["text"] for reason in item.kept_because]
        per_source = item.details.get("kept_sources") or {"*": item.kept_rows}
        for source_id, rows in per_source.items():
            before, reasons = kept.get((item.table_name, source_id), (0, []))
            kept[(item.table_name, source_id)] = (
                before + rows,
                reasons + [text for text in texts if text not in reasons],
            )
    return kept


def _state(
    family: str,
    table: str,
    source_id: str,
    keep: Keep,
    origin: str,
    now: datetime,
    config: RetentionConfig,
    **values: Any,
) -> dict[str, Any]:
    holds = [
        Hold.from_config(hold).describe()
        for hold in config.holds_in_force(now)
        if source_id == "*" or not hold.sources or source_id in hold.sources
    ]
    return {
        "family": family,
        "table_name": table,
        "source_id": source_id,
        "policy": str(keep),
        "policy_origin": origin,
        "cutoff": keep.cutoff(now),
        "config_holds": holds,
        "as_of": now,
        **values,
    }


def _complete_from(oldest: datetime | None, purged_end: datetime | None) -> datetime | None:
    if purged_end is not None and (oldest is None or purged_end > oldest):
        return purged_end
    return oldest


def _table_rows(
    conn: psycopg.Connection,
    spec: TableSpec,
    config: RetentionConfig,
    now: datetime,
    purged: dict[tuple[str, str], tuple[int, datetime, datetime]],
    kept: dict[tuple[str, str], tuple[int, list[str]]],
) -> list[dict[str, Any]]:
    policy = config.policies.family(spec.family)
    if spec.per_source:
        cutoffs = {
            source_id: (keep.cutoff(now) or _NEVER) for source_id, keep in policy.by_source.items()
        }
        default = policy.keep.cutoff(now)
    else:
        cutoffs, default = {}, policy.longest().cutoff(now)
    params = {
        "cutoffs": Jsonb({k: str(v) for k, v in cutoffs.items()}),
        "default_cutoff": str(default or _NEVER),
    }
    found = {
        (source_id or "*"): (rows, oldest, next_at)
        for source_id, rows, oldest, next_at in conn.execute(spec.status_query(), params)
    }
    # a source whose rows are all gone, or with a policy of its own and no rows yet, has a
    # row too: its latest purge, its policy
    gone = [source for table, source in purged if table == spec.table]
    for source_id in (*policy.by_source, *gone) if spec.per_source else ("*",):
        found.setdefault(source_id, (0, None, None))
    states = []
    for source_id, (rows, oldest, next_at) in sorted(found.items()):
        if spec.per_source:
            keep, origin = policy.for_source(source_id)
        else:
            keep, origin = policy.longest(), "longest"
        purged_rows, purged_end, _ = purged.get((spec.table, source_id), (0, None, None))
        kept_rows, reasons = kept.get((spec.table, source_id), (0, []))
        note = None
        if spec.table == "landing.extract_batches":
            note = _replay_note(rows, oldest, purged_rows, purged_end)
        states.append(
            _state(
                spec.family, spec.table, source_id, keep, origin, now, config,
                rows_kept=rows, oldest_kept=oldest,
                complete_from=_complete_from(oldest, purged_end),
                kept_past_policy=kept_rows, kept_because=reasons,
                next_purge=_next_row_purge(keep, next_at), note=note,
            )
        )  # fmt: skip
    return states


def _replay_note(
    rows: int, oldest: datetime | None, purged: int, purged_end: datetime | None
) -> str:
    """What landing retention means for replay (loading a landed batch again)."""

    def batches(count: int) -> str:
        return f"{count} batch" if count == 1 else f"{count} batches"

    if rows:
        since = f"{oldest:%Y-%m-%d %H:%M} UTC"
        note = f"replay: the {batches(rows)} landed since {since} can be replayed"
    else:
        note = "replay: no landed batch is left"
    if purged:
        note += (
            f"; {batches(purged)} landed before {purged_end:%Y-%m-%d} were purged by retention "
            "and can no longer be replayed (their events stay in audit.access_events)"
        )
    return note


def _event_rows(
    conn: psycopg.Connection,
    config: RetentionConfig,
    now: datetime,
    purged: dict[tuple[str, str], tuple[int, datetime, datetime]],
    kept: dict[tuple[str, str], tuple[int, list[str]]],
) -> list[dict[str, Any]]:
    family = config.policies.access_events
    today = day_start(now)
    partitions = _partitions(conn)
    holding: dict[str, list[Any]] = {}
    sources_of: dict[str, list[str]] = {}
    for partition in partitions:
        sources_of[partition.name] = _partition_sources(conn, partition)
        for source_id in sources_of[partition.name]:
            holding.setdefault(source_id, []).append(partition)
    states = []
    for source_id in sorted(set(holding) | set(family.by_source)):
        keep, origin = family.for_source(source_id)
        parts = holding.get(source_id, [])
        oldest = None
        if parts:
            oldest = _on_partition(
                conn, "partition_source_oldest", parts[0], {"source_id": source_id}
            ).fetchone()[0]  # type: ignore[index]
        # the earliest day one of its partitions falls due (a partition shared with a source
        # that keeps longer falls due later than a newer one may)
        next_purge = None
        held_back = False
        for partition in parts:
            keeps = [family.for_source(other)[0] for other in sources_of[partition.name]]
            due = _partition_due(partition, keeps)
            if due is None:
                continue  # a source here keeps forever
            if due <= today:
                held_back = True  # due, and kept (a hold, or a lock not available)
            elif next_purge is None or due.date() < next_purge:
                next_purge = due.date()
        _, purged_end, _ = purged.get((ACCESS_EVENTS, source_id), (0, None, None))
        kept_rows, reasons = kept.get((ACCESS_EVENTS, source_id), (0, []))
        note = None
        if kept_rows or held_back:
            note = "partitions past this source's policy stay whole: " + (
                "; ".join(reasons) or "see the keep_partition records in etl.retention_runs"
            )
        states.append(
            _state(
                "access_events", ACCESS_EVENTS, source_id, keep, origin, now, config,
                rows_kept=None, oldest_kept=oldest,
                complete_from=_complete_from(oldest, purged_end),
                kept_past_policy=kept_rows, kept_because=reasons,
                next_purge=next_purge, note=note,
            )
        )  # fmt: skip
    return states


def refresh_status(
    conn: psycopg.Connection, config: RetentionConfig, now: datetime, items: list[Item]
) -> int:
    """Rewrite ``etl.retention_state`` (in the caller's transaction) from the warehouse as it
    is after the run's purges ``items``; returns the rows written."""
    purged = {
        (table, source_id): (rows, range_end, last_at)
        for table, source_id, rows, range_end, last_at in execute(
            conn, "retention/purged.sql"
        ).fetchall()
    }
    kept = _kept_this_run(items)
    states: list[dict[str, Any]] = []
    for family in FAMILIES:
        if family == "access_events":
            states += _event_rows(conn, config, now, purged, kept)
            continue
        for spec in TABLES:
            if spec.family == family:
                states += _table_rows(conn, spec, config, now, purged, kept)
    execute(conn, "retention/replace_state.sql")
    with conn.cursor() as cursor:
        cursor.executemany(sql("retention/insert_state.sql"), states)  # type: ignore[arg-type]
    return len(states)
