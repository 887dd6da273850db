"""Source kind ``clickhouse_query_log``: a ClickHouse server's ``system.query_log``.

Read over HTTP(S) with ``clickhouse-connect`` (the maintained ClickHouse client), through an
Airflow connection. The mapping to the access-event contract is :mod:`.mapping`; ``doc.md`` is
the kind's documentation; the SQL is in ``include/sql/sources/clickhouse_query_log/``.

The step "run this SQL with these bound parameters, give me rows as dicts in pages" is a
:class:`Transport`; :func:`fetch_query_log` takes the one to use, so tests run the very same
SQL text through the embedded engine (chdb) that the production client sends to a server.

Only pydantic and the standard library at import time: DAG files import the kinds to parse;
``clickhouse_connect`` and Airflow are imported when a task fetches.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, Literal

from access_warehouse.normalise import clean_text
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
from access_warehouse.sources.clickhouse_query_log.mapping import (
    COLUMNS,
    REQUIRED_COLUMNS,
    login_of,
    normalise_query_log,
    not_access_rule,
)
from access_warehouse.sources.database import (
    DatabaseSource,
    QualifiedName,
    SourceUnavailable,
    split_qualified,
    with_source_errors,
)
from access_warehouse.sources.registry import register_kind

KIND = "clickhouse_query_log"
DOC = Path(__file__).with_name("doc.md").read_text()
SQL = f"sources/{KIND}"
#: Seconds to wait for the server to accept a connection / to answer, unless the connection's
#: extra says otherwise.
CONNECT_TIMEOUT_S = 10
SEND_RECEIVE_TIMEOUT_S = 300
#: Extra keys of the Airflow connection passed to ``clickhouse_connect.get_client`` as they are.
CLIENT_EXTRAS: tuple[str, ...] = (
    "secure",
    "verify",
    "ca_cert",
    "client_cert",
    "client_cert_key",
    "server_host_name",
    "tls_mode",
    "connect_timeout",
    "send_receive_timeout",
    "compress",
    "http_proxy",
    "https_proxy",
    "proxy_path",
)
_BOOL_EXTRAS = frozenset({"secure", "verify", "compress"})


class ClickhouseQueryLogSource(DatabaseSource):
    """A ClickHouse server whose ``system.query_log`` becomes access events (see ``doc.md``)."""

    kind: Literal["clickhouse_query_log"]
    #: ``database.table`` of the query log (plain identifiers, bound as ``Identifier``
    #: parameters): ``system.query_log``, or a copy with the same columns.
    table: QualifiedName = "system.query_log"

    def selection(self) -> Selection:
        return TimeWindow(lookback=self.lookback, time_field="event_time_microseconds")

    def fetcher(self) -> Fetcher:
        return partial(fetch_query_log, self)

    def normaliser(self) -> Normaliser:
        return partial(normalise_query_log, self)

    def kind_doc(self) -> str:
        return f"Reads `{self.table}` over connection `{self.conn_id}`.\n\n{DOC}"

    def login_of(self, record: dict[str, Any]) -> str | None:
        return login_of(record)

    def statement_class_of(self, record: dict[str, Any]) -> str | None:
        value = record.get("query_kind")
        return clean_text(value) if type(value) is str else None

    def exclusion(self) -> Exclusion | None:
        configured = super().exclusion()

        def excluded_by(record: dict[str, Any]) -> str | None:
            # not an access event whoever ran it: counted under its own rule first
            rule = not_access_rule(record)
            if rule is None and configured is not None:
                rule = configured(record)
            return rule

        return excluded_by

    @property
    def table_parts(self) -> tuple[str, str]:
        parts = split_qualified(self.table)
        return ("system", parts[0]) if len(parts) == 1 else (parts[0], parts[1])


# --- the transport -------------------------------------------------------------------------

#: SQL text, bound parameters (``{name:Type}`` in the text), page size -> pages of rows as dicts.
RunQuery = Callable[[str, dict[str, str], int], Iterator[list[dict[str, Any]]]]


@dataclass(frozen=True)
class Transport:
    """How SQL reaches the server: ``run`` streams a query's rows in pages; ``errors`` are the
    exceptions that mean the source failed (turned into :class:`SourceUnavailable`)."""

    run: RunQuery
    errors: tuple[type[BaseException], ...]
    #: Where it goes, for messages (``https://ch.example.com:8443``; never a password).
    where: str


#: The source -> a context manager giving an open :class:`Transport` (closed afterwards).
Connect = Callable[[ClickhouseQueryLogSource], AbstractContextManager[Transport]]


def _extra_value(key: str, value: Any) -> Any:
    if key in _BOOL_EXTRAS and isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    if key in ("connect_timeout", "send_receive_timeout") and isinstance(value, str):
        return float(value)
    return value


def client_arguments(conn_id: str) -> dict[str, Any]:
    """``clickhouse_connect.get_client`` keyword arguments from an Airflow connection: host
    (a scheme in it, ``https://``, sets ``secure``), port (default: the client's 8123 / 8443),
    login (default ``default``), password, schema as the session's database; the extra keys of
    :data:`CLIENT_EXTRAS`. ``SourceUnavailable`` when the connection is not defined."""
    from access_warehouse.airflow_adapters.connections import (
        ConnectionNotDefined,
        airflow_connection,
    )

    try:
        connection = airflow_connection(conn_id)
    except ConnectionNotDefined as exc:
        raise SourceUnavailable(str(exc)) from None
    extra = connection.extra_dejson or {}
    host = (connection.host or "").strip()
    arguments: dict[str, Any] = {}
    if "://" in host:
        scheme, _, host = host.partition("://")
        arguments["secure"] = scheme.lower() == "https"
        host = host.rstrip("/")
    if not host:
        raise SourceUnavailable(f"connection {conn_id!r} has no host")
    arguments.update(
        host=host,
        username=connection.login or "default",
        password=connection.password or "",
        connect_timeout=CONNECT_TIMEOUT_S,
        send_receive_timeout=SEND_RECEIVE_TIMEOUT_S,
        # one client per fetch, no session state needed: no session id, so a read-only
        # user's server-side session limits never apply
        autogenerate_session_id=False,
    )
    if connection.port:
        arguments["port"] = int(connection.port)
    if connection.schema:
        arguments["database"] = connection.schema
    for key in CLIENT_EXTRAS:
        if extra.get(key) is not None:
            arguments[key] = _extra_value(key, extra[key])
    return arguments


@contextmanager
def clickhouse_connect_transport(source: ClickhouseQueryLogSource) -> Iterator[Transport]:
    """The production transport: a ``clickhouse_connect`` client (HTTP or HTTPS) from the
    source's Airflow connection, streaming rows with ``query_row_block_stream``."""
    import clickhouse_connect
    from clickhouse_connect.driver.exceptions import ClickHouseError

    arguments = client_arguments(source.conn_id)
    scheme = "https" if arguments.get("secure") else "http"
    where = f"{scheme}://{arguments['host']}" + (
        f":{arguments['port']}" if "port" in arguments else ""
    )
    errors: tuple[type[BaseException], ...] = (ClickHouseError, OSError)
    try:
        client = clickhouse_connect.get_client(**arguments)
    except errors as exc:
        raise with_source_errors(source.conn_id, f"connecting to ClickHouse at {where}")(
            exc
        ) from None

    def run(sql: str, parameters: dict[str, str], page_size: int) -> Iterator[list[dict]]:
        with client.query_row_block_stream(sql, parameters=parameters) as stream:
            names = stream.source.column_names
            page: list[dict[str, Any]] = []
            for block in stream:
                for row in block:
                    page.append(
                        {name: json_safe(value) for name, value in zip(names, row, strict=True)}
                    )
                    if len(page) >= page_size:
                        yield page
                        page = []
            if page:
                yield page

    try:
        yield Transport(run=run, errors=errors, where=where)
    finally:
        client.close()


def json_safe(value: Any) -> Any:
    """A value as JSON (the window query already gives text and numbers; this keeps a
    transport's stray types, tuples, addresses, dates, from reaching the landing)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    if isinstance(value, dict):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


# --- fetch ---------------------------------------------------------------------------------

_COMMENT_LINE = re.compile(r"^\s*--.*$\n?", re.MULTILINE)


def query_text(name: str) -> str:
    """``include/sql/sources/clickhouse_query_log/<name>`` without its ``--`` comment lines
    (so a client appending ``FORMAT ...`` cannot land inside a comment)."""
    from access_warehouse.warehouse import sql

    return _COMMENT_LINE.sub("", sql(f"{SQL}/{name}")).strip()


def window_query(present: list[str]) -> str:
    """The window query selecting the :data:`COLUMNS` that the table has (``present``).

    Every column is named through the table alias (``log.type``): a select alias of the same
    name (``toString(log.type) AS type``) would otherwise shadow it in WHERE and ORDER BY."""
    have = set(present)
    expressions = []
    for name, expression in COLUMNS.items():
        if name in have:
            expressions.append(f"{expression.format(f'log.{name}')} AS {name}")
        elif name == "hostname":  # older servers: the server answering is the one that logged
            expressions.append("hostName() AS hostname")
    return query_text("select_window.sql").replace("/*columns*/", ",\n       ".join(expressions))


def _bound(moment: datetime) -> str:
    """A window bound as the ``DateTime64(6, 'UTC')`` parameter text (microseconds kept)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def fetch_query_log(
    source: ClickhouseQueryLogSource,
    request: FetchRequest,
    *,
    connect: Connect = clickhouse_connect_transport,
) -> Iterator[Page]:
    """Pages of ``page_size`` rows of the window ``[start, end)`` on
    ``event_time_microseconds``, oldest first, streamed in one query."""
    window = request.window
    if window is None:
        raise ValueError(f"{KIND} extracts by time window: the request has none")
    database, table = source.table_parts
    with connect(source) as transport:
        wrap = with_source_errors(
            source.conn_id, f"reading {database}.{table} on ClickHouse at {transport.where}"
        )
        try:
            request.stats.requests += 1
            present = [
                row["name"]
                for page in transport.run(
                    query_text("table_columns.sql"),
                    {"database": database, "table": table},
                    source.page_size,
                )
                for row in page
            ]
            if not present:
                raise SourceUnavailable(
                    f"{database}.{table} (connection {source.conn_id!r}) does not exist or "
                    "cannot be seen: enable the query log (log_queries = 1) and grant SELECT "
                    "on it"
                )
            missing = [column for column in REQUIRED_COLUMNS if column not in present]
            if missing:
                raise SourceUnavailable(
                    f"{database}.{table} (connection {source.conn_id!r}) has no column "
                    f"{', '.join(missing)}: it is not a ClickHouse query log"
                )
            request.stats.requests += 1
            parameters = {
                "database": database,
                "table": table,
                "start": _bound(window.start),
                "end": _bound(window.end),
            }
            count = 0
            for rows in transport.run(window_query(present), parameters, source.page_size):
                count += len(rows)
                yield Page(records=rows, stream=f"{database}.{table}")
            request.stats.by_stream[f"{database}.{table}"] = count
        except transport.errors as exc:
            request.stats.connection_errors += 1
            raise wrap(exc) from None


# --- the kind ------------------------------------------------------------------------------

EXAMPLE: dict[str, Any] = {
    "name": "ch_prod",
    "conn_id": "clickhouse_prod",
    "server": "ch-prod",
    "lookback_minutes": 60,
    "identity": {"template": "{login}@contoso.com"},
    "exclude_logins": ["etl_reader"],
    "exclude_statement_classes": ["Set", "Use"],
}

register_kind(
    SourceKind(
        name=KIND,
        config=ClickhouseQueryLogSource,
        summary="a ClickHouse server's system.query_log: who ran which query on which tables",
        doc=DOC,
        example=EXAMPLE,
    )
)
