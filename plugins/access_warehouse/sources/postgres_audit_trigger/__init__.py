"""Source kind ``postgres_audit_trigger``: the audit-trigger trail ``audit.logged_actions``.

The mapping to the access-event contract, the selection and the privileges it needs are in
``doc.md`` (the kind's doc). Fetching uses psycopg, imported only when a task runs: DAG files
import this module to parse.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from access_warehouse.contract import NormalisationError
from access_warehouse.normalise import clean_text
from access_warehouse.sources.base import (
    Bookmark,
    Fetcher,
    FetchRequest,
    Normaliser,
    Page,
    Position,
    SourceKind,
)
from access_warehouse.sources.database import (
    DatabaseSource,
    QualifiedName,
    SourceUnavailable,
    database_event,
    local_time,
    postgres_conninfo,
    split_qualified,
    with_source_errors,
)
from access_warehouse.sources.registry import register_kind

KIND = "postgres_audit_trigger"
DOC = Path(__file__).with_name("doc.md").read_text()
SQL = f"sources/{KIND}"

#: The trail's action letters and the words the events (and statement-class exclusions) use.
ACTIONS: dict[str, str] = {"I": "INSERT", "U": "UPDATE", "D": "DELETE", "T": "TRUNCATE"}
#: Times of a trail row, best first: when the trigger ran, else the statement, else the
#: transaction start (forks that dropped the clock column).
TIME_FIELDS: tuple[str, ...] = ("action_tstamp_clk", "action_tstamp_stm", "action_tstamp_tx")
#: Record fields that become contract columns; every other field goes to ``properties``.
COLUMN_FIELDS: frozenset[str] = frozenset(
    {
        "event_id",
        "action_tstamp_clk",
        "action",
        "session_user_name",
        "schema_name",
        "table_name",
        "client_addr",
        "application_name",
        "client_query",
        "database",
    }
)
#: Columns of the trail the reader selects (``row_data`` only with ``include_row_data``).
READ_COLUMNS: tuple[str, ...] = (
    "event_id",
    "schema_name",
    "table_name",
    "relid",
    "session_user_name",
    "action_tstamp_tx",
    "action_tstamp_stm",
    "action_tstamp_clk",
    "transaction_id",
    "application_name",
    "client_addr",
    "client_port",
    "client_query",
    "action",
    "statement_only",
    "changed_fields",
)
#: The bookmark before the first load: below any bigserial value, and no transaction to re-read.
START: Position = {"cursor": -(2**63), "xmin": 0}
#: Seconds to wait for the source server to answer, unless the connection sets its own.
CONNECT_TIMEOUT_S = 30


class PostgresAuditTriggerSource(DatabaseSource):
    """A database whose audited tables write ``audit.logged_actions`` (see ``doc.md``)."""

    kind: Literal["postgres_audit_trigger"]
    #: Where the trail is: ``schema.table`` of plain identifiers, quoted by the driver.
    table: QualifiedName = "audit.logged_actions"
    #: The database's name in config-item paths (default: the database the connection reads).
    database: str | None = Field(None, min_length=1, max_length=63)
    #: Copy the rows' values (``row_data``, ``changed_fields``) into ``properties``: off, because
    #: an access warehouse must not copy table contents such as password hashes.
    include_row_data: bool = False

    def selection(self) -> Bookmark:
        return Bookmark(cursor="event_id", tiebreak="transaction_id >= previous snapshot xmin")

    def fetcher(self) -> Fetcher:
        return partial(fetch_actions, self)

    def normaliser(self) -> Normaliser:
        return partial(normalise_action, self)

    def kind_doc(self) -> str:
        values = (
            "row values copied (`include_row_data: true`)"
            if self.include_row_data
            else "row values not copied, changed column names only"
        )
        return (
            f"Trail `{self.table}` of database `{self.database or '(the connection database)'}`;"
            f" {values}.\n\n{DOC}"
        )

    def login_of(self, record: dict[str, Any]) -> str | None:
        return clean_text(record.get("session_user_name"))

    def statement_class_of(self, record: dict[str, Any]) -> str | None:
        return _action_word(record.get("action"))


# --- fetch ---------------------------------------------------------------------------------


def _read_query(source: PostgresAuditTriggerSource) -> Any:
    from psycopg import sql

    from access_warehouse.warehouse import sql as sql_file

    columns = (*READ_COLUMNS, "row_data") if source.include_row_data else READ_COLUMNS
    payload = "row_values.sql" if source.include_row_data else "changed_field_names.sql"
    return sql.SQL(sql_file(f"{SQL}/read_actions.sql")).format(  # type: ignore[arg-type]
        table=sql.Identifier(*split_qualified(source.table)),
        columns=sql.SQL(", ").join(sql.Identifier("la", column) for column in columns),
        payload=sql.SQL(sql_file(f"{SQL}/{payload}").strip()),  # type: ignore[arg-type]
    )


def _server_of(conninfo: str) -> str:
    """``host:port`` of a connection string, for messages (never its password)."""
    from psycopg.conninfo import conninfo_to_dict

    params = conninfo_to_dict(conninfo)
    host = params.get("host") or params.get("hostaddr") or "localhost"
    return f"{host}:{params.get('port') or 5432}"


def fetch_actions(source: PostgresAuditTriggerSource, request: FetchRequest) -> Iterator[Page]:
    """Pages of trail rows after ``request.after`` (see the doc's "Selection"), each with the
    position ``{"cursor": <largest event_id so far>, "xmin": <this read's snapshot xmin>}``."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    from access_warehouse.warehouse import sql as sql_file

    after = {**START, **(request.after or {})}
    cursor, xmin = int(after["cursor"]), int(after["xmin"])
    try:
        conninfo = postgres_conninfo(source.conn_id)
    except Exception as exc:  # an undefined or unreadable Airflow connection
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise SourceUnavailable(f"connection {source.conn_id!r} cannot be read: {first}") from None
    if "connect_timeout" not in conninfo_to_dict(conninfo):
        conninfo = make_conninfo(conninfo, connect_timeout=CONNECT_TIMEOUT_S)
    wrap = with_source_errors(
        source.conn_id, f"cannot read {source.table} on {_server_of(conninfo)}"
    )
    query = _read_query(source)
    try:
        request.stats.requests += 1
        try:
            conn = psycopg.connect(conninfo, autocommit=True)
        except psycopg.Error:
            request.stats.connection_errors += 1
            raise
        with conn:
            conn.execute(sql_file(f"{SQL}/session.sql"))  # type: ignore[arg-type]
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            conn.read_only = True
            with conn.transaction():
                # the first statement fixes the snapshot: its xmin and the rows read agree
                snapshot = conn.execute(sql_file(f"{SQL}/snapshot.sql")).fetchone()  # type: ignore[arg-type]
                snapshot_xmin = int(snapshot[0])  # type: ignore[index]
                with conn.cursor(name="access_warehouse_audit_trigger") as rows:
                    rows.itersize = source.page_size
                    rows.execute(query, {"cursor": cursor, "xmin": xmin})
                    while page := rows.fetchmany(source.page_size):
                        request.stats.requests += 1
                        # re-read rows (at or below the cursor) come first: never move it back
                        cursor = max(cursor, page[-1][0])
                        yield Page(
                            records=[record for _, record in page],
                            position={"cursor": cursor, "xmin": snapshot_xmin},
                        )
    except psycopg.Error as exc:
        raise wrap(exc) from None  # the driver's error can be long; its first line says why


# --- normalise -----------------------------------------------------------------------------


def _action_word(letter: Any) -> str | None:
    return ACTIONS.get(letter.strip().upper()) if type(letter) is str else None


def _host(value: Any) -> str | None:
    """The IP address of ``client_addr`` (``host()`` already, or ``inet`` text with a mask);
    None for a local socket or anything that is no address."""
    text = clean_text(value)
    if text is None:
        return None
    text = text.split("/", 1)[0]
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in text else socket.AF_INET, text)
    except (OSError, ValueError):
        return None
    return text


def _event_id(value: Any) -> str:
    if type(value) is int:
        return str(value)
    text = clean_text(value)
    if text is None:
        raise NormalisationError("missing event_id")
    if not text.strip().lstrip("-").isdigit():
        raise NormalisationError(f"bad event_id {text[:100]!r}: not an integer")
    return text.strip()


def normalise_action(
    source: PostgresAuditTriggerSource, record: dict[str, Any], source_id: str
) -> dict[str, Any]:
    """One trail row -> one access event (the mapping table in ``doc.md``)."""
    event_id = _event_id(record.get("event_id"))
    field = next((name for name in TIME_FIELDS if record.get(name) not in (None, "")), None)
    if field is None:
        raise NormalisationError("missing action_tstamp_clk (and action_tstamp_stm, _tx)")
    occurred_at = local_time(record[field], source.zone, field)
    action = _action_word(record.get("action"))
    if action is None:
        raise NormalisationError(
            f"unknown action {record.get('action')!r}: the trail writes I, U, D or T"
        )
    reported_database = clean_text(record.get("database"))
    database = source.database or reported_database
    properties = {key: value for key, value in record.items() if key not in COLUMN_FIELDS}
    if "client_query" in record:
        properties["statement"] = record["client_query"]
    if reported_database and reported_database != database:
        properties["database"] = reported_database  # configured name wins; keep what it said
    client_addr = record.get("client_addr")
    source_ip = _host(client_addr)
    if client_addr is not None and source_ip is None:
        properties["client_addr"] = client_addr  # not an address: kept, not put in a column
    return database_event(
        source,
        source_id,
        event_id=event_id,
        occurred_at=occurred_at,
        category="database",
        action=action,
        outcome="success",  # a trail row exists only for committed work
        login=clean_text(record.get("session_user_name")),
        properties=properties,
        database=database,
        schema=clean_text(record.get("schema_name")),
        object_name=clean_text(record.get("table_name")),
        object_type="table",
        source_ip=source_ip,
        client_app=clean_text(record.get("application_name")),
    )


POSTGRES_AUDIT_TRIGGER = register_kind(
    SourceKind(
        name=KIND,
        config=PostgresAuditTriggerSource,
        summary=(
            "PostgreSQL row changes from the audit-trigger trail audit.logged_actions "
            "(hstore or jsonb), read forward by event_id, late commits included"
        ),
        doc=DOC,
        example={
            "name": "app_trail",
            "conn_id": "app_db",
            "server": "db-prod",
            "database": "app",
            "identity": {"template": "{login}@contoso.com"},
            "exclude_logins": ["replicator"],
        },
    )
)
