"""One csvlog row -> one access event, or the exclusion rule it falls under. Pure functions.

A row is the server's csvlog line as a dict of raw strings keyed by column name
(:data:`COLUMNS`), from a file or from a ``postgres_log`` table. :func:`classify` decides what a
line is; the feed's exclusion and the normaliser both use it, so a line is either an event or
counted under a ``not_access:*`` rule, never both and never silently neither.
"""

from __future__ import annotations

import csv
import io
import re
import socket
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from access_warehouse.contract import NormalisationError
from access_warehouse.sources.database import database_event, local_time

if TYPE_CHECKING:
    from access_warehouse.sources.database import DatabaseSource

#: csvlog columns in file order (PostgreSQL docs, "Using CSV-Format Log Output"). PostgreSQL 12
#: and older write the first 23, 13 adds ``backend_type``, 14 and later add the last two.
COLUMNS: tuple[str, ...] = (
    "log_time",
    "user_name",
    "database_name",
    "process_id",
    "connection_from",
    "session_id",
    "session_line_num",
    "command_tag",
    "session_start_time",
    "virtual_transaction_id",
    "transaction_id",
    "error_severity",
    "sql_state_code",
    "message",
    "detail",
    "hint",
    "internal_query",
    "internal_query_pos",
    "context",
    "query",
    "query_pos",
    "location",
    "application_name",
    "backend_type",
    "leader_pid",
    "query_id",
)
#: Column counts of the csvlog layouts: PG <= 12, PG 13, PG 14+.
LAYOUT_WIDTHS: frozenset[int] = frozenset({23, 24, 26})

#: The key of a line the reader could not split into columns (it lands with its text and is
#: quarantined with this reason).
UNREADABLE = "csvlog_error"

#: pgaudit's fields inside ``AUDIT: ...`` (pgaudit README, "Format"); ``rows`` with log_rows.
PGAUDIT_FIELDS: tuple[str, ...] = (
    "audit_type",
    "statement_id",
    "substatement_id",
    "class",
    "command",
    "object_type",
    "object_name",
    "statement",
    "parameter",
    "rows",
)
#: Fewer than these and the line is not pgaudit's format (a truncated or foreign message).
_PGAUDIT_MIN_FIELDS = 5

#: pgaudit object types -> the contract's target types (object-path types of resolve.py).
_OBJECT_TYPES = {
    "TABLE": "table",
    "TOAST TABLE": "table",
    "PARTITIONED TABLE": "table",
    "VIEW": "view",
    "MATERIALIZED VIEW": "materialized_view",
    "FOREIGN TABLE": "foreign_table",
    "SEQUENCE": "sequence",
    "FUNCTION": "function",
    "PROCEDURE": "procedure",
    "INDEX": "index",
    "PARTITIONED INDEX": "index",
    "TYPE": "type",
    "COMPOSITE TYPE": "type",
}

#: pg_hba.conf methods, to name the one a failed login's DETAIL line quotes.
_HBA_METHODS = frozenset(
    {
        "trust",
        "reject",
        "scram-sha-256",
        "md5",
        "password",
        "gss",
        "sspi",
        "ident",
        "peer",
        "ldap",
        "radius",
        "cert",
        "pam",
        "bsd",
    }
)
_HBA_DETAIL = re.compile(r'pg_hba\.conf line \d+: "(?P<line>.*)"', re.DOTALL)

#: Lines that are not access events, by the rule they are counted under (message prefixes).
_NOT_ACCESS_PREFIXES: tuple[tuple[str, str], ...] = (
    ("connection received:", "not_access:connection_received"),
    # logged just before "connection authorized" for password/cert logins: the same login,
    # so counting it too would make every login two events
    ("connection authenticated:", "not_access:connection_authenticated"),
    ("checkpoint starting:", "not_access:checkpoint"),
    ("checkpoint complete:", "not_access:checkpoint"),
    ("restartpoint", "not_access:checkpoint"),
)
#: The columns a record needs to be judged a csvlog row at all.
_ROW_SHAPE = ("log_time", "session_id", "session_line_num", "error_severity", "message")
_ERROR_SEVERITIES = frozenset({"ERROR", "FATAL", "PANIC"})

# The kinds of line that are events (what :func:`classify` returns besides ``not_access:*``).
CONNECT = "connect"
CONNECT_FAILED = "connect_failed"
DISCONNECT = "disconnect"
PGAUDIT = "pgaudit"
DENIED = "denied"


def _text(record: dict[str, Any], column: str) -> str:
    """A csvlog column as text ('' when absent); the rows are raw strings, anything else is a
    record of another shape."""
    value = record.get(column)
    if value is None:
        return ""
    if type(value) is not str:
        raise NormalisationError(f"{column} is {type(value).__name__}, not csvlog text")
    return value


def classify(record: dict[str, Any]) -> str:
    """What a csvlog line is: one of the event kinds above or a ``not_access:*`` rule."""
    message = _text(record, "message")
    severity = _text(record, "error_severity").upper()
    state = _text(record, "sql_state_code").upper()
    if message.startswith("AUDIT: "):
        return PGAUDIT
    if message.startswith(("connection authorized:", "replication connection authorized:")):
        return CONNECT
    if message.startswith("disconnection:"):
        return DISCONNECT
    # SQLSTATE class 28 (invalid authorization specification): 28P01 wrong password, 28000
    # no pg_hba.conf entry, unknown role, ... Only FATAL ends a login attempt.
    if severity == "FATAL" and state.startswith("28"):
        return CONNECT_FAILED
    # insufficient_privilege: a denied statement never reaches pgaudit (the permission check
    # fails before its hook runs), so this ERROR line is the only trace of the attempt.
    if severity == "ERROR" and state == "42501":
        return DENIED
    for prefix, rule in _NOT_ACCESS_PREFIXES:
        if message.startswith(prefix):
            return rule
    if severity in _ERROR_SEVERITIES:
        return "not_access:error"
    return "not_access:other"


def not_access_rule(record: dict[str, Any]) -> str | None:
    """The ``not_access:*`` rule of a line that is no access event, else None."""
    # only a csvlog row can be "not an access event"; anything else (an unreadable line, a
    # record of another shape) is quarantined by the normaliser with its reason
    if UNREADABLE in record or any(type(record.get(key)) is not str for key in _ROW_SHAPE):
        return None
    kind = classify(record)
    return kind if kind.startswith("not_access:") else None


def parse_pgaudit(message: str) -> dict[str, str | None]:
    """The fields of a pgaudit ``AUDIT: ...`` message (itself a CSV line: the statement is
    quoted when it holds commas, quotes or newlines)."""
    body = message.removeprefix("AUDIT: ")
    try:
        rows = list(csv.reader(io.StringIO(body, newline="")))
    except csv.Error as exc:
        raise NormalisationError(f"pgaudit message is not CSV: {exc}") from None
    if len(rows) != 1 or len(rows[0]) < _PGAUDIT_MIN_FIELDS:
        raise NormalisationError(
            f"pgaudit message has {sum(map(len, rows))} fields in {len(rows)} lines; "
            "expected AUDIT_TYPE,STATEMENT_ID,SUBSTATEMENT_ID,CLASS,COMMAND,..."
        )
    fields = rows[0]
    if len(fields) > len(PGAUDIT_FIELDS):
        # a newer pgaudit's extra fields are kept rather than dropped
        extra = fields[len(PGAUDIT_FIELDS) :]
        fields = fields[: len(PGAUDIT_FIELDS)]
    else:
        extra = []
    parsed: dict[str, str | None] = dict.fromkeys(PGAUDIT_FIELDS)
    parsed.update(zip(PGAUDIT_FIELDS, fields, strict=False))
    if extra:
        parsed["extra_fields"] = ",".join(extra)
    return parsed


def pgaudit_class(record: dict[str, Any]) -> str | None:
    """The pgaudit class of a line (READ, WRITE, DDL, ROLE, FUNCTION, MISC, ...), else None."""
    message = _text(record, "message")
    if not message.startswith("AUDIT: "):
        return None
    try:
        return parse_pgaudit(message)["class"] or None
    except NormalisationError:
        return None


_IDENT = re.compile(r'"(?:[^"]|"")*"|[^".(]+')


def split_object_name(name: str) -> tuple[str | None, str]:
    """``schema.object`` as pgaudit writes it (parts quoted when they need it) -> (schema,
    object), quotes removed; a function's argument list stays with the object. A name that is
    not two parts is the object alone."""
    parts: list[str] = []
    position = 0
    while position < len(name):
        match = _IDENT.match(name, position)
        if match is None:
            break
        part = match.group(0)
        parts.append(part[1:-1].replace('""', '"') if part.startswith('"') else part)
        position = match.end()
        if name.startswith(".", position) and len(parts) < 2:
            position += 1
            continue
        break
    rest = name[position:]
    if len(parts) == 2 and (not rest or rest.startswith("(")):
        return parts[0], parts[1] + rest
    return None, name


def source_ip(connection_from: str) -> str | None:
    """The client's address from ``host:port`` (``[local]`` and host names: None; the contract
    keeps addresses only, the text stays in ``properties.connection_from``)."""
    text = connection_from.strip()
    if not text or text == "[local]":
        return None
    host, sep, port = text.rpartition(":")
    if not (sep and port.isdigit()):
        host = text
    host = host.strip("[]")
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
    except (OSError, ValueError):
        return None
    return host


def hba_method(detail: str) -> str | None:
    """The pg_hba.conf method a failed login matched (its DETAIL quotes the line)."""
    match = _HBA_DETAIL.search(detail)
    if not match:
        return None
    for token in match.group("line").split():
        if token.lower() in _HBA_METHODS:
            return token.lower()
    return None


# "connection authorized: user=u database=d application_name=a[ SSL enabled (...)| GSS (...)]"
_CONNECT_APP = re.compile(r" application_name=(?P<app>.*?)(?: SSL enabled \(| GSS \(|$)", re.DOTALL)


def connect_application(message: str) -> str | None:
    """The application name a ``connection authorized`` message quotes: the line's own
    ``application_name`` column is still empty then (the setting applies after the login)."""
    match = _CONNECT_APP.search(message)
    return (match.group("app") or None) if match else None


_OFFSET_TAIL = re.compile(r"^(?P<head>.+\d) (?P<offset>[+-]\d{2}(?::?\d{2})?)$")


def log_time(value: Any, zone: ZoneInfo, field: str = "log_time") -> datetime:
    """A csvlog timestamp (``2026-11-20 10:15:30.123 UTC``) as aware UTC.

    The server writes its ``log_timezone``'s abbreviation. Where that is an IANA name (UTC,
    GMT, CET, EST) it says the offset by itself; a summer abbreviation (CEST, PDT) is not one,
    so it is read in the source's configured ``timezone`` with the DST fold whose abbreviation
    it is; zones without abbreviations print an offset (``+03``).
    """
    if type(value) is str:
        offset = _OFFSET_TAIL.match(value.strip())
        if offset:
            value = offset.group("head") + offset.group("offset")
    try:
        return local_time(value, zone, field)
    except NormalisationError as exc:
        if "unknown zone" not in str(exc):
            raise
    head, _, abbreviation = value.strip().rpartition(" ")
    naive = datetime.fromisoformat(head)  # parsed by local_time already: cannot fail
    for fold in (0, 1):
        moment = naive.replace(tzinfo=zone, fold=fold)
        if moment.tzname() == abbreviation:
            return moment.astimezone(UTC)
    raise NormalisationError(
        f"bad {field} {value!r}: zone {abbreviation!r} is neither a time zone name nor an "
        f"abbreviation of the configured timezone {zone.key!r} (set `timezone` to the server's "
        "log_timezone)"
    )


#: Columns that become contract columns, so are not repeated in ``properties``.
_MAPPED = frozenset({"log_time", "user_name", "database_name", "application_name"})


def _properties(record: dict[str, Any], consumed: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Every other field of the line; empty csvlog fields say nothing, so are left out."""
    return {
        key: value
        for key, value in record.items()
        if key not in _MAPPED and key not in consumed and value not in ("", None)
    }


def normalise_csvlog(
    source: DatabaseSource, record: dict[str, Any], source_id: str
) -> dict[str, Any]:
    """One csvlog line -> one access event (see the kind's doc for the mapping table)."""
    if UNREADABLE in record:
        where = f"{record.get('file')}:{record.get('line_number')}" if "file" in record else ""
        raise NormalisationError(f"unreadable csvlog line {where}: {record[UNREADABLE]}")
    session_id = _text(record, "session_id").strip()
    line_num = _text(record, "session_line_num").strip()
    if not session_id:
        raise NormalisationError("missing session_id")
    if not line_num.isdigit():
        raise NormalisationError(f"bad session_line_num {line_num!r}: not a number")
    occurred_at = log_time(record.get("log_time"), source.zone)
    kind = classify(record)
    if kind.startswith("not_access:"):
        raise NormalisationError(f"not an access event ({kind}); the feed's exclusion counts it")
    login = _text(record, "user_name") or None
    common: dict[str, Any] = {
        "event_id": f"{session_id}:{int(line_num)}",
        "occurred_at": occurred_at,
        "login": login,
        "database": _text(record, "database_name") or None,
        "source_ip": source_ip(_text(record, "connection_from")),
        "client_app": _text(record, "application_name") or None,
    }
    if kind == CONNECT:
        common["client_app"] = common["client_app"] or connect_application(_text(record, "message"))
        return database_event(
            source,
            source_id,
            category="authentication",
            action="connect",
            outcome="success",
            properties=_properties(record),
            **common,
        )
    if kind == DISCONNECT:
        return database_event(
            source,
            source_id,
            category="authentication",
            action="disconnect",
            outcome="success",
            properties=_properties(record),
            **common,
        )
    if kind == CONNECT_FAILED:
        return database_event(
            source,
            source_id,
            category="authentication",
            action="connect",
            outcome="failure",
            error_code=_text(record, "sql_state_code"),
            failure_reason=_text(record, "message"),
            auth_method=hba_method(_text(record, "detail")),
            properties=_properties(record, frozenset({"sql_state_code", "message"})),
            **common,
        )
    if kind == DENIED:
        properties = _properties(record, frozenset({"sql_state_code", "message", "query"}))
        if _text(record, "query"):
            properties["statement"] = _text(record, "query")
        return database_event(
            source,
            source_id,
            category="database",
            action=_text(record, "command_tag").strip() or "unknown",
            outcome="failure",
            error_code=_text(record, "sql_state_code"),
            failure_reason=_text(record, "message"),
            properties=properties,
            **common,
        )
    audit = parse_pgaudit(_text(record, "message"))
    command = (audit["command"] or "").strip()
    if not command:
        raise NormalisationError("pgaudit line without a COMMAND")
    properties = _properties(record, frozenset({"message"}))
    properties.update({key: value for key, value in audit.items() if value not in ("", None)})
    object_type = (audit["object_type"] or "").strip().upper()
    object_name = (audit["object_name"] or "").strip()
    schema, name = split_object_name(object_name) if object_name else (None, None)
    if object_type == "SCHEMA" and object_name:
        schema, name = object_name.strip('"'), None
    return database_event(
        source,
        source_id,
        category="database",
        action=command,
        # pgaudit logs a statement when it starts, not whether it succeeded; a failure is a
        # separate ERROR line of the same session, which a per-line mapping cannot join
        outcome="unknown",
        schema=schema,
        object_name=name,
        object_type=_OBJECT_TYPES.get(object_type, "object"),
        properties=properties,
        **common,
    )
