"""Source kind ``postgres_csvlog``: a PostgreSQL server's own csvlog (with pgaudit's lines).

Read from the log files (a directory and a file pattern, rotated files included) or from a
table the files were loaded into (the docs' ``postgres_log`` layout). The mapping to the
access-event contract is :mod:`.mapping`; ``doc.md`` is the kind's documentation.

Only pydantic and the standard library at import time: DAG files import the kinds to parse;
psycopg is imported when a table is read.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from access_warehouse.contract import NormalisationError
from access_warehouse.sources.base import (
    Exclusion,
    Fetcher,
    FetchRequest,
    Normaliser,
    Page,
    Selection,
    SourceKind,
    TimeWindow,
)
from access_warehouse.sources.database import (
    ServerLogSource,
    SourceUnavailable,
    log_files,
    postgres_conninfo,
    split_qualified,
    with_source_errors,
)
from access_warehouse.sources.postgres_csvlog.mapping import (
    COLUMNS,
    LAYOUT_WIDTHS,
    UNREADABLE,
    log_time,
    normalise_csvlog,
    not_access_rule,
    pgaudit_class,
)
from access_warehouse.sources.registry import register_kind

log = logging.getLogger(__name__)

KIND = "postgres_csvlog"
DEFAULT_FILE_PATTERN = "*.csv"
#: A csvlog record longer than this is cut off as unreadable: a stray quote would otherwise
#: make the reader hold the rest of the file as one record.
MAX_RECORD_CHARS = 64 * 1024 * 1024
#: The columns the table must have to give events (the natural key, the time, the text).
REQUIRED_TABLE_COLUMNS = ("log_time", "session_id", "session_line_num", "error_severity", "message")

_DOC = Path(__file__).with_name("doc.md").read_text()


class PostgresCsvlogSource(ServerLogSource):
    """A server's csvlog: ``log_directory`` (its ``log_directory``; ``file_pattern`` default
    ``*.csv``) or ``table`` (the csv files loaded into the docs' ``postgres_log``)."""

    kind: Literal["postgres_csvlog"]
    #: Table mode: the database holding ``table``, when it is not the connection's own.
    database: str | None = Field(None, min_length=1, max_length=63)

    default_file_pattern: ClassVar[str] = DEFAULT_FILE_PATTERN
    log_name: ClassVar[str] = "csvlog"

    @model_validator(mode="after")
    def _database_with_table(self) -> PostgresCsvlogSource:
        if self.log_directory is not None and self.database is not None:
            raise ValueError("database applies to table (the database holding it)")
        return self

    # --- what the kind provides ---
    def selection(self) -> Selection:
        return TimeWindow(lookback=self.lookback, time_field="log_time")

    def fetcher(self) -> Fetcher:
        return partial(fetch_files if self.table is None else fetch_table, self)

    def normaliser(self) -> Normaliser:
        return partial(normalise_csvlog, self)

    def kind_doc(self) -> str:
        where = self.where_read()
        if self.database:
            where = f"{where[:-1]}, database `{self.database}`."
        return f"{where}\n\n{_DOC}"

    def login_of(self, record: dict[str, Any]) -> str | None:
        value = record.get("user_name")
        return value if type(value) is str and value else None

    def statement_class_of(self, record: dict[str, Any]) -> str | None:
        return pgaudit_class(record)

    def exclusion(self) -> Exclusion | None:
        configured = super().exclusion()

        def excluded_by(record: dict[str, Any]) -> str | None:
            # not an access event whoever wrote it: counted under its own rule first
            rule = not_access_rule(record)
            if rule is None and configured is not None:
                rule = configured(record)
            return rule

        return excluded_by


# --- files ---------------------------------------------------------------------------------


def _window(request: FetchRequest) -> tuple[datetime, datetime]:
    window = request.window
    if window is None:
        raise ValueError(f"{KIND} extracts by time window: the request has none")
    return window.start, window.end


def _physical_records(handle: io.TextIOBase) -> Iterator[tuple[int, str, bool]]:
    """``(first line number, text, complete)`` of each csvlog record: physical lines joined
    until the quotes balance (a quoted statement may hold newlines). The last one is
    ``complete=False`` when the file ends mid-record (the server is writing it)."""
    buffer: list[str] = []
    size = quotes = first = 0
    for number, line in enumerate(handle, start=1):
        if not buffer:
            first = number
        buffer.append(line)
        size += len(line)
        quotes += line.count('"')
        if quotes % 2 == 0 and line.endswith("\n"):
            yield first, "".join(buffer), True
            buffer, size, quotes = [], 0, 0
        elif size > MAX_RECORD_CHARS:
            yield first, "".join(buffer), False
            buffer, size, quotes = [], 0, 0
    if buffer:
        yield first, "".join(buffer), False


def parse_record(text: str) -> dict[str, str]:
    """One csvlog record's text -> its columns, or ``{csvlog_error: why}``."""
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error as exc:
        return {UNREADABLE: f"not CSV: {exc}"}
    if len(rows) != 1:
        return {UNREADABLE: f"{len(rows)} CSV rows in one record"}
    row = rows[0]
    if len(row) not in LAYOUT_WIDTHS:
        widths = sorted(LAYOUT_WIDTHS)
        return {
            UNREADABLE: f"{len(row)} columns; csvlog lines have "
            f"{', '.join(map(str, widths[:-1]))} or {widths[-1]} (by server version)"
        }
    return dict(zip(COLUMNS, row, strict=False))


def read_log_file(
    path: Path, start: datetime, end: datetime, source: PostgresCsvlogSource
) -> Iterator[dict[str, str]]:
    """The records of one csvlog file whose ``log_time`` is in ``[start, end)``, streamed.

    A line that cannot be read (or whose time cannot be parsed) is yielded as it is, so it
    lands and is quarantined with its reason rather than vanish; a record cut off at the end of
    the file is being written: left for the next window, whose lookback reads it again."""
    with path.open("r", encoding="utf-8", errors="replace", newline="") as handle:
        for first, text, complete in _physical_records(handle):
            if not complete and len(text) <= MAX_RECORD_CHARS:
                log.info("%s: record at line %d is still being written; left", path, first)
                continue
            record = parse_record(text) if complete else {UNREADABLE: "record too long"}
            if UNREADABLE in record:
                yield {**record, "file": path.name, "line_number": str(first), "text": text[:4000]}
                continue
            try:
                moment = log_time(record["log_time"], source.zone)
            except NormalisationError:
                yield record  # the normaliser quarantines it, naming the bad value
                continue
            if start <= moment < end:
                yield record


def fetch_files(source: PostgresCsvlogSource, request: FetchRequest) -> Iterator[Page]:
    """Pages of ``page_size`` csvlog records of the window, file after file."""
    start, end = _window(request)
    directory = Path(source.log_directory or "")
    wrap = with_source_errors(source.conn_id, f"reading csvlog files in {directory}")
    try:
        paths = log_files(directory, source.pattern, start)
    except OSError as exc:
        raise wrap(exc) from exc
    log.info("%s: %d csvlog files can hold lines of the window", source.source_id, len(paths))
    for path in paths:
        request.stats.requests += 1
        page: list[dict[str, str]] = []
        count = 0
        try:
            for record in read_log_file(path, start, end, source):
                page.append(record)
                count += 1
                if len(page) >= source.page_size:
                    yield Page(records=page, stream=path.name)
                    page = []
        except FileNotFoundError:
            # removed after the listing (rotated away): its lines are gone from this source
            log.warning("%s vanished while being read; its remaining lines are lost", path)
        except OSError as exc:
            raise wrap(exc) from exc
        if page:
            yield Page(records=page, stream=path.name)
        request.stats.by_stream[path.name] = count


# --- a table of csvlog rows ----------------------------------------------------------------


def _csvlog_text(column: str, value: Any) -> str:
    """A table value as the csvlog file wrote it, so both modes land the same records."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        moment = value.astimezone(UTC)
        if column == "log_time":
            return f"{moment:%Y-%m-%d %H:%M:%S}.{moment.microsecond // 1000:03d} UTC"
        return f"{moment:%Y-%m-%d %H:%M:%S} UTC"
    return value if isinstance(value, str) else str(value)


def fetch_table(source: PostgresCsvlogSource, request: FetchRequest) -> Iterator[Page]:
    """Pages of the window's rows of ``table``, read with a server-side cursor."""
    import psycopg
    from psycopg import sql as pgsql

    from access_warehouse.warehouse import sql as sql_text

    start, end = _window(request)
    table = pgsql.Identifier(*split_qualified(source.table or ""))
    wrap = with_source_errors(source.conn_id, f"reading csvlog table {source.table}")
    conninfo = postgres_conninfo(source.conn_id)
    if source.database:
        conninfo = psycopg.conninfo.make_conninfo(conninfo, dbname=source.database)
    try:
        with psycopg.connect(conninfo, connect_timeout=10) as conn:
            # One read-only snapshot for the whole read: the window's count and its rows agree.
            conn.read_only = True
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            request.stats.requests += 1
            present = [
                row[0]
                for row in conn.execute(
                    sql_text("sources/postgres_csvlog/table_columns.sql"),
                    {"table": table.as_string(conn)},
                )
            ]
            missing = [column for column in REQUIRED_TABLE_COLUMNS if column not in present]
            if missing:
                raise SourceUnavailable(
                    f"csvlog table {source.table} (connection {source.conn_id!r}) has no "
                    f"column {', '.join(missing)}: load it with the docs' postgres_log layout"
                )
            columns = [column for column in COLUMNS if column in present]
            query = pgsql.SQL(sql_text("sources/postgres_csvlog/select_window.sql")).format(
                columns=pgsql.SQL(", ").join(map(pgsql.Identifier, columns)), table=table
            )
            params = {"start": start, "end": end}
            request.stats.asked.update(
                table=source.table,
                query=query.as_string(conn),
                parameters={name: moment.isoformat() for name, moment in params.items()},
            )
            if source.count_window:
                counting = pgsql.SQL(sql_text("sources/postgres_csvlog/count_window.sql")).format(
                    table=table
                )
                (count,) = conn.execute(counting, params).fetchone()
                request.stats.requests += 1
                request.stats.source_count = count
                request.stats.source_said.update(count=count, count_snapshot=True)
            with conn.cursor(name="postgres_csvlog_window") as cursor:
                cursor.itersize = source.page_size
                cursor.execute(query, params)
                while rows := cursor.fetchmany(source.page_size):
                    yield Page(
                        records=[
                            {
                                column: _csvlog_text(column, value)
                                for column, value in zip(columns, row, strict=True)
                            }
                            for row in rows
                        ],
                        stream=source.table,
                    )
    except psycopg.Error as exc:
        raise wrap(exc) from exc


register_kind(
    SourceKind(
        name=KIND,
        config=PostgresCsvlogSource,
        summary="a PostgreSQL server's csvlog: connections, failed logins, pgaudit statements",
        doc=_DOC,
        example={
            "name": "pg_prod_log",
            "conn_id": "pg_prod",
            "server": "pg-prod",
            "log_directory": "/var/log/postgresql",
            "exclude_statement_classes": ["MISC"],
        },
    )
)
