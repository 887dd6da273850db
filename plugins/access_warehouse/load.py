"""Load one landed batch of any feed into the audit schema in a single transaction.

Landing records are read back in chunks, normalised by the feed's normaliser under the shared
guard, validated with the GX suite, and COPYed into a staging table; bad records go to
``dq.quarantine`` with their reasons. Then set-based
SQL resolves people and config items, upserts ``audit.access_events`` on the natural key,
recomputes ``audit.access_logs`` for what the batch touched and records the batch. Either all
of it commits or none of it does, so a failed load leaves the audit tables as they were.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import struct
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from access_warehouse.contract import (
    KEY_MAX_CHARS,
    NORMALISED_COLUMNS,
    NormalisationError,
    content_hash,
)
from access_warehouse.integrity import manifests
from access_warehouse.landing import contains_nul_escape
from access_warehouse.normalise import normalise_record
from access_warehouse.quality.access_events import (
    AccessEventValidator,
    RawRecordValidator,
    ValidationOutcome,
)
from access_warehouse.quality.batch_checks import BatchCheck, BatchChecksFailed, run_batch_checks
from access_warehouse.quality.completeness import record_failure, record_load
from access_warehouse.quality.data_docs import publish_validation, suites_of
from access_warehouse.quality.policy import QualityPolicy
from access_warehouse.quality.results import record_validation
from access_warehouse.resolve import (
    ConfigItemRow,
    actor_identity,
    config_item_chain,
    config_item_id,
    source_uuid,
)
from access_warehouse.sources.base import Feed, Position
from access_warehouse.streams import read_ahead
from access_warehouse.warehouse import connect, execute, sql

log = logging.getLogger(__name__)


class BatchNotLoadable(RuntimeError):
    """The landing batch is missing, still extracting, or failed."""


@dataclass(frozen=True)
class LoadSummary:
    batch_id: str
    source_id: str
    window_start: str | None
    window_end: str | None
    bookmark_from: Position | None
    bookmark_to: Position | None
    bookmark_advanced: bool | None
    pages: int
    extracted: int
    loaded: int
    quarantined: int
    excluded: int
    events: int
    duplicates: int
    inserted: int
    updated: int
    unchanged: int
    new_users: int
    new_config_items: int
    seconds: float
    batch_hash: str
    #: UTC days (ISO) whose reports this load changed: ``access_reporting`` rebuilds them
    touched_days: list[str] = field(default_factory=list)

    def as_xcom(self) -> dict[str, Any]:
        return asdict(self)


#: Why a record landed as raw bytes is quarantined (see ``landing.encode_record``).
UNSTORABLE_REASON = (
    "landing: the record holds text Postgres jsonb cannot store (a NUL character, a lone "
    "surrogate, or nesting too deep); kept byte for byte in landing.records.raw and "
    "dq.quarantine.raw"
)


def _payload_hash(record: Any) -> Any:
    return hashlib.sha256(orjson.dumps(record, option=orjson.OPT_SORT_KEYS))


def _readable(raw: bytes) -> dict[str, Any]:
    """A jsonb-safe stand-in for a raw record in ``dq.quarantine.payload``: its JSON text as a
    string (escapes such as ``\\u0000`` stay visible as text)."""
    return {"unstorable_json": raw.decode("utf-8", errors="backslashreplace")[:100_000]}


def _record_key(record: Any) -> str | None:
    """The record's own id for ``dq.quarantine.record_key``, when it has a usable one."""
    key = record.get("id") if type(record) is dict else None
    if type(key) is int:
        return str(key)
    if type(key) is str and "\x00" not in key:
        return key[:KEY_MAX_CHARS]
    return None


def _staging_row(event: dict[str, Any]) -> tuple:
    """The COPY row of one checked event: its columns, content hash and resolution inputs.

    Raises ``NormalisationError`` for properties that jsonb cannot store."""
    try:
        # sorted keys, as content_hash wants them; jsonb does not mind the order
        properties = orjson.dumps(event["properties"], option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError as exc:
        raise NormalisationError(f"properties cannot be stored as JSON: {exc}") from None
    if contains_nul_escape(properties):
        raise NormalisationError("properties contain a NUL character")
    alias_id, alias_kind, alias_name, candidate = actor_identity(event)
    row = [event[column] for column in NORMALISED_COLUMNS]
    row[-1] = properties.decode()  # COPY parses it as jsonb
    return (
        *row,
        content_hash(event, properties),
        alias_id,
        alias_kind,
        alias_name,
        candidate,
        config_item_id(event["target_type"], event["target_external_id"], event["target_name"]),
    )


READ_LANDED = "landing/copy_batch_records_out.sql"
#: Landed rows: (page_no, record_no, payload JSON text or None, raw bytes or None).
LandedRow = tuple[int, int, bytes | memoryview | None, bytes | None]
#: Landed bytes are handed over in blocks of about this size, at most READ_AHEAD blocks ahead.
BLOCK = 1 << 20
READ_AHEAD = 8


def _landed_blocks(dsn: str, batch_id: uuid.UUID) -> Iterator[bytes]:
    """The batch's landed rows as the bytes of a binary COPY, on a connection of its own.

    A landing batch no longer changes once it is ``extracted``, so reading it outside the load's
    transaction sees the same rows (and the load checks their count).
    """
    with (
        connect(dsn) as conn,
        conn.cursor() as cursor,
        cursor.copy(sql(READ_LANDED), {"batch_id": batch_id}) as copy,
    ):
        pending: list[bytes] = []
        pending_size = 0
        for block in copy:
            pending.append(bytes(block))
            pending_size += len(block)
            if pending_size >= BLOCK:
                yield b"".join(pending)
                pending, pending_size = [], 0
        if pending:
            yield b"".join(pending)


def _landed_chunks(dsn: str, batch_id: uuid.UUID, size: int) -> Iterator[list[LandedRow]]:
    """The batch's landed rows, ``size`` at a time, in landing order.

    A thread only moves the COPY's bytes (I/O, which releases the GIL), so the server
    serialises ahead while Python normalises; the rows are cut from those bytes here, in the
    loader's thread: psycopg's own row parser would hold the GIL in the reader's thread, which
    slowed the loader more than reading cost.
    """
    blocks = read_ahead(_landed_blocks(dsn, batch_id), READ_AHEAD, "landing-reader")
    try:
        chunk: list[LandedRow] = []
        for page_no, record_no, payload, raw in _binary_copy_rows(blocks):
            if payload is not None:
                if payload[:1] != b"\x01":
                    raise RuntimeError(f"unknown jsonb binary version {payload[:1]!r}")
                payload = memoryview(payload)[1:]
            chunk.append((_INT32.unpack(page_no)[0], _INT32.unpack(record_no)[0], payload, raw))
            if len(chunk) == size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk
    finally:
        blocks.close()


_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
_INT16 = struct.Struct("!h")
_INT32 = struct.Struct("!i")


def _binary_copy_rows(blocks: Iterator[bytes]) -> Iterator[list[bytes | None]]:
    """The rows of a binary COPY stream (PostgreSQL docs, "COPY: Binary Format") as lists of
    field bytes, None for NULL; rows may straddle blocks."""
    data = b""
    pos = 0
    header = False
    for block in blocks:
        data = data[pos:] + block
        pos = 0
        if not header:
            if len(data) < 19:
                continue
            if data[:11] != _COPY_SIGNATURE:
                raise RuntimeError("not a binary COPY stream")
            pos = 19 + _INT32.unpack_from(data, 15)[0]
            header = True
        end = len(data)
        while end - pos >= 2:
            (fields,) = _INT16.unpack_from(data, pos)
            if fields == -1:
                return
            at = pos + 2
            values: list[bytes | None] = []
            for _ in range(fields):
                if end - at < 4:
                    break
                (size,) = _INT32.unpack_from(data, at)
                at += 4
                if size == -1:
                    values.append(None)
                    continue
                if end - at < size:
                    break
                values.append(data[at : at + size])
                at += size
            if len(values) < fields:
                break  # the rest of this row is in the next block
            pos = at
            yield values
    raise RuntimeError("binary COPY stream ended without its trailer")


class _Staging:
    """Writes staged events through one COPY kept open across chunks, so the server parses
    them while Python normalises the next chunk. Quarantined records wait in a bounded buffer
    and are written between two COPYs of events."""

    QUARANTINE_BUFFER = 1000

    def __init__(self, conn: psycopg.Connection) -> None:
        self._conn = conn
        self._stack: ExitStack | None = None
        self._copy: psycopg.Copy | None = None
        self._rejected: list[tuple[Any, bytes | None, list[str]]] = []

    def write_events(self, rows: list[tuple]) -> None:
        if not rows:
            return
        if self._copy is None:
            self._stack = ExitStack()
            cursor = self._stack.enter_context(self._conn.cursor())
            self._copy = self._stack.enter_context(cursor.copy(sql("load/copy_staging_events.sql")))
        for row in rows:
            self._copy.write_row(row)

    def quarantine(self, rejected: list[tuple[Any, bytes | None, list[str]]]) -> None:
        for record, _raw, reasons in rejected[:5]:
            log.warning("quarantined record %s: %s", _record_key(record), "; ".join(reasons))
        if len(rejected) > 5:
            log.warning("... and %d more quarantined records in this chunk", len(rejected) - 5)
        self._rejected.extend(rejected)
        if len(self._rejected) >= self.QUARANTINE_BUFFER:
            self._flush_quarantine()

    def end_events(self, exc: BaseException | None = None) -> None:
        """End the open COPY of events; with ``exc``, cancel it, so that the transaction rolls
        back with ``exc`` as the error (closing the connection would wait on it for ever)."""
        if self._stack is not None:
            stack, self._stack, self._copy = self._stack, None, None
            if exc is None:
                stack.close()
            else:
                stack.__exit__(type(exc), exc, exc.__traceback__)

    def _flush_quarantine(self) -> None:
        if not self._rejected:
            return
        self.end_events()
        with (
            self._conn.cursor() as cursor,
            cursor.copy(sql("load/copy_staging_quarantine.sql")) as copy,
        ):
            for record, raw, reasons in self._rejected:
                digest = hashlib.sha256(raw) if raw is not None else _payload_hash(record)
                key = _record_key(record)
                copy.write_row((key, digest.hexdigest(), Jsonb(record), raw, reasons))
        self._rejected = []

    def finish(self) -> None:
        """End the open COPY and write what waits for quarantine."""
        self.end_events()
        self._flush_quarantine()


#: Events of a bookmark batch must fall in [EARLIEST, now + CLOCK_SKEW): older or future-dated
#: ones are quarantined, not given partitions of their own.
EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
CLOCK_SKEW = timedelta(days=1)


def time_bounds(
    window_start: datetime | None, window_end: datetime | None
) -> tuple[datetime, datetime]:
    """``[lower, upper)`` an event of a batch must fall in: the window it was extracted for, or,
    for a bookmark batch, any plausible time."""
    if window_start is not None and window_end is not None:
        return window_start, window_end
    return EARLIEST, datetime.now(UTC) + CLOCK_SKEW


def reprocess_page_bounds(request_stats: Any) -> dict[int, tuple[datetime, datetime]]:
    """The bounds of each page of a re-processing batch (``quality/reprocess.py``; none for
    any other batch). Such a batch has no window of its own: each page holds the records
    quarantined by one earlier batch, and they are held to that batch's window (a bookmark
    batch's: any plausible time), so that re-processing without a fix releases nothing."""
    pages = ((request_stats or {}).get("reprocess") or {}).get("pages", [])
    return {
        int(page["page_no"]): time_bounds(
            datetime.fromisoformat(page["window_start"]) if page["window_start"] else None,
            datetime.fromisoformat(page["window_end"]) if page["window_end"] else None,
        )
        for page in pages
    }


def _check_time(events: list[dict[str, Any]], bounds: tuple[datetime, datetime]) -> None:
    lower, upper = bounds
    for event in events:
        if not lower <= event["occurred_at"] < upper:
            raise NormalisationError(
                f"occurred_at {event['occurred_at'].isoformat()} is outside "
                f"[{lower.isoformat()}, {upper.isoformat()}), the range this batch was asked for"
            )


class _BatchLoader:
    def __init__(
        self,
        staging: _Staging,
        feed: Feed,
        validator: AccessEventValidator,
        bounds: tuple[datetime, datetime],
        raw_validator: RawRecordValidator | None = None,
        windowed: bool = False,
        page_bounds: dict[int, tuple[datetime, datetime]] | None = None,
    ):
        self.staging = staging
        self.feed = feed
        self.bounds = bounds
        #: a re-processing batch's bounds per page (see ``reprocess_page_bounds``)
        self.page_bounds = page_bounds or {}
        #: a window batch's events are checked against its window by the suite
        #: (``occurred_at.in_window``); a batch without one only against plausible times
        self.windowed = windowed
        self.excluded: Counter[str] = Counter()
        self.validator = validator
        self.raw_validator = raw_validator
        self.validation: ValidationOutcome | None = None
        self.raw_validation: ValidationOutcome | None = None
        self.validation_s = 0.0
        #: ancestors and parents of the staged events' object-path targets, by id
        self.config_items: dict[uuid.UUID, ConfigItemRow] = {}
        self.read = 0
        self.events = 0
        self.loaded = 0
        self.quarantined = 0

    def process_chunk(self, rows: list[LandedRow]) -> None:
        """Normalise and validate one chunk of landed rows; stage the good events, quarantine
        the bad records.

        The unit of accounting is the source record: a record whose events break an expectation
        goes to quarantine whole (none of its events load), so extracted = loaded + quarantined
        + excluded counts records, whatever number of events each record gives.
        """
        self.read += len(rows)
        source_id = self.feed.source_id
        records: list[Any] = []
        events: list[dict[str, Any]] = []
        staged: list[tuple] = []
        record_of_event: list[int] = []
        reasons_by_record: dict[int, list[str]] = {}
        raw_by_record: dict[int, bytes] = {}
        raw_checked: list[int] = []  # records the kind's raw suite validates
        kept_records = 0
        for index, (page, _no, payload, raw) in enumerate(rows):
            if payload is None:
                record = _readable(raw)
                records.append(record)
                raw_by_record[index] = raw
                kept_records += 1
                reasons_by_record[index] = [UNSTORABLE_REASON]
                continue
            record = orjson.loads(payload)
            records.append(record)
            rule = self._exclusion(record)
            if rule is not None:
                self.excluded[rule] += 1
                continue
            kept_records += 1
            if self.raw_validator is not None and type(record) is dict:
                raw_checked.append(index)
            try:
                record_events = normalise_record(self.feed.normalise, record, source_id)
                if not self.windowed:
                    _check_time(record_events, self.page_bounds.get(page, self.bounds))
                record_rows = [_staging_row(event) for event in record_events]
            except NormalisationError as exc:
                reasons_by_record[index] = [f"normalise: {exc}"]
                continue
            events.extend(record_events)
            staged.extend(record_rows)
            record_of_event.extend([index] * len(record_events))
        started = time.monotonic()
        if raw_checked and self.raw_validator is not None:
            outcome = self.raw_validator.validate([records[index] for index in raw_checked])
            self.raw_validation = _merged(self.raw_validation, outcome)
            for row_no, reasons in outcome.failed_rows.items():
                reasons_by_record.setdefault(raw_checked[row_no], []).extend(
                    f"expectation: {self.raw_validator.name}.{reason}" for reason in reasons
                )
        if events:
            outcome = self.validator.validate(events)
            self.validation = _merged(self.validation, outcome)
            for row_no, reasons in outcome.failed_rows.items():
                reasons_by_record.setdefault(record_of_event[row_no], []).extend(
                    f"expectation: {reason}" for reason in reasons
                )
        self.validation_s += time.monotonic() - started
        good = [
            row
            for row, index in zip(staged, record_of_event, strict=True)
            if index not in reasons_by_record
        ]
        for event, index in zip(events, record_of_event, strict=True):
            if index not in reasons_by_record:
                for item in config_item_chain(
                    event["target_type"], event["target_external_id"], event["target_name"]
                ):
                    self.config_items[item[0]] = item
        self.staging.write_events(good)
        if reasons_by_record:
            self.staging.quarantine(
                [
                    (records[index], raw_by_record.get(index), why)
                    for index, why in reasons_by_record.items()
                ]
            )
        self.events += len(good)
        self.loaded += kept_records - len(reasons_by_record)
        self.quarantined += len(reasons_by_record)

    def _exclusion(self, record: Any) -> str | None:
        """The configured exclusion rule a record matches; records that are not objects are
        never excluded (they are quarantined)."""
        if self.feed.exclude is None or type(record) is not dict:
            return None
        try:
            return self.feed.exclude(record)
        except Exception:  # an odd record is for normalise to reject, with its reason
            return None


def _merged(total: ValidationOutcome | None, chunk: ValidationOutcome) -> ValidationOutcome:
    if total is None:
        return chunk
    total.merge(chunk)
    return total


@contextmanager
def _collect_between_chunks() -> Iterator[None]:
    """Python's cyclic GC off the per-record path: while a chunk's records are alive, the default
    thresholds ran full collections over those millions of live objects again and again (a
    fifth of the load's time). Objects that exist before the load (GX, pandas) are frozen out of
    collections and the thresholds raised; the caller collects the young generations once per
    chunk, when the chunk's objects are gone, so cyclic garbage never outlives a chunk."""
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(100_000, 50, 1000)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def _step(
    conn: psycopg.Connection, name: str, params: dict[str, Any] | None = None
) -> psycopg.Cursor:
    """Run one set-based step of the load and log its row count and duration."""
    started = time.monotonic()
    cursor = execute(conn, name, params)
    log.info("%s: %d rows in %.2f s", name, cursor.rowcount, time.monotonic() - started)
    return cursor


def load_batch(
    dsn: str,
    batch_id: str | uuid.UUID,
    feed: Feed,
    *,
    chunk_size: int = 10_000,
    dag_id: str | None = None,
    run_id: str | None = None,
) -> LoadSummary:
    """Normalise, validate, resolve and upsert one extracted landing batch of ``feed``, all or
    nothing; a bookmark feed's bookmark moves to the batch's end in the same transaction.

    A batch-level check that fails (:mod:`access_warehouse.quality.batch_checks`) loads
    nothing of the window and raises :class:`BatchChecksFailed`; what was checked is recorded
    in ``dq.validation_runs`` and ``dq.expectation_results`` all the same."""
    try:
        return _load_batch(dsn, batch_id, feed, chunk_size=chunk_size, dag_id=dag_id, run_id=run_id)
    except BatchChecksFailed as exc:
        with connect(dsn) as conn:
            record_validation(conn, **exc.record, status="failed")
        record_failure(
            dsn,
            uuid.UUID(str(batch_id)),
            "failed_checks",
            [f"{check.name}: {check.message}" for check in exc.failed],
            selection=feed.selection.describe(),
            counts={"quarantined": exc.record.get("failed_rows"), "excluded": None},
            dag_id=dag_id,
            run_id=run_id,
        )
        raise


def _load_batch(
    dsn: str,
    batch_id: str | uuid.UUID,
    feed: Feed,
    *,
    chunk_size: int,
    dag_id: str | None,
    run_id: str | None,
) -> LoadSummary:
    batch_uuid = uuid.UUID(str(batch_id))
    source_id = feed.source_id
    started = time.monotonic()
    with connect(dsn) as conn:
        batch = execute(conn, "landing/get_batch.sql", {"batch_id": batch_uuid}).fetchone()
        if batch is None:
            purged = execute(conn, "landing/purged_batch.sql", {"batch_id": batch_uuid}).fetchone()
            if purged is not None:  # landing is the replay store: retention ends replays
                raise BatchNotLoadable(
                    f"landing batch {batch_uuid} was purged by retention on {purged[1]:%Y-%m-%d} "
                    f"(landing kept {purged[2]}; etl.retention_runs {purged[0]}): it can no "
                    "longer be replayed"
                )
            raise BatchNotLoadable(f"landing batch {batch_uuid} does not exist")
        (_, batch_source, _, status, window_start, window_end, pages, landed) = batch[:8]
        bookmark_from, bookmark_to, extracted_at, request_stats = batch[8:]
        redacted = int((request_stats or {}).get("redacted", 0))
        if batch_source != source_id:
            raise BatchNotLoadable(
                f"landing batch {batch_uuid} belongs to {batch_source}, not {source_id}"
            )
        if status == "loaded":
            # The load committed but its task did not report back (killed, lost worker): the
            # retry finds the work done and reports it, changing nothing.
            log.info("landing batch %s is already loaded; nothing to do", batch_uuid)
            return _loaded_summary(conn, batch_uuid, source_id)
        if status != "extracted":
            raise BatchNotLoadable(
                f"landing batch {batch_uuid} is {status!r}; only an 'extracted' batch can load"
            )
        execute(conn, "load/lock_source.sql", {"source_id": source_id})
        execute(
            conn,
            "load/register_source.sql",
            {
                "source_id": source_id,
                "source_uuid": source_uuid(source_id),
                "kind": feed.record_kind,
                "tenant_id": feed.tenant_id,
                "conn_id": feed.conn_id,
            },
        )
        conn.execute(sql("load/create_staging.sql"))  # type: ignore[arg-type]
        window = (window_start, window_end) if window_start and window_end else None
        suite_kind = feed.suite_kind or feed.record_kind
        staging = _Staging(conn)
        loader = _BatchLoader(
            staging,
            feed,
            AccessEventValidator(suite_kind, feed.expectations, window),
            time_bounds(window_start, window_end),
            raw_validator=RawRecordValidator.for_kind(suite_kind, window),
            windowed=window is not None,
            page_bounds=reprocess_page_bounds(request_stats),
        )
        chunks = _landed_chunks(dsn, batch_uuid, chunk_size)
        try:
            with _collect_between_chunks():
                for chunk in chunks:
                    loader.process_chunk(chunk)
                    gc.collect(1)
                    log.info(
                        "normalised %d of %d records (%d to load, %d quarantined, %d excluded)",
                        loader.read,
                        landed,
                        loader.loaded,
                        loader.quarantined,
                        loader.excluded.total(),
                    )
            staging.finish()
        except BaseException as exc:
            staging.end_events(exc)  # cancels an open COPY
            raise
        finally:
            chunks.close()
        if loader.excluded:
            log.info("excluded by configuration: %s", dict(loader.excluded))
        if loader.read != landed:
            raise RuntimeError(
                f"landing batch {batch_uuid} says {landed} records but {loader.read} were read"
            )
        params = {"batch_id": batch_uuid, "source_id": source_id}
        checks = run_batch_checks(
            conn,
            feed.quality or QualityPolicy(),
            source_id=source_id,
            window=window,
            extracted=landed,
            quarantined=loader.quarantined,
            newest_event=execute(conn, "load/staged_time_range.sql").fetchone()[1],
        )
        failed = [check for check in checks if not check.success and check.severity == "error"]
        for check in checks:
            if not check.success:
                log.warning("batch check %s: %s (%s)", check.name, check.message, check.severity)
        record = {
            "batch_id": batch_uuid,
            "source_id": source_id,
            "record_kind": suite_kind,
            "events": loader.validation,
            "raw": loader.raw_validation,
            "raw_suite": loader.raw_validator.name if loader.raw_validator else None,
            "checks": checks,
            "failed_rows": loader.quarantined,
            "window": window,
            "dag_id": dag_id,
            "run_id": run_id,
        }
        if failed:
            # nothing of this window loads: the transaction rolls back; what failed is
            # recorded on its own (after the rollback) so that people can see it
            raise BatchChecksFailed(source_id, failed, record)
        duplicates, conflicting = execute(conn, "load/dedupe_staging.sql").fetchone()
        if conflicting:
            log.warning(
                "%d events came twice in this batch with different content: kept the one "
                "landed last",
                conflicting,
            )
        _step(conn, "load/resolve_users.sql")
        _step(conn, "load/unify_new_actors.sql")
        new_people = [row[0] for row in _step(conn, "load/insert_new_users.sql").fetchall()]
        new_users, new_stub_users = len(new_people), sum(new_people)
        _step(conn, "load/mark_directory_users.sql")
        unresolved = execute(conn, "quality/unresolved_actors.sql").fetchone()[0]
        checks.append(
            BatchCheck(
                "actors_resolved",
                unresolved == 0,
                "error",
                {"unresolved_events": unresolved},
                f"{unresolved} events have an actor that resolved to no person",
            )
        )
        if unresolved:
            raise BatchChecksFailed(source_id, [checks[-1]], record)
        _step(conn, "load/insert_identity_lineage.sql", params)
        _step(conn, "load/insert_user_aliases.sql")
        _stage_config_items(conn, loader.config_items)
        new_config_items = _step(conn, "load/insert_new_config_items.sql", params).rowcount
        months = [row[0] for row in execute(conn, "load/staged_months.sql").fetchall()]
        new_partitions = ensure_partitions(dsn, months)
        _step(conn, "load/classify_changes.sql", _change_search(conn, extracted_at))
        inserted, updated, unchanged, stale = execute(conn, "load/count_changes.sql").fetchone()
        if stale:
            log.warning(
                "%d events are stored from an extract newer than this batch's: kept as stored",
                stale,
            )
        # the rows changed events replace, as stored, for the manifest entry (before they change)
        manifests.note_taken_over(conn)
        _step(conn, "load/delete_moved_events.sql")
        _step(conn, "load/upsert_access_events.sql", {**params, "extracted_at": extracted_at})
        log_params = {**params, "scraper_id": source_uuid(source_id)}
        _step(conn, "load/access_log_pairs_to_recompute.sql")
        _step(conn, "load/refresh_access_logs.sql", log_params)
        _step(conn, "load/delete_stale_access_logs.sql", log_params)
        _step(conn, "load/merge_new_access_logs.sql", log_params)
        _step(  # a re-processing batch updates the records it finds bad again
            conn,
            "load/insert_quarantine.sql",
            {**params, "reprocessing": "reprocess" in (request_stats or {})},
        )
        checks.append(
            BatchCheck(
                "natural_key_unique_in_batch",
                duplicates == 0,
                "warning",
                {"duplicates": duplicates, "conflicting": conflicting},
                f"{duplicates} events came more than once in this batch ({conflicting} with "
                "different content: the one landed last is kept)",
            )
        )
        record_validation(conn, **record, status=None)
        bookmark_advanced = _advance_bookmark(conn, params, bookmark_from, bookmark_to)
        _step(conn, "landing/mark_files_processed.sql", params)  # file feeds' manifest
        touched_days = [
            day.isoformat()
            for day in execute(
                conn,
                "load/touched_days.sql",
                {
                    "source_id": source_id,
                    "window_start": window_start,
                    "window_end": window_end,
                    "extracted_at": extracted_at,
                },
            ).fetchone()[0]
        ]
        manifest = manifests.record_load(
            conn,
            batch_id=batch_uuid,
            source_id=source_id,
            reprocessing="reprocess" in (request_stats or {}),
        )
        execute(conn, "load/lock_batch_chain.sql")
        counts = {
            "extracted": landed,
            "loaded": loader.loaded,
            "quarantined": loader.quarantined,
            "excluded": loader.excluded.total(),
            "duplicates": duplicates,
            "inserted": inserted,
            "updated": updated,
            "unchanged": unchanged,
            "new_users": new_users,
            "new_config_items": new_config_items,
        }
        _duration, batch_hash = execute(
            conn,
            "load/insert_batch.sql",
            {
                **params,
                **counts,
                "dag_id": dag_id,
                "run_id": run_id,
                "details": Jsonb(
                    {
                        "events": loader.events,
                        "excluded_by_rule": dict(loader.excluded),
                        "new_stub_users": new_stub_users,
                        "redacted_values": redacted,
                        "conflicting_duplicates": conflicting,
                        "stale": stale,
                        "new_partitions": [month.isoformat() for month in new_partitions],
                        "chunk_size": chunk_size,
                        "validation_s": round(loader.validation_s, 3),
                        "touched_days": touched_days,
                        "manifest": {
                            "entry_no": manifest.entry_no,
                            "entry_hash": manifest.entry_hash,
                        },
                    }
                ),
            },
        ).fetchone()
        record_load(conn, batch_uuid, feed, counts, dag_id=dag_id, run_id=run_id)  # dq.completeness
        execute(conn, "landing/mark_loaded.sql", params)
    seconds = time.monotonic() - started
    summary = LoadSummary(
        batch_id=str(batch_uuid),
        source_id=source_id,
        window_start=_iso(window_start),
        window_end=_iso(window_end),
        bookmark_from=bookmark_from,
        bookmark_to=bookmark_to,
        bookmark_advanced=bookmark_advanced,
        pages=pages,
        seconds=round(seconds, 3),
        batch_hash=batch_hash,
        events=loader.events,
        touched_days=touched_days,
        **counts,
    )
    log.info(
        "loaded batch %s: extracted %d = loaded %d + quarantined %d + excluded %d; "
        "%d inserted, %d updated, %d unchanged, %d duplicates; %.1f s",
        batch_uuid,
        landed,
        loader.loaded,
        loader.quarantined,
        loader.excluded.total(),
        inserted,
        updated,
        unchanged,
        duplicates,
        seconds,
    )
    # after the commit: Data Docs only report (a failure is a warning, never the load's)
    docs = publish_validation(
        [loader.raw_validation, loader.validation],
        suites=suites_of(loader.raw_validator, loader.validator),
        source_id=source_id,
        batch_id=batch_uuid,
        window_start=window_start,
        window_end=window_end,
        quarantined=loader.quarantined,
        dag_id=dag_id,
        run_id=run_id,
    )
    if docs is not None:
        log.info("data docs: %s", docs)
    return summary


#: How far from a batch's events an earlier copy of one of them is looked for (an event whose
#: time changed further than this would be stored twice).
MOVED_EVENT_SEARCH = timedelta(days=31)


def _stage_config_items(conn: psycopg.Connection, items: dict[uuid.UUID, ConfigItemRow]) -> None:
    if not items:
        return
    with conn.cursor() as cursor, cursor.copy(sql("load/copy_staging_config_items.sql")) as copy:
        for item in items.values():
            copy.write_row(item)


def _change_search(conn: psycopg.Connection, extracted_at: datetime) -> dict[str, Any]:
    lowest, highest = execute(conn, "load/staged_time_range.sql").fetchone()
    if lowest is None:  # nothing staged: any empty range will do
        lowest = highest = extracted_at
    return {
        "extracted_at": extracted_at,
        "search_from": lowest - MOVED_EVENT_SEARCH,
        "search_to": highest + MOVED_EVENT_SEARCH,
    }


def ensure_partitions(dsn: str, months: list[date]) -> list[date]:
    """Attach the monthly partitions of ``months`` that do not exist yet; return those created.

    On a connection of its own, committed at once and serialised by an advisory lock, before the
    load's transaction writes to ``audit.access_events``: partition DDL inside concurrent loads
    deadlocked. An empty partition left by a load that then fails is harmless.
    """
    created: list[date] = []
    with connect(dsn, autocommit=True) as side:
        execute(side, "load/lock_partitions.sql")
        try:
            for month in months:
                if execute(side, "load/attach_partition.sql", {"month": month}).fetchone()[0]:
                    created.append(month)
        finally:
            execute(side, "load/unlock_partitions.sql")
    if created:
        log.info("attached partitions of audit.access_events for %s", created)
    return created


def _loaded_summary(conn: psycopg.Connection, batch_id: uuid.UUID, source_id: str) -> LoadSummary:
    with conn.cursor(row_factory=dict_row) as cursor:
        row = cursor.execute(sql("load/loaded_batch.sql"), {"batch_id": batch_id}).fetchone()
    if row is None:
        raise BatchNotLoadable(f"landing batch {batch_id} is marked loaded but has no batch row")
    return LoadSummary(
        batch_id=str(batch_id),
        source_id=source_id,
        bookmark_advanced=None,
        seconds=0.0,
        **{**row, "window_start": _iso(row["window_start"]), "window_end": _iso(row["window_end"])},
    )


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _advance_bookmark(
    conn: psycopg.Connection,
    params: dict[str, Any],
    bookmark_from: Position | None,
    bookmark_to: Position | None,
) -> bool | None:
    """Move the source's bookmark to the batch's end (None: not a bookmark batch, or a batch
    that saw nothing new). False when another load moved it since this batch was extracted:
    this batch's records are loaded, and the next extract starts from the stored position."""
    if bookmark_to is None:
        return None
    (moved,) = execute(
        conn,
        "bookmarks/advance_bookmark.sql",
        {
            **params,
            # SQL NULL, not JSON null, for a batch that started with no bookmark
            "bookmark_from": None if bookmark_from is None else Jsonb(bookmark_from),
            "bookmark_to": Jsonb(bookmark_to),
        },
    ).fetchone()
    if moved:
        log.info("bookmark of %s moved to %s", params["source_id"], bookmark_to)
    else:
        log.warning(
            "bookmark of %s not moved: it no longer stands at %s, where this batch started",
            params["source_id"],
            bookmark_from,
        )
    return bool(moved)
