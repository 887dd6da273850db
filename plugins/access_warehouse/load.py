"""Load one landed batch into the audit schema in a single transaction.

Landing records are read back in chunks, normalised, validated with the GX suite, and COPYed
into a staging table; bad records go to ``dq.quarantine`` with their reasons. Then set-based
SQL resolves people and config items, upserts ``audit.access_events`` on the natural key,
recomputes ``audit.access_logs`` for what the batch touched and records the batch. Either all
of it commits or none of it does, so a failed load leaves the audit tables as they were.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

import orjson
import psycopg
from psycopg.types.json import Jsonb

from access_warehouse.contract import NORMALISED_COLUMNS, NormalisationError, content_hash
from access_warehouse.quality.access_events import SUITE_NAME, AccessEventValidator
from access_warehouse.resolve import actor_identity, config_item_id, source_uuid
from access_warehouse.warehouse import connect, execute, sql

log = logging.getLogger(__name__)

#: A source record becomes one access event, or several (a directory audit with several targets).
Normaliser = Callable[[dict[str, Any], str], dict[str, Any] | list[dict[str, Any]]]
#: The configured exclusion a record matches (e.g. ``category:Policy``), or None to keep it.
Exclusion = Callable[[dict[str, Any]], str | None]


class BatchNotLoadable(RuntimeError):
    """The landing batch is missing, still extracting, or failed."""


@dataclass(frozen=True)
class SourceInfo:
    source_id: str
    kind: str
    tenant_id: str | None = None
    conn_id: str | None = None


@dataclass(frozen=True)
class LoadSummary:
    batch_id: str
    source_id: str
    window_start: str
    window_end: str
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

    def as_xcom(self) -> dict[str, Any]:
        return asdict(self)


def _payload_hash(record: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(record, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _chunks(
    conn: psycopg.Connection, batch_id: uuid.UUID, size: int
) -> Iterator[list[dict[str, Any]]]:
    # A server-side cursor: one chunk of landed records in memory at a time.
    with conn.cursor(name=f"landing_{batch_id.hex}") as cursor:
        cursor.itersize = size
        cursor.execute(sql("landing/read_batch_records.sql"), {"batch_id": batch_id})
        while rows := cursor.fetchmany(size):
            yield [orjson.loads(row[2]) for row in rows]


class _BatchLoader:
    def __init__(
        self,
        conn: psycopg.Connection,
        source: SourceInfo,
        normalise: Normaliser,
        exclude: Exclusion | None,
    ):
        self.conn = conn
        self.source = source
        self.normalise = normalise
        self.exclude = exclude
        self.excluded: Counter[str] = Counter()
        self.validator = AccessEventValidator()
        self.validation = None
        self.read = 0
        self.events = 0
        self.loaded = 0
        self.quarantined = 0

    def process_chunk(self, records: list[dict[str, Any]]) -> None:
        """Normalise and validate one chunk; stage its good events, quarantine its bad records.

        The unit of accounting is the source record: a record whose events break an expectation
        goes to quarantine whole (none of its events load), so extracted = loaded + quarantined
        counts records, whatever number of events each record gives.
        """
        self.read += len(records)
        events: list[dict[str, Any]] = []
        record_of_event: list[int] = []
        reasons_by_record: dict[int, list[str]] = {}
        kept_records = 0
        for index, record in enumerate(records):
            rule = self.exclude(record) if self.exclude else None
            if rule is not None:
                self.excluded[rule] += 1
                continue
            kept_records += 1
            try:
                normalised = self.normalise(record, self.source.source_id)
            except NormalisationError as exc:
                reasons_by_record[index] = [f"normalise: {exc}"]
                continue
            for event in normalised if isinstance(normalised, list) else [normalised]:
                events.append(event)
                record_of_event.append(index)
        if events:
            outcome = self.validator.validate(events)
            if self.validation is None:
                self.validation = outcome
            else:
                self.validation.merge(outcome)
            for row_no, reasons in outcome.failed_rows.items():
                reasons_by_record.setdefault(record_of_event[row_no], []).extend(
                    f"expectation: {reason}" for reason in reasons
                )
        good_events = [
            event
            for event, index in zip(events, record_of_event, strict=True)
            if index not in reasons_by_record
        ]
        self._copy_events(good_events)
        self._copy_quarantine([(records[index], why) for index, why in reasons_by_record.items()])
        self.events += len(good_events)
        self.loaded += kept_records - len(reasons_by_record)
        self.quarantined += len(reasons_by_record)

    def _copy_events(self, events: list[dict[str, Any]]) -> None:
        with self.conn.cursor() as cursor, cursor.copy(sql("load/copy_staging_events.sql")) as copy:
            for event in events:
                alias_id, alias_kind, alias_name, candidate = actor_identity(event)
                row = [event[column] for column in NORMALISED_COLUMNS]
                row[-1] = orjson.dumps(event["properties"]).decode()  # COPY parses it as jsonb
                copy.write_row(
                    (
                        *row,
                        content_hash(event),
                        alias_id,
                        alias_kind,
                        alias_name,
                        candidate,
                        config_item_id(
                            event["target_type"], event["target_external_id"], event["target_name"]
                        ),
                    )
                )

    def _copy_quarantine(self, rejected: list[tuple[dict[str, Any], list[str]]]) -> None:
        if not rejected:
            return
        with self.conn.cursor() as cursor:
            with cursor.copy(sql("load/copy_staging_quarantine.sql")) as copy:
                for record, reasons in rejected:
                    key = record.get("id") if isinstance(record, dict) else None
                    copy.write_row((key, _payload_hash(record), Jsonb(record), reasons))
            for record, reasons in rejected[:5]:
                log.warning("quarantined record %s: %s", record.get("id"), "; ".join(reasons))


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
    *,
    source: SourceInfo,
    normalise: Normaliser,
    exclude: Exclusion | None = None,
    chunk_size: int = 10_000,
    dag_id: str | None = None,
    run_id: str | None = None,
) -> LoadSummary:
    """Normalise, validate, resolve and upsert one extracted landing batch, all or nothing."""
    batch_uuid = uuid.UUID(str(batch_id))
    started = time.monotonic()
    with connect(dsn) as conn:
        batch = execute(conn, "landing/get_batch.sql", {"batch_id": batch_uuid}).fetchone()
        if batch is None:
            raise BatchNotLoadable(f"landing batch {batch_uuid} does not exist")
        _, batch_source, _, status, window_start, window_end, pages, landed = batch
        if batch_source != source.source_id:
            raise BatchNotLoadable(
                f"landing batch {batch_uuid} belongs to {batch_source}, not {source.source_id}"
            )
        if status != "extracted":
            raise BatchNotLoadable(
                f"landing batch {batch_uuid} is {status!r}; only an 'extracted' batch can load"
            )
        # One load per source at a time: access_logs are recomputed from this source's events.
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (source.source_id,))
        execute(
            conn,
            "load/register_source.sql",
            {
                "source_id": source.source_id,
                "source_uuid": source_uuid(source.source_id),
                "kind": source.kind,
                "tenant_id": source.tenant_id,
                "conn_id": source.conn_id,
            },
        )
        conn.execute(sql("load/create_staging.sql"))  # type: ignore[arg-type]
        loader = _BatchLoader(conn, source, normalise, exclude)
        for chunk in _chunks(conn, batch_uuid, chunk_size):
            loader.process_chunk(chunk)
            log.info(
                "normalised %d of %d records (%d to load, %d quarantined)",
                loader.read,
                landed,
                loader.loaded,
                loader.quarantined,
            )
        if loader.excluded:
            log.info("excluded by configuration: %s", dict(loader.excluded))
        if loader.read != landed:
            raise RuntimeError(
                f"landing batch {batch_uuid} says {landed} records but {loader.read} were read"
            )
        params = {"batch_id": batch_uuid, "source_id": source.source_id}
        duplicates = _step(conn, "load/dedupe_staging.sql").rowcount
        _step(conn, "load/resolve_users.sql")
        new_users = _step(conn, "load/insert_new_users.sql").rowcount
        _step(conn, "load/insert_user_aliases.sql")
        new_config_items = _step(conn, "load/insert_new_config_items.sql").rowcount
        _step(conn, "load/ensure_partitions.sql")
        _step(conn, "load/classify_changes.sql")
        inserted, updated, unchanged = execute(conn, "load/count_changes.sql").fetchone()
        _step(conn, "load/upsert_access_events.sql", params)
        log_params = {**params, "scraper_id": source_uuid(source.source_id)}
        _step(conn, "load/access_log_pairs_to_recompute.sql")
        _step(conn, "load/refresh_access_logs.sql", log_params)
        _step(conn, "load/delete_stale_access_logs.sql", log_params)
        _step(conn, "load/merge_new_access_logs.sql", log_params)
        _step(conn, "load/insert_quarantine.sql", params)
        _record_validation(conn, batch_uuid, source.source_id, loader)
        # The hash chain is global: serialise writers of audit.batches.
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('audit.batches'))")
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
                        "chunk_size": chunk_size,
                    }
                ),
            },
        ).fetchone()
        execute(conn, "landing/mark_loaded.sql", params)
    seconds = time.monotonic() - started
    summary = LoadSummary(
        batch_id=str(batch_uuid),
        source_id=source.source_id,
        window_start=window_start.isoformat(),
        window_end=window_end.isoformat(),
        pages=pages,
        seconds=round(seconds, 3),
        batch_hash=batch_hash,
        events=loader.events,
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
    return summary


def _record_validation(
    conn: psycopg.Connection, batch_id: uuid.UUID, source_id: str, loader: _BatchLoader
) -> None:
    outcome = loader.validation
    if outcome is None:  # nothing reached validation (empty window, or all rejected earlier)
        return
    validation_id = uuid.uuid4()
    execute(
        conn,
        "load/insert_validation_run.sql",
        {
            "validation_id": validation_id,
            "batch_id": batch_id,
            "source_id": source_id,
            "suite_name": SUITE_NAME,
            "success": outcome.success,
            "evaluated": outcome.evaluated,
            "failed_rows": loader.quarantined,
        },
    )
    with conn.cursor() as cursor:
        cursor.executemany(
            sql("load/insert_expectation_result.sql"),
            [
                {
                    "validation_id": validation_id,
                    "expectation": item.expectation,
                    "column_name": item.column,
                    "success": item.success,
                    "unexpected_count": item.unexpected_count,
                    "details": Jsonb(item.details),
                }
                for item in outcome.expectations.values()
            ],
        )
