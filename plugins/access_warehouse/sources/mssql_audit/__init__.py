"""Source kind ``mssql_audit``: a SQL Server Audit's files, read with ``sys.fn_get_audit_file``.

A server audit writing to files (``TO FILE``) and a server or database audit specification
(logins, SELECT/INSERT/UPDATE/DELETE/EXECUTE on objects, permission changes) give records that
this kind reads through the Airflow MSSQL provider (``MsSqlHook`` -> pymssql), one time window on
``event_time`` at a time, and maps to access events (:mod:`.mapping`; ``doc.md`` is the kind's
documentation). Not verified against a live SQL Server: the tests serve rows shaped exactly like
the documented output of the function.

Only pydantic and the standard library at import time: DAG files import the kinds to parse;
pymssql and Airflow are imported when a task fetches.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from access_warehouse.sources.base import (
    Fetcher,
    FetchRequest,
    Normaliser,
    Page,
    Selection,
    SourceKind,
    TimeWindow,
)
from access_warehouse.sources.database import DatabaseSource, SourceUnavailable, with_source_errors
from access_warehouse.sources.mssql_audit.mapping import (
    EXTRA_COLUMNS,
    action_id_of,
    landed_record,
    login_of,
    normalise_audit_record,
    reassemble,
)
from access_warehouse.sources.registry import register_kind

log = logging.getLogger(__name__)

KIND = "mssql_audit"
DOC = Path(__file__).with_name("doc.md").read_text()
SELECT_WINDOW = f"sources/{KIND}/select_window.sql"
#: Where the SQL file takes the configured extra columns.
EXTRA_MARKER = "/* extra columns */"

ExtraColumn = Literal[EXTRA_COLUMNS]  # type: ignore[valid-type]


def _audit_file_pattern(value: str) -> str:
    text = value.strip()
    if text != value or not text:
        raise ValueError("audit_file_pattern must not be empty or start/end with spaces")
    if any(ord(character) < 32 for character in text):
        raise ValueError("audit_file_pattern must not contain control characters")
    if "/" not in text and "\\" not in text and not text.lower().startswith("https:"):
        raise ValueError(
            f"audit_file_pattern {value!r} must include the folder as the server sees it and a "
            r"file name pattern, e.g. D:\Audit\*.sqlaudit or /var/opt/mssql/audit/*.sqlaudit "
            "(the function refuses a path without a file name pattern)"
        )
    if text.endswith(("/", "\\")):
        raise ValueError(
            f"audit_file_pattern {value!r} ends with a folder: add a file name pattern such as "
            "*.sqlaudit (the function refuses a path without one)"
        )
    return value


class MssqlAuditSource(DatabaseSource):
    """A SQL Server whose server audit writes ``.sqlaudit`` files (see ``doc.md``)."""

    kind: Literal["mssql_audit"]
    #: The audit's files as the *server* sees them (``sys.server_file_audits.log_file_path`` +
    #: ``*.sqlaudit``, or ``<name>_<guid>*.sqlaudit`` for one audit of several in the folder);
    #: bound as a parameter (nvarchar(260)), never spliced into SQL.
    audit_file_pattern: str = Field(min_length=3, max_length=260)
    #: Further documented columns to read (the docs give no SQL Server version for them, and
    #: a column the server's function lacks fails the query): e.g. ``host_name`` on 2022.
    extra_columns: tuple[ExtraColumn, ...] = ()

    @field_validator("audit_file_pattern")
    @classmethod
    def _pattern(cls, value: str) -> str:
        return _audit_file_pattern(value)

    @field_validator("timezone")
    @classmethod
    def _utc_only(cls, value: str) -> str:
        if value != "UTC":
            raise ValueError(
                "sys.fn_get_audit_file returns event_time in UTC whatever the server's zone: "
                "leave timezone unset (UTC)"
            )
        return value

    @field_validator("extra_columns")
    @classmethod
    def _distinct(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError(f"extra_columns repeat: {list(value)}")
        return value

    # --- what the kind provides ---
    def selection(self) -> Selection:
        return TimeWindow(lookback=self.lookback, time_field="event_time")

    def fetcher(self) -> Fetcher:
        return partial(fetch_audit, self)

    def normaliser(self) -> Normaliser:
        return partial(normalise_audit_record, self)

    def kind_doc(self) -> str:
        extra = f"; extra columns {', '.join(self.extra_columns)}" if self.extra_columns else ""
        return (
            f"Audit files `{self.audit_file_pattern}` (as the server sees them), read with "
            f"`sys.fn_get_audit_file` over connection `{self.conn_id}`{extra}.\n\n{DOC}"
        )

    def login_of(self, record: dict[str, Any]) -> str | None:
        return login_of(record)

    def statement_class_of(self, record: dict[str, Any]) -> str | None:
        return action_id_of(record)


# --- fetch ---------------------------------------------------------------------------------


def select_query(source: MssqlAuditSource) -> str:
    """The window query: the SQL file, with the configured extra columns (names from the fixed
    allow-list :data:`EXTRA_COLUMNS` only) at its marker."""
    from access_warehouse.warehouse import sql

    text = sql(SELECT_WINDOW)
    for column in source.extra_columns:
        if column not in EXTRA_COLUMNS:  # config validation already refused it
            raise ValueError(f"{column!r} is not a documented fn_get_audit_file column")
    return text.replace(EXTRA_MARKER, "".join(f", {column}" for column in source.extra_columns))


def _driver_message(exc: BaseException) -> str:
    """pymssql's error as readable text: its ``(number, b'message')`` args decoded, repeated
    DB-Lib lines dropped."""
    args = getattr(exc, "args", ())
    if len(args) >= 2 and isinstance(args[1], bytes | str):
        text = args[1].decode("utf-8", "replace") if isinstance(args[1], bytes) else args[1]
        lines = list(dict.fromkeys(line.strip() for line in text.splitlines() if line.strip()))
        lines = [line for line in lines if not line.startswith("DB-Lib error message")] or lines
        return f"{args[0]}: " + " ".join(lines[:3])
    return str(exc).strip() or type(exc).__name__


def open_connection(conn_id: str) -> Any:
    """A pymssql connection from the Airflow connection ``conn_id`` (type ``mssql``) through the
    provider's ``MsSqlHook.get_conn()``: the one place this kind connects (tests replace it)."""
    from access_warehouse.airflow_adapters.connections import (
        ConnectionNotDefined,
        airflow_connection,
        connection_hook,
    )

    try:
        connection = airflow_connection(conn_id)
    except ConnectionNotDefined as exc:
        raise SourceUnavailable(
            f"{exc}: define it (conn type mssql) for source kind {KIND}"
        ) from None
    conn_type = (connection.conn_type or "").lower()
    if conn_type != "mssql":
        raise SourceUnavailable(
            f"connection {conn_id!r} has conn type {conn_type!r}; {KIND} reads through the "
            "Microsoft SQL Server provider: use conn type mssql"
        )
    if not connection.port:
        # MsSqlHook passes port=str(conn.port): an empty port would reach pymssql as "None"
        raise SourceUnavailable(f"connection {conn_id!r} has no port: set it (usually 1433)")
    hook = connection_hook(connection)
    if hook is None:
        raise SourceUnavailable(
            f"connection {conn_id!r}: the Microsoft SQL Server provider "
            "(apache-airflow-providers-microsoft-mssql) is not installed"
        )
    return hook.get_conn()


def _bound(moment: dt.datetime) -> dt.datetime:
    """A window bound as SQL Server compares it with ``event_time`` (naive UTC datetime2)."""
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


def _rows(cursor: Any, page_size: int, request: FetchRequest) -> Iterator[dict[str, Any]]:
    while rows := cursor.fetchmany(page_size):
        request.stats.requests += 1
        for row in rows:
            yield landed_record(row)


def fetch_audit(source: MssqlAuditSource, request: FetchRequest) -> Iterator[Page]:
    """Pages of ``page_size`` audit records of the window, in the query's order (long records
    reassembled from their parts, see :func:`.mapping.reassemble`)."""
    import pymssql

    window = request.window
    if window is None:
        raise ValueError(f"{KIND} extracts by time window: the request has none")
    wrap = with_source_errors(
        source.conn_id, f"reading SQL Server audit files {source.audit_file_pattern}"
    )
    query = select_query(source)
    params = {
        "pattern": source.audit_file_pattern,
        "start": _bound(window.start),
        "end": _bound(window.end),
    }
    try:
        try:
            conn = open_connection(source.conn_id)
        except pymssql.Error:
            request.stats.connection_errors += 1
            raise
        try:
            cursor = conn.cursor(as_dict=True)
            request.stats.requests += 1
            cursor.execute(query, params)
            page: list[dict[str, Any]] = []
            for record in reassemble(_rows(cursor, source.page_size, request)):
                page.append(record)
                if len(page) >= source.page_size:
                    yield Page(records=page, stream=KIND)
                    page = []
            if page:
                yield Page(records=page, stream=KIND)
        finally:
            with contextlib.suppress(pymssql.Error):
                conn.close()  # nothing was written: closing rolls the read transaction back
    except pymssql.Error as exc:
        raise wrap(RuntimeError(_driver_message(exc))) from None


register_kind(
    SourceKind(
        name=KIND,
        config=MssqlAuditSource,
        summary=(
            "SQL Server Audit files read with sys.fn_get_audit_file: logins, failed logins, "
            "object access (SELECT, INSERT, UPDATE, DELETE, EXECUTE), permission changes"
        ),
        doc=DOC,
        example={
            "name": "sql_prod_audit",
            "conn_id": "sql_prod",
            "server": "sql-prod",
            "audit_file_pattern": "/var/opt/mssql/audit/*.sqlaudit",
            "identity": {"template": "{login}@contoso.com"},
            "exclude_logins": ["NT SERVICE\\*"],
        },
    )
)
