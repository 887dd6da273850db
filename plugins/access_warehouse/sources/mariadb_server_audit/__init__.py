"""Source kind ``mariadb_server_audit``: the MariaDB audit plugin's (``server_audit``) log.

Read from the plugin's file output (a directory and a file pattern: ``server_audit.log`` and
its rotations ``server_audit.log.1``, ...) or from a table the lines were loaded into, read
through the MySQL provider's hook. The mapping to the access-event contract is :mod:`.mapping`;
``doc.md`` is the kind's documentation.

Only pydantic and the standard library at import time: DAG files import the kinds to parse;
the MySQL driver is imported when a table is read.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import IO, Any, ClassVar, Literal

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
    mysql_connection,
    mysql_stream_cursor,
    split_qualified,
    with_source_errors,
)
from access_warehouse.sources.mariadb_server_audit.mapping import (
    FIELDS,
    TIME_FORMAT,
    UNREADABLE,
    log_time,
    normalise_server_audit,
    not_access_rule,
    parse_line,
)
from access_warehouse.sources.registry import register_kind

log = logging.getLogger(__name__)

KIND = "mariadb_server_audit"
#: The plugin's default file (``server_audit_file_path``) and its rotations ``.1`` ... ``.999``.
DEFAULT_FILE_PATTERN = "server_audit.log*"
#: A line longer than this is landed cut short as unreadable (``server_audit_query_log_limit``
#: can be set far above its default 1024): memory stays flat whatever a line holds.
MAX_LINE_CHARS = 16 * 1024 * 1024
#: How much of an unreadable line lands with its reason.
BAD_LINE_TEXT_CHARS = 4000
#: Table mode: column types the window can compare with (``timestamp`` as DATETIME, or as the
#: file's text ``YYYYMMDD HH:MM:SS``).
_TIME_TYPES = frozenset({"datetime", "timestamp"})
_TEXT_TYPES = frozenset({"char", "varchar", "tinytext", "text", "mediumtext", "longtext"})

_DOC = Path(__file__).with_name("doc.md").read_text()


class MariadbServerAuditSource(ServerLogSource):
    """A server's audit-plugin log: ``log_directory`` (the folder of
    ``server_audit_file_path``; ``file_pattern`` default ``server_audit.log*``) or ``table``
    (the lines loaded into the doc's layout)."""

    kind: Literal["mariadb_server_audit"]

    default_file_pattern: ClassVar[str] = DEFAULT_FILE_PATTERN
    log_name: ClassVar[str] = "server_audit"

    # --- what the kind provides ---
    def selection(self) -> Selection:
        return TimeWindow(lookback=self.lookback, time_field="timestamp")

    def fetcher(self) -> Fetcher:
        return partial(fetch_files if self.table is None else fetch_table, self)

    def normaliser(self) -> Normaliser:
        return partial(normalise_server_audit, self)

    def kind_doc(self) -> str:
        return f"{self.where_read()} Timestamps are read in `{self.timezone}`.\n\n{_DOC}"

    def login_of(self, record: dict[str, Any]) -> str | None:
        value = record.get("username")
        return value if type(value) is str and value else None

    def statement_class_of(self, record: dict[str, Any]) -> str | None:
        value = record.get("operation")
        return value.strip().upper() if type(value) is str and value.strip() else None

    def exclusion(self) -> Exclusion | None:
        configured = super().exclusion()

        def excluded_by(record: dict[str, Any]) -> str | None:
            # not an access event whoever wrote it: counted under its own rule first
            rule = not_access_rule(record)
            if rule is None and configured is not None:
                rule = configured(record)
            return rule

        return excluded_by


def _window(request: FetchRequest) -> tuple[datetime, datetime]:
    window = request.window
    if window is None:
        raise ValueError(f"{KIND} extracts by time window: the request has none")
    return window.start, window.end


def _in_window(record: dict[str, str], start: datetime, end: datetime, source: Any) -> bool:
    """Whether a parsed line's time is in ``[start, end)``; a line whose time cannot be read
    is kept (True): the normaliser quarantines it, naming the bad value."""
    try:
        moment = log_time(record["timestamp"], source.zone)
    except NormalisationError:
        return True
    return start <= moment < end


# --- files ---------------------------------------------------------------------------------


def _physical_lines(handle: IO[str]) -> Iterator[tuple[int, str, str]]:
    """``(line number, text without newline, state)`` of each line; state ``complete``,
    ``too_long`` (the text is its first :data:`MAX_LINE_CHARS`, the rest was skipped) or
    ``partial`` (the file ends mid-line: the plugin is writing it)."""
    number = 0
    while chunk := handle.readline(MAX_LINE_CHARS + 1):
        number += 1
        if chunk.endswith("\n"):
            yield number, chunk[:-1], "complete"
        elif len(chunk) <= MAX_LINE_CHARS:
            yield number, chunk, "partial"
            return
        else:
            rest = chunk
            while rest and not rest.endswith("\n"):
                rest = handle.readline(MAX_LINE_CHARS + 1)
            yield number, chunk, "too_long" if rest else "partial"
            if not rest:
                return


def read_log_file(
    handle: IO[str], name: str, start: datetime, end: datetime, source: MariadbServerAuditSource
) -> Iterator[dict[str, str]]:
    """The lines of one open server_audit file whose time is in ``[start, end)``, streamed.

    A line that cannot be split into fields is yielded as ``{server_audit_error, file,
    line_number, text}``, so it lands and is quarantined with its reason rather than vanish; a
    line cut short at the end of the file is being written: left for the next window, whose
    lookback reads it again."""
    for number, text, state in _physical_lines(handle):
        if state == "partial":
            log.info("%s: line %d is still being written; left for the next run", name, number)
            continue
        if state == "too_long":
            record = {UNREADABLE: f"line longer than {MAX_LINE_CHARS} characters"}
        else:
            record = parse_line(text)
        if UNREADABLE in record:
            yield {
                **record,
                "file": name,
                "line_number": str(number),
                "text": text[:BAD_LINE_TEXT_CHARS],
            }
        elif _in_window(record, start, end, source):
            yield record


def fetch_files(source: MariadbServerAuditSource, request: FetchRequest) -> Iterator[Page]:
    """Pages of ``page_size`` lines of the window, file after file (oldest first).

    Every file that can hold lines of the window is opened as soon as the folder is listed: the
    plugin rotates by renaming (``server_audit.log`` -> ``.1`` -> ``.2``), and an open file is
    read to its end whatever it is called by then, so a rotation during the run loses nothing.
    """
    start, end = _window(request)
    directory = Path(source.log_directory or "")
    wrap = with_source_errors(source.conn_id, f"reading server_audit files in {directory}")
    with ExitStack() as stack:
        opened: list[tuple[str, IO[str]]] = []
        try:
            paths = log_files(directory, source.pattern, start)
            for path in paths:
                try:
                    handle = stack.enter_context(
                        path.open("r", encoding="utf-8", errors="replace", newline="\n")
                    )
                except FileNotFoundError:
                    # removed (rotated past server_audit_file_rotations) since the listing
                    log.warning("%s vanished before it was read; its lines are lost", path)
                    continue
                opened.append((path.name, handle))
        except OSError as exc:
            raise wrap(exc) from exc
        log.info(
            "%s: %d server_audit files can hold lines of the window", source.source_id, len(opened)
        )
        for name, handle in opened:
            request.stats.requests += 1
            page: list[dict[str, str]] = []
            count = 0
            try:
                for record in read_log_file(handle, name, start, end, source):
                    page.append(record)
                    count += 1
                    if len(page) >= source.page_size:
                        yield Page(records=page, stream=name)
                        page = []
            except OSError as exc:
                raise wrap(exc) from exc
            if page:
                yield Page(records=page, stream=name)
            request.stats.by_stream[name] = count


# --- a table of server_audit lines -----------------------------------------------------------


def _line_text(field: str, value: Any) -> str:
    """A table value as the file's line wrote it (the object unescaped), so that both modes
    land the same records."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime(TIME_FORMAT)
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="replace")
    return value if isinstance(value, str) else str(value)


def local_bounds(start: datetime, end: datetime, zone: Any) -> tuple[datetime, datetime]:
    """Naive local times that enclose every local time whose reading in ``zone`` falls in
    ``[start, end)``, whatever DST changes lie between (the rows are then filtered exactly)."""
    offsets = []
    moment = start
    while moment < end:
        offsets.append(moment.astimezone(zone).utcoffset() or timedelta(0))
        moment += timedelta(hours=6)
    offsets.append(end.astimezone(zone).utcoffset() or timedelta(0))
    low = start.astimezone(UTC).replace(tzinfo=None) + min(offsets)
    high = end.astimezone(UTC).replace(tzinfo=None) + max(offsets)
    return low, high


def _quoted_table(table: str) -> tuple[str, str | None, str]:
    """(`schema`.`table` for the SQL text, schema, table); the parts are checked plain
    identifiers (no backtick can be in them), so quoting them is safe."""
    parts = split_qualified(table)
    schema, name = (None, parts[0]) if len(parts) == 1 else parts
    return ".".join(f"`{part}`" for part in parts), schema, name


def fetch_table(source: MariadbServerAuditSource, request: FetchRequest) -> Iterator[Page]:
    """Pages of the window's rows of ``table``, read with a server-side cursor."""
    from access_warehouse.warehouse import sql as sql_text

    start, end = _window(request)
    quoted, schema, name = _quoted_table(source.table or "")
    wrap = with_source_errors(source.conn_id, f"reading server_audit table {source.table}")
    conn, client, _server, errors = mysql_connection(source.conn_id, KIND)
    try:
        request.stats.requests += 1
        with conn.cursor() as cursor:
            cursor.execute(
                sql_text("sources/mariadb_server_audit/table_columns.sql"),
                {"schema": schema, "table": name},
            )
            types = {str(column).lower(): str(kind).lower() for column, kind in cursor.fetchall()}
        if not types:
            raise SourceUnavailable(
                f"server_audit table {source.table} (connection {source.conn_id!r}) does not "
                "exist or is not readable: grant SELECT on it"
            )
        missing = [field for field in FIELDS if field not in types]
        if missing:
            raise SourceUnavailable(
                f"server_audit table {source.table} (connection {source.conn_id!r}) has no "
                f"column {', '.join(missing)}: load the lines into the layout of the kind's doc"
            )
        low, high = local_bounds(start, end, source.zone)
        if types["timestamp"] in _TIME_TYPES:
            bounds: dict[str, Any] = {"start": low, "end": high}
        elif types["timestamp"] in _TEXT_TYPES:
            # the file's text sorts like the time it says; whole seconds, the end rounded up
            bounds = {
                "start": low.strftime(TIME_FORMAT),
                "end": (high + timedelta(seconds=1)).strftime(TIME_FORMAT),
            }
        else:
            raise SourceUnavailable(
                f"server_audit table {source.table}: column timestamp is {types['timestamp']}; "
                "use DATETIME (or the file's text, VARCHAR)"
            )
        query = sql_text("sources/mariadb_server_audit/select_window.sql").format(table=quoted)
        cursor = mysql_stream_cursor(conn, client, as_dict=False)
        try:
            cursor.execute(query, bounds)
            while rows := cursor.fetchmany(source.page_size):
                records = []
                for row in rows:
                    record = {
                        field: _line_text(field, value)
                        for field, value in zip(FIELDS, row, strict=True)
                    }
                    if _in_window(record, start, end, source):
                        records.append(record)
                if records:
                    yield Page(records=records, stream=source.table)
        finally:
            cursor.close()
    except errors as exc:
        raise wrap(exc) from exc
    finally:
        conn.close()


register_kind(
    SourceKind(
        name=KIND,
        config=MariadbServerAuditSource,
        summary="MariaDB's audit plugin log: connections, failed logins, queries, tables touched",
        doc=_DOC,
        example={
            "name": "maria_prod_audit",
            "conn_id": "maria_prod",
            "server": "maria-prod",
            "log_directory": "/var/lib/mysql",
            "timezone": "Europe/Berlin",
            "exclude_logins": ["monitoring"],
        },
    )
)
