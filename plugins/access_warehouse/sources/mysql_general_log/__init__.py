"""Source kind ``mysql_general_log``: a MySQL or MariaDB server's general query log, read from
the log table (``log_output=TABLE``) ``mysql.general_log`` or a copy of it.

Connects, failed logins, statements and disconnects, one event per row. The mapping to the
access-event contract is :mod:`.mapping`; ``doc.md`` is the kind's documentation. Only pydantic
and the standard library at import time: DAG files import the kinds to parse; the MySQL driver
and the Airflow connection are reached when a task runs.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, Literal

from access_warehouse.sources.base import (
    Fetcher,
    FetchRequest,
    Normaliser,
    Page,
    Selection,
    SourceKind,
    TimeWindow,
)
from access_warehouse.sources.database import (
    DatabaseSource,
    QualifiedName,
    SourceUnavailable,
    mysql_connection,
    mysql_stream_cursor,
    split_qualified,
    with_source_errors,
)
from access_warehouse.sources.mysql_general_log.mapping import (
    COLUMNS,
    login_of,
    normalise_general_log,
    statement_class_of,
)
from access_warehouse.sources.registry import register_kind

log = logging.getLogger(__name__)

KIND = "mysql_general_log"
DOC = Path(__file__).with_name("doc.md").read_text()
SQL = f"sources/{KIND}"
#: The protocol's type code of a DATETIME column (MySQL and MariaDB, both drivers).
_DATETIME_TYPE = 12


class MysqlGeneralLogSource(DatabaseSource):
    """A server whose general log goes to a table (see ``doc.md``)."""

    kind: Literal["mysql_general_log"]
    #: Where the log is: ``mysql.general_log`` (the server's own log table) or a copy with the
    #: same columns (``schema.table`` of plain identifiers, quoted, never spliced).
    table: QualifiedName = "mysql.general_log"

    def selection(self) -> Selection:
        return TimeWindow(lookback=self.lookback, time_field="event_time")

    def fetcher(self) -> Fetcher:
        return partial(fetch_window, self)

    def normaliser(self) -> Normaliser:
        return partial(normalise_general_log, self)

    def kind_doc(self) -> str:
        return (
            f"Reads the log table `{self.table}` over the `mysql` connection `{self.conn_id}`."
            f"\n\n{DOC}"
        )

    def login_of(self, record: dict[str, Any]) -> str | None:
        return login_of(record)

    def statement_class_of(self, record: dict[str, Any]) -> str | None:
        return statement_class_of(record)


# --- fetch ---------------------------------------------------------------------------------


def quoted_table(table: str) -> str:
    """``schema.table`` of checked identifiers, each back-quoted (a checked identifier holds
    no back-quote, so quoting cannot be escaped from)."""
    return ".".join(f"`{part}`" for part in split_qualified(table))


def _statements(text: str) -> list[str]:
    """The statements of a SQL file: comment lines dropped, split on ``;``."""
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
    return [statement.strip() for statement in body.split(";") if statement.strip()]


def landed_value(value: Any, *, naive_local: bool = False) -> Any:
    """A column value as JSON: the session is UTC, so a TIMESTAMP is written with ``+00:00``
    (a DATETIME of a copy stays naive: local time of the source's ``timezone``); blobs (MySQL's
    ``argument``) decoded as UTF-8, bytes that are none replaced by U+FFFD."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, datetime):
        if value.tzinfo is None and not naive_local:
            value = value.replace(tzinfo=UTC)
        return value.isoformat(timespec="microseconds")
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", errors="replace")
    return str(value)  # Decimal and anything else a copy may hold: its text


def fetch_window(source: MysqlGeneralLogSource, request: FetchRequest) -> Iterator[Page]:
    """Pages of ``page_size`` rows of the window ``[start, end)`` on ``event_time``."""
    from access_warehouse.warehouse import sql as sql_file

    window = request.window
    if window is None:
        raise ValueError(f"{KIND} extracts by time window: the request has none")
    table = quoted_table(source.table)
    request.stats.requests += 1
    try:
        conn, client, server, errors = mysql_connection(source.conn_id, KIND)
    except SourceUnavailable:
        request.stats.connection_errors += 1
        raise
    wrap = with_source_errors(source.conn_id, f"cannot read {source.table} on {server}")
    try:
        try:
            setup = conn.cursor()
            for statement in _statements(sql_file(f"{SQL}/session.sql")):
                setup.execute(statement)
            setup.execute(sql_file(f"{SQL}/columns.sql").format(table=table))
            setup.fetchall()
            # the query names every column: a table without one fails above, naming it
            types = {column[0]: column[1] for column in setup.description}
            setup.close()
            naive_local = types.get("event_time") == _DATETIME_TYPE
            if naive_local:  # a DATETIME copy holds local time of the configured timezone
                start = window.start.astimezone(source.zone).replace(tzinfo=None)
                end = window.end.astimezone(source.zone).replace(tzinfo=None)
            else:
                start = window.start.astimezone(UTC).replace(tzinfo=None)
                end = window.end.astimezone(UTC).replace(tzinfo=None)
            select = sql_file(f"{SQL}/select_window.sql").format(table=table)
            params = {"start": start, "end": end}
            request.stats.asked.update(
                table=source.table,
                query=select,
                parameters={name: moment.isoformat() for name, moment in params.items()},
                event_time=f"{source.timezone} local time (DATETIME)" if naive_local else "UTC",
            )
            if source.count_window:
                counting = conn.cursor()
                counting.execute(sql_file(f"{SQL}/count_window.sql").format(table=table), params)
                [(count,)] = counting.fetchall()  # all of it: a client may not leave rows unread
                counting.close()
                request.stats.requests += 1
                request.stats.source_count = int(count)
                # a CSV log table has no snapshot: the read may see rows written after the count
                request.stats.source_said.update(count=int(count), count_snapshot=False)
            log.info(
                "%s: reading %s on %s, event_time in [%s, %s)%s",
                source.source_id,
                source.table,
                server,
                start.isoformat(),
                end.isoformat(),
                f" ({source.timezone} local time: a DATETIME column)" if naive_local else " UTC",
            )
            rows = mysql_stream_cursor(conn, client)
            rows.execute(select, params)
            while batch := rows.fetchmany(source.page_size):
                request.stats.requests += 1
                yield Page(
                    records=[
                        {
                            column: landed_value(
                                row.get(column), naive_local=naive_local and column == "event_time"
                            )
                            for column in COLUMNS
                        }
                        for row in batch
                    ],
                    stream=source.table,
                )
        finally:
            # closes the socket: an early stop does not wait for the rest of a streamed result
            with contextlib.suppress(*errors):  # already broken: its error is the one to report
                conn.close()
    except errors as exc:
        raise wrap(exc) from None


register_kind(
    SourceKind(
        name=KIND,
        config=MysqlGeneralLogSource,
        summary=(
            "a MySQL or MariaDB server's general query log table (log_output=TABLE): connects, "
            "failed logins, statements, disconnects"
        ),
        doc=DOC,
        example={
            "name": "mysql_prod_log",
            "conn_id": "mysql_prod",
            "server": "mysql-prod",
            "identity": {"template": "{login}@contoso.com"},
            "exclude_logins": ["access_reader"],
            "exclude_statement_classes": ["PING", "STATISTICS"],
        },
    )
)
