"""One server_audit line -> one access event, or the exclusion rule it falls under. Pure.

A record is one line of the MariaDB audit plugin's file output as a dict of raw strings keyed
by the docs' field names (:data:`FIELDS`), with the object (the query text of QUERY lines)
unquoted and unescaped; from a file (:func:`parse_line`) or from a table the lines were loaded
into. :func:`classify` decides what a line is; the feed's exclusion and the normaliser both use
it, so a line is either an event or counted under a ``not_access:*`` rule, never both and never
silently neither.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from access_warehouse.contract import NormalisationError
from access_warehouse.sources.database import database_event

if TYPE_CHECKING:
    from access_warehouse.sources.database import DatabaseSource

#: The fields of a line, in file order (MariaDB docs, "Audit Plugin Log Format").
FIELDS: tuple[str, ...] = (
    "timestamp",
    "serverhost",
    "username",
    "host",
    "connectionid",
    "queryid",
    "operation",
    "database",
    "object",
    "retcode",
)

#: The key of a line the reader could not split into fields (it lands with its file, line
#: number and text, and is quarantined with this reason).
UNREADABLE = "server_audit_error"

#: How the plugin writes the time (the server's local time, no zone): ``20261120 10:15:30``.
TIME_FORMAT = "%Y%m%d %H:%M:%S"

# Operations, by the event type of ``server_audit_events`` that logs them.
CONNECTION_OPERATIONS = frozenset(
    {"CONNECT", "FAILED_CONNECT", "DISCONNECT", "CHANGEUSER", "PROXY_CONNECT"}
)
QUERY_OPERATIONS = frozenset({"QUERY"})
TABLE_OPERATIONS = frozenset({"READ", "WRITE", "CREATE", "ALTER", "RENAME", "DROP"})
OPERATIONS = CONNECTION_OPERATIONS | QUERY_OPERATIONS | TABLE_OPERATIONS

#: Tables the server itself reads and writes when a statement opens, renames or drops a table
#: (engine-independent statistics): a TABLE line of these under the user's name is the server's
#: doing, not the user's access (a user's own query of them is still its QUERY event).
STATISTICS_TABLES = frozenset({"table_stats", "column_stats", "index_stats"})
#: The server's own log tables (log_output=TABLE): every statement the general log records is
#: also a WRITE of mysql.general_log under its user's name. Reading them is still access.
SERVER_LOG_TABLES = frozenset({"general_log", "slow_log"})

# "<timestamp>,<serverhost>,<username>,<host>,<connectionid>,<queryid>,<operation>,<rest>,
# <retcode>": the plain fields from the left (a user name may hold commas: the lazy match takes
# the first split after which host, the two ids and the operation fit), the retcode from the
# right (empty on TABLE lines); database and object are split in ``rest`` by the operation.
_LINE = re.compile(
    r"(?P<timestamp>\d{8} \d{2}:\d{2}:\d{2}),(?P<serverhost>[^,]*),(?P<username>.*?),"
    r"(?P<host>[^,]*),(?P<connectionid>\d+),(?P<queryid>-?\d+),(?P<operation>[A-Z_]+),"
    r"(?P<rest>.*),(?P<retcode>-?\d*)",
    re.DOTALL,
)

#: The plugin's escapes inside the quoted object (server_audit.c ``esc_map``).
_ESCAPES = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", "'": "'", "\\": "\\"}


def unescape_object(quoted: str) -> str:
    """The text of a quoted object (``'SELECT \\'a, b\\''``) as the client sent it.

    The plugin writes the statement between single quotes with ``\\'``, ``\\\\``, ``\\n``,
    ``\\r``, ``\\t``, ``\\b``, ``\\f`` escaped; commas and double quotes are written as they
    are. ``ValueError`` when the text is not one such quoted string (an unescaped quote inside,
    or an unknown escape)."""
    if len(quoted) < 2 or quoted[0] != "'" or quoted[-1] != "'":
        raise ValueError("the object of a QUERY line is not single-quoted")
    body = quoted[1:-1]
    out: list[str] = []
    position = 0
    while position < len(body):
        slash = body.find("\\", position)
        quote = body.find("'", position)
        if quote != -1 and (slash == -1 or quote < slash):
            raise ValueError(f"unescaped quote at character {quote + 1} of the object")
        if slash == -1:
            out.append(body[position:])
            break
        out.append(body[position:slash])
        if slash + 1 >= len(body):
            raise ValueError("the object ends in a lone backslash")
        escaped = body[slash + 1]
        if escaped not in _ESCAPES:
            raise ValueError(f"unknown escape \\{escaped} in the object")
        out.append(_ESCAPES[escaped])
        position = slash + 2
    return "".join(out)


def parse_line(line: str) -> dict[str, str]:
    """One line of the plugin's file (without its newline) -> its fields, or
    ``{server_audit_error: why}``."""
    match = _LINE.fullmatch(line)
    if match is None:
        return {
            UNREADABLE: "not a server_audit line: expected timestamp (YYYYMMDD HH:MM:SS),"
            "serverhost,username,host,connectionid,queryid,operation,database,object,retcode"
        }
    fields = match.groupdict()
    rest = fields.pop("rest")
    if fields["operation"] in QUERY_OPERATIONS:
        # the object is quoted; the database (which may hold a comma) is what precedes it
        split = rest.find(",'")
        if split == -1:
            return {UNREADABLE: "QUERY line without a quoted object"}
        database, quoted = rest[:split], rest[split + 1 :]
        try:
            fields["object"] = unescape_object(quoted)
        except ValueError as exc:
            return {UNREADABLE: f"QUERY line: {exc}"}
    elif fields["operation"] in TABLE_OPERATIONS:
        # database,table (neither quoted: a comma in either name is ambiguous; the first wins)
        database, sep, table = rest.partition(",")
        if not sep:
            return {UNREADABLE: f"{fields['operation']} line without database,table"}
        fields["object"] = table
    else:
        # connection lines: database and an empty object; unknown operations: the same shape
        database, sep, obj = rest.rpartition(",")
        if not sep:
            return {UNREADABLE: f"{fields['operation']} line without database,object"}
        fields["object"] = obj
    fields["database"] = database
    return {name: fields[name] for name in FIELDS}


def _text(record: dict[str, Any], field: str) -> str:
    """A field as text ('' when absent); records are raw strings, anything else is a record of
    another shape."""
    value = record.get(field)
    if value is None:
        return ""
    if type(value) is not str:
        raise NormalisationError(f"{field} is {type(value).__name__}, not server_audit text")
    return value


def log_time(value: Any, zone: ZoneInfo, field: str = "timestamp") -> datetime:
    """``20261120 10:15:30`` (the server's local time) read in ``zone``, as aware UTC. In the
    hour a DST change repeats, the first of the two readings is taken (``fold=0``)."""
    if type(value) is not str or not value.strip():
        raise NormalisationError(f"missing {field}")
    try:
        naive = datetime.strptime(value.strip(), TIME_FORMAT)
    except ValueError:
        raise NormalisationError(
            f"bad {field} {value!r}: not a server_audit time (YYYYMMDD HH:MM:SS)"
        ) from None
    return naive.replace(tzinfo=zone).astimezone(UTC)


# --- what a line is ----------------------------------------------------------------------

_RECORD_SHAPE = ("timestamp", "connectionid", "queryid", "operation")


def classify(record: dict[str, Any]) -> str:
    """``connection``, ``query``, ``table``, ``unknown_operation``, or a ``not_access:*`` rule."""
    operation = _text(record, "operation").strip().upper()
    if operation in CONNECTION_OPERATIONS:
        return "connection"
    if operation in QUERY_OPERATIONS:
        return "query"
    if operation in TABLE_OPERATIONS:
        if (
            _text(record, "database").lower() == "mysql"
            and _text(record, "object").lower() in STATISTICS_TABLES
            and operation in ("READ", "WRITE")
        ):
            return "not_access:statistics_tables"
        if (
            _text(record, "database").lower() == "mysql"
            and _text(record, "object").lower() in SERVER_LOG_TABLES
            and operation == "WRITE"
        ):
            return "not_access:server_log_tables"
        return "table"
    return "unknown_operation"


def not_access_rule(record: dict[str, Any]) -> str | None:
    """The ``not_access:*`` rule of a line that is no access event, else None."""
    # only a server_audit line can be "not an access event"; anything else (an unreadable
    # line, a record of another shape) is quarantined by the normaliser with its reason
    if UNREADABLE in record or any(type(record.get(key)) is not str for key in _RECORD_SHAPE):
        return None
    kind = classify(record)
    return kind if kind.startswith("not_access:") else None


# --- the statement's action ----------------------------------------------------------------

_WORD = re.compile(r"[A-Za-z_]+")
_COMMENT = re.compile(r"\s+|/\*(?!!).*?(?:\*/|$)|/\*!\d*|(?:--\s|#)[^\n]*|\(", re.DOTALL)
#: What CREATE / ALTER / DROP / RENAME act on (the action names it: ``CREATE USER``).
_OBJECT_TYPES = frozenset(
    {
        "DATABASE",
        "SCHEMA",
        "TABLE",
        "VIEW",
        "INDEX",
        "USER",
        "ROLE",
        "PROCEDURE",
        "FUNCTION",
        "TRIGGER",
        "EVENT",
        "SEQUENCE",
        "SERVER",
        "TABLESPACE",
        "PACKAGE",
        "LOGFILE",
    }
)
_DDL_VERBS = frozenset({"CREATE", "ALTER", "DROP", "RENAME"})
#: How many words after the verb may precede the object type (OR REPLACE, DEFINER = x, ...).
_DDL_LOOKAHEAD = 8


def _words(statement: str, limit: int) -> list[str]:
    """The first ``limit`` keywords of a statement, upper-case, comments and '(' skipped."""
    position = 0
    while True:
        skip = _COMMENT.match(statement, position)
        if not skip or skip.end() == position:
            break
        position = skip.end()
    words = []
    for match in _WORD.finditer(statement, position):
        words.append(match.group(0).upper())
        if len(words) >= limit:
            break
    return words


def statement_action(statement: str) -> str:
    """The action of a statement: its first keyword (``SELECT``, ``INSERT``, ``GRANT``), with
    the object type for DDL (``CREATE USER``, ``DROP TABLE``) and ``SET PASSWORD``; ``SET
    STATEMENT ... FOR`` is skipped as the plugin does. ``unknown`` for no keyword."""
    words = _words(statement, 64)
    if words[:2] == ["SET", "STATEMENT"] and "FOR" in words:
        words = words[words.index("FOR") + 1 :]
    if not words:
        return "unknown"
    verb = words[0]
    if verb in _DDL_VERBS:
        for word in words[1 : 1 + _DDL_LOOKAHEAD]:
            if word in _OBJECT_TYPES:
                return f"{verb} {word}"
    if verb == "SET" and words[1:2] == ["PASSWORD"]:
        return "SET PASSWORD"
    return verb


# --- outcomes ------------------------------------------------------------------------------

#: Server error numbers an access review meets, with what they mean (MariaDB error codes).
ERROR_REASONS: dict[str, str] = {
    "1040": "too many connections",
    "1044": "access denied to the database",
    "1045": "access denied (wrong password or unknown user)",
    "1049": "unknown database",
    "1129": "host blocked because of many connection errors",
    "1130": "host is not allowed to connect",
    "1142": "command denied on the table",
    "1143": "command denied on the column",
    "1146": "table does not exist",
    "1203": "user has exceeded max_user_connections",
    "1226": "user has exceeded a resource limit",
    "1227": "access denied: a privilege is missing",
    "1251": "client does not support the authentication protocol",
    "1370": "command denied on the routine",
    "1698": "access denied (authentication plugin)",
    "1820": "the password has expired: it must be changed before anything else",
    "1862": "the password has expired",
    "4151": "the account is locked",
}


def _outcome(retcode: str) -> tuple[str, str | None, str | None]:
    """(outcome, error_code, failure_reason) of a retcode: 0 success, a number failure."""
    code = retcode.strip()
    if not code:
        return "unknown", None, None
    if not code.lstrip("-").isdigit():
        raise NormalisationError(f"bad retcode {retcode!r}: not a number")
    if int(code) == 0:
        return "success", None, None
    return "failure", code, ERROR_REASONS.get(code)


def source_ip(host: str) -> str | None:
    """The client address of the host field (``127.0.0.1``; MariaDB 12's ``127.0.0.1:54321``);
    a host name -> None (the text stays in ``properties.host``)."""
    text = host.strip().strip("[]")
    for candidate in (text, text.rpartition(":")[0].strip("[]")):
        if not candidate:
            continue
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            continue
    return None


def _key_part(value: str) -> str:
    return value.replace("%", "%25").replace(":", "%3A")


def event_id(record: dict[str, Any]) -> str:
    """``serverhost:connectionid:queryid:operation:YYYYMMDDTHHMMSS[:database.table]``: what the
    plugin writes the same way every time the line is read (the time as written, not its UTC
    reading, so changing ``timezone`` keeps the keys)."""
    stamp = _text(record, "timestamp").strip().replace(" ", "T").replace(":", "")
    parts = [
        _text(record, "serverhost"),
        _text(record, "connectionid").strip(),
        _text(record, "queryid").strip(),
        _text(record, "operation").strip().upper(),
        stamp,
    ]
    if _text(record, "operation").strip().upper() in TABLE_OPERATIONS:
        parts.append(f"{_text(record, 'database')}.{_text(record, 'object')}")
    return ":".join(_key_part(part) for part in parts)


#: Fields that become contract columns, so are not repeated in ``properties``.
_MAPPED = frozenset({"timestamp", "username", "database", "object"})

_CONNECTION_ACTIONS = {
    "CONNECT": "connect",
    "FAILED_CONNECT": "connect",
    "DISCONNECT": "disconnect",
    "CHANGEUSER": "change_user",
    "PROXY_CONNECT": "proxy_connect",
}


def _properties(record: dict[str, Any]) -> dict[str, Any]:
    """Every other field of the line; empty fields say nothing, so are left out."""
    return {
        key: value
        for key, value in record.items()
        if key not in _MAPPED and value not in ("", None)
    }


def normalise_server_audit(
    source: DatabaseSource, record: dict[str, Any], source_id: str
) -> dict[str, Any]:
    """One server_audit line -> one access event (see the kind's doc for the mapping table)."""
    if UNREADABLE in record:
        where = f" {record.get('file')}:{record.get('line_number')}" if "file" in record else ""
        raise NormalisationError(f"unreadable server_audit line{where}: {record[UNREADABLE]}")
    for field in ("connectionid", "queryid"):
        value = _text(record, field).strip()
        if not value.lstrip("-").isdigit():
            raise NormalisationError(f"bad {field} {value!r}: not a number")
    occurred_at = log_time(record.get("timestamp"), source.zone)
    operation = _text(record, "operation").strip().upper()
    kind = classify(record)
    if kind.startswith("not_access:"):
        raise NormalisationError(f"not an access event ({kind}); the feed's exclusion counts it")
    if kind == "unknown_operation":
        raise NormalisationError(
            f"unknown server_audit operation {operation!r}: expected one of "
            f"{', '.join(sorted(OPERATIONS))}"
        )
    outcome, error_code, failure_reason = _outcome(_text(record, "retcode"))
    properties = _properties(record)
    common: dict[str, Any] = {
        "event_id": event_id(record),
        "occurred_at": occurred_at,
        "login": _text(record, "username") or None,
        "source_ip": source_ip(_text(record, "host")),
        "error_code": error_code,
        "failure_reason": failure_reason,
    }
    database = _text(record, "database") or None
    if kind == "connection":
        if operation == "FAILED_CONNECT" and outcome == "success":
            outcome = "failure"  # the plugin logs a failed connect with its error number
        return database_event(
            source,
            source_id,
            category="authentication",
            action=_CONNECTION_ACTIONS[operation],
            outcome=outcome,
            database=database,
            properties=properties,
            **common,
        )
    if kind == "query":
        statement = _text(record, "object")
        properties["statement"] = statement
        return database_event(
            source,
            source_id,
            category="database",
            action=statement_action(statement),
            outcome=outcome,
            database=database,
            properties=properties,
            **common,
        )
    # a TABLE line: the table a statement opened (READ/WRITE) or changed; the statement's
    # result is on its QUERY line (same queryid), written after it
    table = _text(record, "object")
    if not table:
        raise NormalisationError(f"{operation} line without a table")
    if operation == "RENAME":
        table, _, renamed_to = table.partition("|")  # "old|db.new"
        if renamed_to:
            properties["renamed_to"] = renamed_to
    properties["table"] = table
    return database_event(
        source,
        source_id,
        category="database",
        action=operation,
        outcome=outcome,
        database=database,
        object_name=table,
        properties=properties,
        **common,
    )
