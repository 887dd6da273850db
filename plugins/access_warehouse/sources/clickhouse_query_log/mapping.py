"""One ``system.query_log`` row -> one access event, or the exclusion rule it falls under.

Pure functions. A record is one row as the fetch lands it: the columns of :data:`COLUMNS`
that the server has, keyed by column name, with times as ISO 8601 UTC text, addresses as text
and arrays as lists (the window query converts them, so every transport lands the same JSON).
"""

from __future__ import annotations

import ipaddress
import re
from typing import TYPE_CHECKING, Any

from access_warehouse.contract import NormalisationError
from access_warehouse.normalise import clean_text
from access_warehouse.sources.database import database_event, local_time

if TYPE_CHECKING:
    from access_warehouse.sources.database import DatabaseSource

_UTC_TEXT = "'%Y-%m-%dT%H:%i:%S.%fZ', 'UTC'"

#: The columns the kind reads (ClickHouse docs, "system.query_log"), each with the expression
#: (``{}`` is the column) that turns it into JSON-safe text or numbers the same way whatever
#: the client. Columns a
#: server version lacks are skipped (``hostname`` falls back to ``hostName()``); the fetch
#: refuses a table without :data:`REQUIRED_COLUMNS`.
COLUMNS: dict[str, str] = {
    "hostname": "{}",
    "type": "toString({})",
    "event_time_microseconds": f"formatDateTime({{}}, {_UTC_TEXT})",
    "query_start_time_microseconds": (f"formatDateTime({{}}, {_UTC_TEXT})"),
    "query_duration_ms": "{}",
    "query_id": "{}",
    "initial_query_id": "{}",
    "is_initial_query": "{}",
    "is_internal": "{}",
    "distributed_depth": "{}",
    "user": "{}",
    "initial_user": "{}",
    "authenticated_user": "{}",
    "address": "toString({})",
    "port": "{}",
    "initial_address": "toString({})",
    "initial_port": "{}",
    "forwarded_for": "{}",
    "interface": "toString({})",
    "is_secure": "{}",
    "os_user": "{}",
    "client_hostname": "{}",
    "client_name": "{}",
    "client_version_major": "{}",
    "client_version_minor": "{}",
    "client_version_patch": "{}",
    "http_method": "toString({})",
    "http_user_agent": "{}",
    "http_referer": "{}",
    "quota_key": "{}",
    "current_database": "{}",
    "query_kind": "toString({})",
    "databases": "{}",
    "tables": "{}",
    "columns": "{}",
    "views": "{}",
    "used_privileges": "{}",
    "missing_privileges": "{}",
    "exception_code": "{}",
    "exception": "{}",
    "query": "{}",
    "normalized_query_hash": "toString({})",
    "read_rows": "{}",
    "read_bytes": "{}",
    "written_rows": "{}",
    "written_bytes": "{}",
    "result_rows": "{}",
    "result_bytes": "{}",
    "log_comment": "{}",
}
#: Without these a row gives no event (its key, time, outcome, actor or statement).
REQUIRED_COLUMNS: tuple[str, ...] = (
    "type",
    "event_time_microseconds",
    "event_time",
    "event_date",
    "query_id",
    "user",
    "query_kind",
    "query",
    "exception_code",
)

QUERY_FINISH = "QueryFinish"
QUERY_START = "QueryStart"
#: ``type`` -> outcome (the Enum8 of system.query_log; QueryStart rows are not events).
OUTCOMES: dict[str, str] = {
    QUERY_FINISH: "success",
    "ExceptionBeforeStart": "failure",
    "ExceptionWhileProcessing": "failure",
}

# CREATE/ALTER/DROP of an access entity: ClickHouse logs ALTER USER with query_kind Create,
# so the statement's own words name the action (`ALTER USER`), not the query kind.
_ACCESS_ENTITY = re.compile(
    r"^\s*(?:(?:--[^\n]*(?:\n|$)|/\*.*?\*/)\s*)*"
    r"(?P<verb>CREATE|ALTER|DROP)\s+(?:OR\s+REPLACE\s+)?"
    r"(?P<entity>USER|ROLE|QUOTA|ROW\s+POLICY|POLICY|SETTINGS\s+PROFILE|PROFILE|"
    r"NAMED\s+COLLECTION)\b",
    re.IGNORECASE | re.DOTALL,
)
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")

#: Columns that become contract columns (or the event id), so are not repeated in properties.
_MAPPED = frozenset({"event_time_microseconds", "query", "exception_code", "exception"})


def _text(record: dict[str, Any], column: str) -> str:
    """A text column ('' when absent or NULL); any other type is a record of another shape."""
    value = record.get(column)
    if value is None:
        return ""
    if type(value) is not str:
        raise NormalisationError(f"{column} is {type(value).__name__}, not text")
    return value


def _flag(record: dict[str, Any], column: str) -> bool | None:
    value = record.get(column)
    if type(value) is bool:
        return value
    if type(value) is int and value in (0, 1):
        return bool(value)
    return None


def _names(record: dict[str, Any], column: str) -> list[str]:
    value = record.get(column)
    if value is None:
        return []
    if not isinstance(value, list) or any(type(item) is not str for item in value):
        raise NormalisationError(f"{column} is not a list of names")
    return [item for item in value if item]


def not_access_rule(record: dict[str, Any]) -> str | None:
    """The ``not_access:*`` rule of a row that is no access event, else None.

    - ``not_access:query_start``: a QueryStart row (the window query does not read them; a
      table filled otherwise may hold them), its QueryFinish or exception row is the event;
    - ``not_access:internal``: a query the server ran itself (``is_internal``: e.g. the
      ``SELECT ... FROM system.tables`` a ``SHOW TABLES`` runs), the user's own is the event.
    """
    if record.get("type") == QUERY_START:
        return "not_access:query_start"
    if _flag(record, "is_internal"):
        return "not_access:internal"
    return None


def login_of(record: dict[str, Any]) -> str | None:
    """Who ran the query: ``user``; for a secondary query of a distributed query
    (``is_initial_query`` 0) the ``initial_user`` who sent the initial query, because the
    shard-side ``user`` is often the cluster's interserver user, not the person."""
    user = record.get("user")
    initial = record.get("initial_user")
    if _flag(record, "is_initial_query") is False and type(initial) is str and initial.strip():
        return clean_text(initial)
    return clean_text(user) if type(user) is str else None


def action_of(record: dict[str, Any]) -> str:
    """``query_kind`` as words in upper case (``Select`` -> ``SELECT``, ``KillQuery`` ->
    ``KILL QUERY``); CREATE/ALTER/DROP of a user, role, quota, row policy, settings profile or
    named collection as the statement names it (``ALTER USER``); ``unknown`` when the server
    could not parse the statement (``query_kind`` empty)."""
    kind = _text(record, "query_kind").strip()
    if kind in ("Create", "Alter", "Drop"):
        match = _ACCESS_ENTITY.match(_text(record, "query"))
        if match:
            entity = " ".join(match.group("entity").upper().split())
            return f"{match.group('verb').upper()} {entity}"
    if not kind or kind == "None":
        return "unknown"
    return _CAMEL.sub(" ", kind).upper()


def source_ip(value: Any) -> str | None:
    """An address column as text: IPv4-mapped IPv6 (``::ffff:10.0.0.1``) as the IPv4 address;
    the unspecified address ``::`` (no client: an internal or background query) as None."""
    if type(value) is not str or not value.strip():
        return None
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_unspecified:
        return None
    return str(address)


def event_id_of(record: dict[str, Any], moment_text: str) -> str:
    """``<event_time_microseconds>|<type>|<hostname>|<query_id>``: a query id is unique per
    query only as far as clients keep it so (a client may send its own, and reuse it), so the
    server, the row type and the exact time make the key; the query id goes last, as the
    only part that may contain ``|``."""
    query_id = _text(record, "query_id")
    if not query_id:
        raise NormalisationError("missing query_id")
    return f"{moment_text}|{_text(record, 'type')}|{_text(record, 'hostname')}|{query_id}"


def _target(record: dict[str, Any]) -> tuple[str | None, str | None]:
    """(database, table) of the first of ``tables`` (``db.table``; the database part is the
    longest of ``databases`` it starts with, else up to the first dot), else (the first of
    ``databases``, None), else (None, None)."""
    tables = _names(record, "tables")
    databases = _names(record, "databases")
    if tables:
        first = tables[0]
        known = [name for name in databases if first.startswith(f"{name}.")]
        if known:
            database = max(known, key=len)
            return database, first[len(database) + 1 :]
        database, dot, table = first.partition(".")
        return (database, table) if dot else (None, first)
    if databases:
        return databases[0], None
    return None, None


def _first_line(text: str) -> str | None:
    line = text.strip().splitlines()[0].strip() if text.strip() else ""
    return line or None


def _properties(record: dict[str, Any], consumed: set[str]) -> dict[str, Any]:
    """Every other column; empty text and empty lists say nothing, so are left out."""
    return {
        key: value
        for key, value in record.items()
        if key not in _MAPPED and key not in consumed and value not in ("", None, [])
    }


def normalise_query_log(
    source: DatabaseSource, record: dict[str, Any], source_id: str
) -> dict[str, Any]:
    """One query_log row -> one access event (see the kind's doc for the mapping table)."""
    row_type = _text(record, "type")
    if row_type == QUERY_START:
        raise NormalisationError(
            "not an access event (not_access:query_start); the feed's exclusion counts it"
        )
    if row_type not in OUTCOMES:
        raise NormalisationError(
            f"unknown type {row_type!r}: expected one of {', '.join(sorted(OUTCOMES))}"
        )
    moment_text = _text(record, "event_time_microseconds").strip()
    if not moment_text:
        raise NormalisationError("missing event_time_microseconds")
    occurred_at = local_time(moment_text, source.zone, "event_time_microseconds")
    event_id = event_id_of(record, moment_text)
    outcome = OUTCOMES[row_type]
    code = record.get("exception_code")
    if code is not None and (type(code) is not int):
        raise NormalisationError(f"exception_code is {type(code).__name__}, not a number")
    login = login_of(record)
    consumed: set[str] = set()
    if login and login == clean_text(record.get("user")):
        consumed.add("user")
    address = source_ip(record.get("address"))
    if address is not None:
        consumed.add("address")
    client = None
    for column in ("client_name", "http_user_agent"):  # native clients, else HTTP ones
        client = _text(record, column).strip() or None
        if client:
            consumed.add(column)
            break
    database, table = _target(record)
    properties = _properties(record, consumed)
    statement = _text(record, "query")
    if statement:
        properties["statement"] = statement
    failure_reason = None
    if outcome == "failure":
        exception = _text(record, "exception")
        failure_reason = _first_line(exception)
        if exception.strip() and exception.strip() != failure_reason:
            properties["exception"] = exception  # the rest of a multi-line message
    elif code:
        properties["exception_code"] = code
    return database_event(
        source,
        source_id,
        event_id=event_id,
        occurred_at=occurred_at,
        category="database",
        action=action_of(record),
        outcome=outcome,
        login=login,
        properties=properties,
        database=database,
        object_name=table,
        object_type="table",
        source_ip=address,
        client_app=client,
        error_code=str(code) if outcome == "failure" and code is not None else None,
        failure_reason=failure_reason,
    )
