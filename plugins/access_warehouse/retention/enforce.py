"""Enforce ``include/config/retention.yaml``: purge what the policies say, keep what holds say.

:func:`plan_retention` says what a run would remove and what it would keep past a policy, and
why; :func:`enforce_retention` does it (or, with ``dry_run``, records the plan). Per family,
in the order of :data:`access_warehouse.retention.config.FAMILIES`:

- ``audit.access_events`` loses **whole monthly partitions**, detached and dropped, never rows:
  a partition goes when every source with rows in it is past its own policy at the partition's
  end and no legal hold in force covers its period for one of those sources; otherwise it stays
  whole and a ``keep_partition`` record says why (a source that keeps longer, a hold). Before
  the drop, the partition's successful events are folded into ``audit.access_logs_retired``
  (access logs outlive the events) and each source's purge is recorded in its manifest chain
  (:func:`access_warehouse.integrity.manifests.record_purge`), in the same transaction.
- Every other table loses the rows older than its source's policy in bounded statements of at
  most ``batch_rows`` rows (:mod:`access_warehouse.retention.tables`), what refers to them
  first, except the rows a hold in force covers (and landing batches never loaded).

**One purge, one transaction**: a partition, or one table's rows of one policy (the family's
default for every source without its own, or one source's override), is removed in a single
transaction together with its row in ``etl.retention_runs``; a failure rolls both back and the
next run starts again. Within it, each statement is bounded (a TID list of ``batch_rows``, so
neither memory nor a lock wait grows with the backlog) and ``max_rows_per_purge`` bounds the
transaction's length (what is left goes the next day). Deleting batch by batch in
transactions of their own would leave a purge half done and its record out of step with the
table after a crash; one transaction keeps the record exact.

Holds are read again inside every purge's transaction, under an advisory lock held shared that
every change to ``etl.legal_holds`` takes exclusively (its trigger), so a hold set while a run
is under way is either seen by a purge or waits for it to commit. One run at a time (a session
advisory lock). A purge that cannot take a lock within ``lock_timeout_seconds`` (a load writing
the same month or table) gives up for this run, and the next one tries again.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql as pgsql
from psycopg.types.json import Jsonb

from access_warehouse.integrity.manifests import record_purge
from access_warehouse.retention.config import (
    FAMILIES,
    Keep,
    LegalHold,
    RetentionConfig,
    day_start,
)
from access_warehouse.retention.tables import ACCESS_EVENTS, TABLES, TableSpec
from access_warehouse.warehouse import connect, execute, sql

log = logging.getLogger(__name__)


class RetentionBusy(RuntimeError):
    """Another retention run holds the lock."""


@dataclass(frozen=True)
class Hold:
    """A legal hold in force: from the config or from ``etl.legal_holds``."""

    hold_id: str
    period_start: datetime
    period_end: datetime
    sources: tuple[str, ...]
    reason: str
    set_by: str
    #: where it was set: include/config/retention.yaml, or etl.legal_holds
    origin: str

    @classmethod
    def from_config(cls, hold: LegalHold) -> Hold:
        return cls(
            hold.id, hold.from_, hold.to, tuple(hold.sources), hold.reason, hold.set_by, "config"
        )

    def covers(self, sources: set[str], start: datetime, end: datetime) -> bool:
        """Whether the hold names one of ``sources`` (or every source) in ``[start, end)``."""
        overlaps = self.period_start < end and start < self.period_end
        return overlaps and (not self.sources or bool(set(self.sources) & sources))

    def as_json(self) -> dict[str, Any]:
        return {
            "hold_id": self.hold_id,
            "period_start": self.period_start.isoformat(),
            "period_end": self.period_end.isoformat(),
            "sources": list(self.sources),
        }

    def describe(self) -> str:
        who = ", ".join(self.sources) or "every source"
        return (
            f"legal hold {self.hold_id} ({self.period_start:%Y-%m-%d} .. "
            f"{self.period_end:%Y-%m-%d}, {who}): {self.reason} (set by {self.set_by})"
        )


@dataclass
class Item:
    """One purge, or one decision to keep rows a policy would have removed."""

    family: str
    table_name: str
    #: drop_partition, keep_partition, delete, keep
    action: str
    source_id: str | None = None
    partition_name: str | None = None
    range_start: datetime | None = None
    range_end: datetime | None = None
    rows: int = 0
    kept_rows: int = 0
    kept_because: list[dict[str, Any]] = field(default_factory=list)
    policy: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    retention_run_id: str | None = None

    def describe(self) -> str:
        where = self.partition_name or self.table_name
        whose = f" of {self.source_id}" if self.source_id else ""
        span = ""
        if self.range_start and self.range_end:
            span = f" [{self.range_start:%Y-%m-%d} .. {self.range_end:%Y-%m-%d})"
        why = "; ".join(reason["text"] for reason in self.kept_because)
        if self.action == "drop_partition":
            sources = len(self.details.get("sources", {}))
            return f"{where}{span}: drop ({self.rows} rows of {sources} sources)"
        if self.action == "keep_partition":
            return f"{where}{span}: kept whole ({self.kept_rows} rows past their policy): {why}"
        if self.action == "delete":
            extra = ""
            if "records" in self.details:
                extra = f" with {self.details['records']} records"
            kept = f"; kept {self.kept_rows}: {why}" if self.kept_rows else ""
            return f"{where}{whose}{span}: delete {self.rows} rows{extra}{kept}"
        return f"{where}{whose}: kept {self.kept_rows} rows past the policy: {why}"

    def as_dict(self) -> dict[str, Any]:
        found = asdict(self)
        for key in ("range_start", "range_end"):
            found[key] = found[key].isoformat() if found[key] else None
        return found


@dataclass(frozen=True)
class RetentionPlan:
    """What a run at ``now`` would remove and keep, and why."""

    now: datetime
    holds: tuple[Hold, ...]
    items: tuple[Item, ...]

    def removes(self) -> dict[str, int]:
        """Rows that would go, per table."""
        totals: dict[str, int] = {}
        for item in self.items:
            if item.rows:
                totals[item.table_name] = totals.get(item.table_name, 0) + item.rows
        return totals

    def lines(self) -> list[str]:
        lines = [f"retention plan as of {self.now:%Y-%m-%d %H:%M} UTC:"]
        lines += [f"  {hold.describe()}" for hold in self.holds] or ["  no legal hold in force"]
        lines += [f"  {item.describe()}" for item in self.items] or ["  nothing is past its policy"]
        return lines

    def as_dict(self) -> dict[str, Any]:
        return {
            "now": self.now.isoformat(),
            "holds": [hold.as_json() for hold in self.holds],
            "items": [item.as_dict() for item in self.items],
        }


@dataclass(frozen=True)
class RetentionSummary:
    enforcement_id: str
    as_of: str
    dry_run: bool
    items: list[dict[str, Any]]
    #: rows removed (would be, in a dry run) per table
    removed: dict[str, int]
    partitions_dropped: list[str]
    partitions_kept: list[str]
    #: purges that could not take their lock this run (a load was writing): tried next run
    skipped: list[str]
    status_rows: int
    seconds: float
    #: one line per purge or decision to keep, for people
    lines: list[str] = field(default_factory=list)

    def as_xcom(self) -> dict[str, Any]:
        """Small enough for XCom: the items' details (landing batch ids...) stay out; they
        are in etl.retention_runs."""
        found = asdict(self)
        del found["items"]
        return found

    def summary_line(self) -> str:
        verb = "would remove" if self.dry_run else "removed"
        removed = ", ".join(f"{table} {rows}" for table, rows in sorted(self.removed.items()))
        line = (
            f"retention {self.enforcement_id}{' (dry run)' if self.dry_run else ''} as of "
            f"{self.as_of[:16]}: {verb} {removed or 'nothing'}; partitions dropped "
            f"{len(self.partitions_dropped)}, kept past policy {len(self.partitions_kept)}"
        )
        if self.skipped:
            line += f"; skipped (lock not available, next run): {', '.join(self.skipped)}"
        return line + f"; {self.seconds:.1f} s"


# --- policies and holds ------------------------------------------------------------------------


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _holds(conn: psycopg.Connection, config: RetentionConfig, now: datetime) -> list[Hold]:
    """Every hold in force at ``now``: the config's, and those set in ``etl.legal_holds``."""
    holds = [Hold.from_config(hold) for hold in config.holds_in_force(now)]
    for hold_id, start, end, sources, reason, set_by, _ in execute(
        conn, "retention/table_holds.sql", {"now": now}
    ).fetchall():
        holds.append(Hold(hold_id, start, end, tuple(sources), reason, set_by, "table"))
    return holds


def _policy_json(keep: Keep, origin: str, now: datetime, family: str) -> dict[str, Any]:
    return {
        "family": family,
        "keep": str(keep),
        "origin": origin,
        "cutoff": _iso(keep.cutoff(now)),
    }


# --- bounded tables ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _TableUnit:
    """One table's rows under one policy: a source's own, or the default for the others."""

    spec: TableSpec
    source_id: str | None
    overridden: tuple[str, ...]
    keep: Keep
    origin: str

    def params(self, now: datetime, holds: list[Hold]) -> dict[str, Any]:
        return {
            "cutoff": self.keep.cutoff(now),
            "source_id": self.source_id,
            "overridden": list(self.overridden),
            "holds": Jsonb([hold.as_json() for hold in holds]),
        }


def _table_units(spec: TableSpec, config: RetentionConfig) -> list[_TableUnit]:
    policy = config.policies.family(spec.family)
    if not spec.per_source:
        units = [_TableUnit(spec, None, (), policy.longest(), "longest")]
    else:
        overridden = tuple(sorted(policy.by_source))
        units = [_TableUnit(spec, None, overridden, policy.keep, "default")]
        units += [
            _TableUnit(spec, source_id, (), policy.by_source[source_id], "source")
            for source_id in overridden
        ]
    return [unit for unit in units if unit.keep.amount is not None]  # forever: nothing to do


def _template(name: str, **parts: pgsql.Composable) -> pgsql.Composed:
    return pgsql.SQL(sql(f"retention/{name}.sql")).format(**parts)  # type: ignore[arg-type]


def _count_table(
    conn: psycopg.Connection, unit: _TableUnit, now: datetime, holds: list[Hold]
) -> Item | None:
    """What this unit would remove and keep (no change)."""
    query = _template("count", candidates=unit.spec.candidates_query())
    item = _new_item(unit, now, holds)
    sources: dict[str, dict[str, Any]] = {}
    kept: dict[str, int] = {}
    kept_sources: dict[str, int] = {}
    first = None
    weight_total = 0
    for source_id, kept_by, rows, weight, oldest, newest in conn.execute(
        query, unit.params(now, holds)
    ).fetchall():
        if kept_by is None:
            item.rows += rows
            weight_total += int(weight)
            first = oldest if first is None else min(first, oldest)
            if source_id is not None:
                sources[source_id] = {"rows": rows, "first": _iso(oldest), "last": _iso(newest)}
        else:
            kept[kept_by] = kept.get(kept_by, 0) + rows
            item.kept_rows += rows
            if source_id is not None:
                kept_sources[source_id] = kept_sources.get(source_id, 0) + rows
    item.details["sources"] = sources
    if unit.spec.table == "landing.extract_batches":
        item.details["records"] = weight_total - item.rows
    return _finish_item(item, unit, now, first, kept, kept_sources)


def _new_item(unit: _TableUnit, now: datetime, holds: list[Hold]) -> Item:
    policy = _policy_json(unit.keep, unit.origin, now, unit.spec.family)
    policy["holds_in_force"] = [hold.hold_id for hold in holds]
    if unit.source_id is None and unit.overridden:
        policy["except_sources"] = list(unit.overridden)
    return Item(
        family=unit.spec.family,
        table_name=unit.spec.table,
        action="delete",
        source_id=unit.source_id,
        policy=policy,
    )


def _finish_item(
    item: Item,
    unit: _TableUnit,
    now: datetime,
    first: datetime | None,
    kept: dict[str, int],
    kept_sources: dict[str, int],
) -> Item | None:
    if not item.rows and not item.kept_rows:
        return None
    item.action = "delete" if item.rows else "keep"
    item.range_start = first
    item.range_end = unit.keep.cutoff(now)
    item.kept_because = [
        {"reason": reason, "rows": rows, "text": f"{reason}: {rows} rows"}
        for reason, rows in sorted(kept.items())
    ]
    if kept_sources:
        item.details["kept_sources"] = kept_sources
    return item


def _delete_table(
    conn: psycopg.Connection,
    unit: _TableUnit,
    now: datetime,
    holds: list[Hold],
    config: RetentionConfig,
) -> Item | None:
    """Remove this unit's rows (in the caller's transaction), in bounded statements."""
    counted = _count_table(conn, unit, now, holds)
    if counted is None or not counted.rows:
        return counted
    params = unit.params(now, holds)
    conn.execute(sql("retention/create_doomed.sql"))  # type: ignore[arg-type]
    chosen = conn.execute(
        _template("choose", candidates=unit.spec.candidates_query()),
        {**params, "max_rows": config.max_rows_per_purge},
    ).rowcount
    batch = config.batch_rows
    children: dict[str, int] = {}
    if unit.spec.table == "landing.extract_batches":
        children["records"] = _delete_landing_records(conn, batch)
    sources: dict[str, dict[str, Any]] = {}
    deleted = 0
    first = None
    for lo in range(0, chosen, batch):
        bounds = {"lo": lo, "hi": lo + batch}
        for child in unit.spec.children:
            counts = execute(conn, f"retention/{child}.sql", bounds)
            if counts.description is None:  # a plain DELETE
                children[child] = children.get(child, 0) + max(counts.rowcount, 0)
            else:
                for position, value in enumerate(counts.fetchone() or ()):
                    name = f"{child}.{position}"
                    children[name] = children.get(name, 0) + int(value)
        gone = conn.execute(_template("delete_chunk", table=unit.spec.identifier), bounds)
        for source_id, rows, oldest, newest in gone.fetchall():
            deleted += rows
            first = oldest if first is None else min(first, oldest)
            key = source_id or "*"
            found = sources.setdefault(key, {"rows": 0, "first": _iso(oldest), "last": None})
            found["rows"] += rows
            found["first"] = min(found["first"], _iso(oldest))  # type: ignore[type-var]
            found["last"] = max(found["last"] or "", _iso(newest) or "")
        if (lo // batch + 1) % 20 == 0:
            log.info("%s: %d of %d rows deleted", unit.spec.table, deleted, chosen)
    due = counted.rows
    item = counted
    item.rows = deleted
    item.range_start = first
    item.details["sources"] = {key: value for key, value in sources.items() if key != "*"}
    if children:
        item.details["children"] = _child_names(children)
    if unit.spec.table == "landing.extract_batches":
        item.details["records"] = children.get("records", 0)
        item.details["batch_ids"] = [
            key for (key,) in conn.execute("SELECT key FROM retention_doomed ORDER BY n")
        ]
    if due > chosen:
        item.details["more_remain"] = due - chosen
    return item


_CHILD_NAMES = {
    "landing_files": "landing.batch_files",
    "quarantine_children.0": "dq.quarantine_history",
    "quarantine_children.1": "dq.reprocess_records",
    "validation_children.0": "dq.expectation_results",
    "access_log_children.0": "audit.access_logs_retired",
    "records": "landing.records",
}


def _child_names(children: dict[str, int]) -> dict[str, int]:
    return {_CHILD_NAMES.get(name, name): rows for name, rows in children.items()}


def _delete_landing_records(conn: psycopg.Connection, batch_rows: int) -> int:
    """The records of every chosen landing batch, at most ``batch_rows`` per statement (a
    cascade from the batch row would remove a whole batch, however large, in one)."""
    total = 0
    batch_ids = [key for (key,) in conn.execute("SELECT key FROM retention_doomed ORDER BY n")]
    for batch_id in batch_ids:
        page_no, record_no = -1, -1
        while True:
            rows, last_page, last_record = execute(
                conn,
                "retention/landing_records.sql",
                {
                    "batch_id": batch_id,
                    "page_no": page_no,
                    "record_no": record_no,
                    "batch_rows": batch_rows,
                },
            ).fetchone()  # type: ignore[misc]
            total += rows
            if rows < batch_rows:
                break
            page_no, record_no = last_page, last_record
    return total


# --- partitions --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Partition:
    name: str
    start: datetime
    end: datetime

    @property
    def identifier(self) -> pgsql.Identifier:
        return pgsql.Identifier("audit", self.name)


def _partitions(conn: psycopg.Connection) -> list[_Partition]:
    return [
        _Partition(name, _utc(start), _utc(end))
        for name, start, end in execute(conn, "retention/partitions.sql").fetchall()
        if start is not None and end is not None
    ]


def _on_partition(
    conn: psycopg.Connection, name: str, partition: _Partition, params: Any = None
) -> psycopg.Cursor:
    return conn.execute(_template(name, partition=partition.identifier), params)


def _partition_sources(conn: psycopg.Connection, partition: _Partition) -> list[str]:
    return [row[0] for row in _on_partition(conn, "partition_sources", partition).fetchall()]


def _partition_due(partition: _Partition, keeps: list[Keep]) -> datetime | None:
    """The first UTC day a run drops ``partition`` by these sources' policies alone."""
    latest = None
    for keep in keeps:
        moment = keep.shift(partition.end, 1)
        if moment is None:
            return None
        latest = moment if latest is None else max(latest, moment)
    if latest is None:
        return None
    start = day_start(latest)
    return start if start == latest else start + timedelta(days=1)


def _judge_partition(
    partition: _Partition,
    sources: list[str],
    config: RetentionConfig,
    now: datetime,
    holds: list[Hold],
) -> tuple[str | None, list[str], list[dict[str, Any]], dict[str, Any]]:
    """(action or None, the sources past their policy, why it stays, the policy) for one
    partition: dropped when all its sources are past their policy at its end and no hold in
    force covers it for one of them; kept (and recorded) when only some are."""
    family = config.policies.access_events
    default_cutoff = family.keep.cutoff(now)
    policy = _policy_json(family.keep, "default", now, "access_events")
    policy["sources"] = {}
    policy["holds_in_force"] = [hold.hold_id for hold in holds]
    due: list[str] = []
    reasons: list[dict[str, Any]] = []
    for source_id in sources:
        keep, origin = family.for_source(source_id)
        cutoff = keep.cutoff(now)
        policy["sources"][source_id] = {"keep": str(keep), "origin": origin, "cutoff": _iso(cutoff)}
        if cutoff is not None and partition.end <= cutoff:
            due.append(source_id)
        else:
            when = _partition_due(partition, [keep])
            reasons.append(
                {
                    "reason": "source_policy",
                    "source_id": source_id,
                    "keep": str(keep),
                    "due": _iso(when),
                    "text": f"{source_id} keeps {keep}"
                    + (f" (its rows here are due {when:%Y-%m-%d})" if when else ""),
                }
            )
    if not sources:
        empty_due = default_cutoff is not None and partition.end <= default_cutoff
        return ("drop_partition" if empty_due else None), [], [], policy
    if not due:
        return None, [], [], policy
    for hold in holds:
        if hold.covers(set(sources), partition.start, partition.end):
            reasons.append(
                {
                    "reason": "legal_hold",
                    "hold_id": hold.hold_id,
                    "hold_reason": hold.reason,
                    "set_by": hold.set_by,
                    "sources": list(hold.sources),
                    "text": hold.describe(),
                }
            )
    return ("keep_partition" if reasons else "drop_partition"), due, reasons, policy


def _partition_item(
    conn: psycopg.Connection,
    partition: _Partition,
    config: RetentionConfig,
    now: datetime,
    holds: list[Hold],
) -> Item | None:
    """What would happen to one partition, counted (no change)."""
    sources = _partition_sources(conn, partition)
    action, due, reasons, policy = _judge_partition(partition, sources, config, now, holds)
    if action is None:
        return None
    item = Item(
        family="access_events",
        table_name=ACCESS_EVENTS,
        action=action,
        partition_name=partition.name,
        range_start=partition.start,
        range_end=partition.end,
        kept_because=reasons,
        policy=policy,
    )
    if action == "drop_partition":
        counts = _on_partition(conn, "partition_counts", partition).fetchall()
        item.rows = sum(rows for _, rows, _, _ in counts)
        item.details["sources"] = {
            source_id: {"rows": rows, "first": _iso(first), "last": _iso(last)}
            for source_id, rows, first, last in counts
        }
    else:
        kept = {
            source_id: _on_partition(
                conn, "partition_source_rows", partition, {"source_id": source_id}
            ).fetchone()[0]  # type: ignore[index]
            for source_id in due
        }
        item.kept_rows = sum(kept.values())
        item.details["kept_sources"] = kept
    return item


#: What a purge's record keeps of each source's manifest entry (the rest is in the chain).
_MANIFEST_KEYS = ("entry_no", "entry_hash", "prev_hash", "recorded_at", "rows", "removed_sha256")


def _drop_partition(
    conn: psycopg.Connection,
    partition: _Partition,
    config: RetentionConfig,
    now: datetime,
    holds: list[Hold],
    retention_run_id: uuid.UUID,
) -> Item | None:
    """Drop one partition (in the caller's transaction) if it is still due once locked."""
    # Locks in the order a load takes them: its source's lock, then the partition (a load
    # writing to this month waits for the drop, or the drop for it, never both)
    for source_id in sorted(_partition_sources(conn, partition)):
        execute(conn, "load/lock_source.sql", {"source_id": source_id})
    execute(conn, "retention/lock_partition_ddl.sql")
    _on_partition(conn, "lock_partition", partition)
    item = _partition_item(conn, partition, config, now, holds)
    if item is None or item.action != "drop_partition":
        return item
    folded = _on_partition(conn, "fold_access_logs", partition).rowcount
    item.details["access_logs_retired"] = max(folded, 0)
    for source_id, found in item.details["sources"].items():
        # each source's purge in its manifest chain, before its rows go and in this
        # transaction, so that the verifier reads them as purged, not as tampered with
        manifest = record_purge(
            conn,
            retention_run_id=retention_run_id,
            source_id=source_id,
            occurred_from=partition.start,
            occurred_to=partition.end,
        )
        found["manifest"] = {
            key: (value.isoformat() if isinstance(value, datetime) else value)
            for key, value in manifest.items()
            if key in _MANIFEST_KEYS
        }
    execute(conn, "retention/drop_partition.sql", {"partition": partition.name})
    return item


# --- the run -----------------------------------------------------------------------------------


#: One step of a run: (what it is called in the logs, count it, do it).
_Step = tuple[
    str,
    Callable[[psycopg.Connection, list[Hold]], "Item | None"],
    Callable[[psycopg.Connection, list[Hold], uuid.UUID], "Item | None"],
]


def _steps(conn: psycopg.Connection, config: RetentionConfig, now: datetime) -> Iterator[_Step]:
    """Every purge of a run, family by family."""
    for family in FAMILIES:
        if family == "access_events":
            latest = config.policies.access_events.latest_cutoff(now)
            if latest is None:
                continue
            for partition in _partitions(conn):
                if partition.end > latest:
                    break  # sorted by bounds: no later partition is past any policy
                yield (
                    partition.name,
                    lambda c, h, p=partition: _partition_item(c, p, config, now, h),
                    lambda c, h, run, p=partition: _drop_partition(c, p, config, now, h, run),
                )
            continue
        for spec in TABLES:
            if spec.family != family:
                continue
            for unit in _table_units(spec, config):
                label = spec.table + (f" ({unit.source_id})" if unit.source_id else "")
                yield (
                    label,
                    lambda c, h, u=unit: _count_table(c, u, now, h),
                    lambda c, h, run, u=unit: _delete_table(c, u, now, h, config),
                )


def plan_retention(dsn: str, config: RetentionConfig, *, now: datetime) -> RetentionPlan:
    """What a run at ``now`` would remove and keep past a policy, and why; changes nothing."""
    now = _utc(now)
    with connect(dsn) as conn:
        holds = _holds(conn, config, now)
        items = [item for _, count, _ in _steps(conn, config, now) if (item := count(conn, holds))]
        conn.rollback()
    return RetentionPlan(now=now, holds=tuple(holds), items=tuple(items))


def enforce_retention(
    dsn: str,
    config: RetentionConfig,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    dag_id: str | None = None,
    run_id: str | None = None,
) -> RetentionSummary:
    """Purge what ``config``'s policies say as of ``now`` (default: the current time), keep
    what holds say, record every purge in ``etl.retention_runs`` in its own transaction, and
    refresh ``reporting.retention_status``. A dry run records what would go (``dry_run``
    true) and changes nothing else."""
    now = _utc(now or datetime.now(UTC))
    enforcement_id = uuid.uuid4()
    started = time.monotonic()
    done: list[Item] = []
    skipped: list[str] = []
    status_rows = 0
    with connect(dsn, autocommit=True) as lock_conn:
        if not execute(lock_conn, "retention/lock.sql").fetchone()[0]:  # type: ignore[index]
            raise RetentionBusy("another retention run is under way")
        try:
            # autocommit: each purge's `conn.transaction()` is a transaction of its own, not
            # a savepoint of one long transaction
            with connect(dsn, autocommit=True) as conn:
                for label, count, purge in _steps(conn, config, now):
                    item = _run_step(
                        conn, config, now, label, count, purge, dry_run,
                        {"enforcement_id": enforcement_id, "dag_id": dag_id, "run_id": run_id},
                        skipped,
                    )  # fmt: skip
                    if item is not None:
                        done.append(item)
                if not dry_run:
                    from access_warehouse.retention.status import refresh_status

                    with conn.transaction():
                        status_rows = refresh_status(conn, config, now, done)
        finally:
            execute(lock_conn, "retention/unlock.sql")
    removed: dict[str, int] = {}
    for item in done:
        if item.rows:
            removed[item.table_name] = removed.get(item.table_name, 0) + item.rows
    summary = RetentionSummary(
        enforcement_id=str(enforcement_id),
        as_of=now.isoformat(),
        dry_run=dry_run,
        items=[item.as_dict() for item in done],
        removed=removed,
        partitions_dropped=[i.partition_name for i in done if i.action == "drop_partition"],  # type: ignore[misc]
        partitions_kept=[i.partition_name for i in done if i.action == "keep_partition"],  # type: ignore[misc]
        skipped=skipped,
        status_rows=status_rows,
        seconds=round(time.monotonic() - started, 3),
        lines=[item.describe() for item in done],
    )
    log.info("%s", summary.summary_line())
    return summary


def _run_step(
    conn: psycopg.Connection,
    config: RetentionConfig,
    now: datetime,
    label: str,
    count: Callable[[psycopg.Connection, list[Hold]], Item | None],
    purge: Callable[[psycopg.Connection, list[Hold], uuid.UUID], Item | None],
    dry_run: bool,
    run: dict[str, Any],
    skipped: list[str],
) -> Item | None:
    """One purge and its record in one transaction (a dry run: the count and its record)."""
    retention_run_id = uuid.uuid4()
    started_at = datetime.now(UTC)
    try:
        with conn.transaction():
            execute(
                conn, "retention/lock_timeout.sql", {"timeout": f"{config.lock_timeout_seconds}s"}
            )
            execute(conn, "retention/hold_lock.sql")
            holds = _holds(conn, config, now)
            item = count(conn, holds) if dry_run else purge(conn, holds, retention_run_id)
            if item is None:
                return None
            item.retention_run_id = str(retention_run_id)
            _record(conn, item, run, dry_run, now, started_at)
    except (psycopg.errors.LockNotAvailable, psycopg.errors.DeadlockDetected):
        log.warning("%s: a lock was not available within %d s (a load is writing): next run",
                    label, config.lock_timeout_seconds)  # fmt: skip
        skipped.append(label)
        return None
    log.info("%s%s", "dry run: " if dry_run else "", item.describe())
    return item


def _record(
    conn: psycopg.Connection,
    item: Item,
    run: dict[str, Any],
    dry_run: bool,
    now: datetime,
    started_at: datetime,
) -> None:
    execute(
        conn,
        "retention/record.sql",
        {
            "retention_run_id": item.retention_run_id,
            "family": item.family,
            "table_name": item.table_name,
            "partition_name": item.partition_name,
            "source_id": item.source_id,
            "action": item.action,
            "range_start": item.range_start,
            "range_end": item.range_end,
            "rows": item.rows,
            "kept_rows": item.kept_rows,
            "kept_because": Jsonb(item.kept_because),
            "policy": Jsonb(item.policy),
            "details": Jsonb(item.details),
            "dry_run": dry_run,
            "as_of": now,
            "started_at": started_at,
            **run,
        },
    )
