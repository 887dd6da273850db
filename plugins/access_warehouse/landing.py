"""Landing: raw source records, page by page, exactly as received (COPY, committed per page)."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
import psycopg
from psycopg.types.json import Jsonb

from access_warehouse.sources.base import Position
from access_warehouse.warehouse import connect, execute, sql

#: A JSON ``\u0000`` escape that is not itself an escaped backslash followed by "u0000".
_NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


def contains_nul_escape(text: bytes) -> bool:
    """Whether JSON ``text`` holds a NUL character (which ``jsonb`` refuses)."""
    return b"\\u0000" in text and _NUL_ESCAPE.search(text) is not None


def encode_record(record: Any) -> tuple[str | None, bytes | None]:
    """``(jsonb text, None)`` for a record ``jsonb`` can hold, else ``(None, raw JSON bytes)``.

    ``jsonb`` refuses NUL characters and lone surrogates, and orjson refuses what is nested
    deeper than 254 levels; such records are kept losslessly as UTF-8 JSON text with non-ASCII
    escaped (values JSON cannot express at all are written with ``repr``) and the load
    quarantines them with the reason.
    """
    try:
        text = orjson.dumps(record)
    except (orjson.JSONEncodeError, TypeError):
        return None, json.dumps(record, ensure_ascii=True, default=repr).encode()
    if contains_nul_escape(text):
        return None, text
    return text.decode(), None


@dataclass(frozen=True)
class ExtractWindow:
    """``[start, end)`` to extract; the run's own data interval starts ``lookback`` after start."""

    start: datetime
    end: datetime
    lookback: timedelta = timedelta(0)

    def describe(self) -> str:
        return f"[{self.start.isoformat()}, {self.end.isoformat()})"

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("extract window bounds must be timezone-aware (UTC)")
        if self.start >= self.end:
            raise ValueError(f"extract window is empty: {self.start} >= {self.end}")


def fail_abandoned_batches(dsn: str, source_id: str) -> list[uuid.UUID]:
    """Mark failed the source's batches left ``extracting`` by an extract that died (killed,
    out of memory, a lost worker); returns their ids. Live extracts are left alone."""
    with connect(dsn) as conn:
        rows = execute(conn, "landing/fail_abandoned_batches.sql", {"source_id": source_id})
        return [row[0] for row in rows.fetchall()]


class LandingBatch:
    """One extract attempt: a row in ``landing.extract_batches`` plus its pages of records.

    Each page is committed on its own, so a failed attempt leaves its pages behind, marked by the
    batch's ``failed`` status, and never holds more than one page in memory.
    """

    def __init__(
        self,
        dsn: str,
        *,
        source_id: str,
        source_kind: str,
        window: ExtractWindow | None = None,
        bookmark_from: Position | None = None,
        dag_id: str | None = None,
        run_id: str | None = None,
    ) -> None:
        self.batch_id = uuid.uuid4()
        self.source_id = source_id
        self.pages = 0
        self.records = 0
        #: records kept as raw bytes because jsonb cannot hold them
        self.raw_records = 0
        self._conn: psycopg.Connection = connect(dsn)
        # Each page commits on its own; landing can be re-extracted, so no fsync wait per page.
        self._conn.execute("SET synchronous_commit = off")
        execute(
            self._conn,
            "landing/start_batch.sql",
            {
                "batch_id": self.batch_id,
                "source_id": source_id,
                "source_kind": source_kind,
                "dag_id": dag_id,
                "run_id": run_id,
                "window_start": window.start if window else None,
                "window_end": window.end if window else None,
                "lookback": window.lookback if window else timedelta(0),
                "bookmark_from": Jsonb(bookmark_from) if bookmark_from is not None else None,
            },
        )
        self._conn.commit()
        execute(self._conn, "landing/hold_batch.sql", {"batch_id": self.batch_id})
        self._conn.commit()

    def write_page(self, records: list[Any], position: Position | None = None) -> None:
        """Land one page and commit it; a bookmark feed's ``position`` (of the page's last
        record) becomes the batch's end position."""
        page_no = self.pages
        with (
            self._conn.cursor() as cursor,
            cursor.copy(sql("landing/copy_records.sql")) as copy,
        ):
            for record_no, record in enumerate(records):
                payload, raw = encode_record(record)
                if raw is not None:
                    self.raw_records += 1
                copy.write_row((self.batch_id, page_no, record_no, payload, raw))
        execute(
            self._conn,
            "landing/page_landed.sql",
            {
                "batch_id": self.batch_id,
                "records": len(records),
                "position": Jsonb(position) if position is not None else None,
            },
        )
        self._conn.commit()
        self.pages += 1
        self.records += len(records)

    def record_files(self, files: list[Any]) -> None:
        """The files this batch read (``FileState``), for the load to enter into the source's
        manifest when it commits."""
        if not files:
            return
        with (
            self._conn.cursor() as cursor,
            cursor.copy(sql("landing/copy_batch_files.sql")) as copy,
        ):
            for state in files:
                copy.write_row(
                    (
                        self.batch_id,
                        state.path,
                        state.size,
                        state.modified_at,
                        state.sha256,
                        state.records,
                    )
                )
        self._conn.commit()

    def finish(self, status: str, *, error: str | None = None, stats: Any = None) -> None:
        self._conn.rollback()  # whatever a failed page left open
        execute(
            self._conn,
            "landing/finish_batch.sql",
            {
                "batch_id": self.batch_id,
                "status": status,
                "error": error,
                "request_stats": Jsonb(asdict(stats) if stats is not None else {}),
            },
        )
        self._conn.commit()

    def close(self) -> None:
        self._conn.close()
