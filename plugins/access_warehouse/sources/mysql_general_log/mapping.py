"""One ``mysql.general_log`` row -> one access event. Pure functions.

A row is the table's six columns as landed (:data:`COLUMNS`): ``event_time`` as ISO 8601 text
(with ``+00:00`` when read from a ``TIMESTAMP`` column in a UTC session; naive from a
``DATETIME`` copy, read in the source's ``timezone``), ``user_host`` and ``command_type`` as
text, ``thread_id`` and ``server_id`` as integers, ``argument`` as text (a blob in MySQL,
decoded as UTF-8 with replacement when fetched). The kind's ``doc.md`` has the mapping table.
"""

from __future__ import annotations

import hashlib
import re
import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from access_warehouse.contract import NormalisationError
from access_warehouse.sources.database import database_event, local_time

if TYPE_CHECKING:
    from access_warehouse.sources.database import DatabaseSource

#: The columns of ``mysql.general_log`` (MySQL 5.1+ and MariaDB alike), in table order.
COLUMNS: tuple[str, ...] = (
    "event_time",
    "user_host",
    "thread_id",
    "server_id",
    "command_type",
    "argument",
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
#: Hex digits of the hash that tells apart two rows of one thread at one microsecond.
KEY_HASH_DIGITS = 12

# --- user_host -----------------------------------------------------------------------------


@dataclass(frozen=True)
class UserHost:
    """``priv_user[user] @ host [ip]``, the server's ``make_user_name()`` format.

    ``user`` is the name the client sent (set before authentication: the only one a failed or
    in-progress login has); ``priv_user`` is the user part of the account that authenticated
    (empty before authentication, ``''`` for an anonymous account, the proxied account for a
    proxy user). ``host`` is the client's host name when the server resolved it, ``ip`` its
    address (empty for a local socket)."""

    user: str
    priv_user: str
    host: str
    ip: str


def parse_user_host(value: Any) -> UserHost:
    """The parts of a ``user_host`` value; ``NormalisationError`` when it has another form.

    Parsed from the right: the address in the last ``[...]``, the host name before it (host
    names have no spaces), then ``priv_user[user]``; a name holding brackets is split where
    the form ``x[x]`` or the first ``[`` says."""
    if type(value) is not str:
        raise NormalisationError(
            f"user_host is {type(value).__name__}, not text"
            if value is not None
            else "missing user_host"
        )
    text = value.strip()
    head, sep, ip = text.rpartition(" [")
    if not sep or not ip.endswith("]"):
        raise NormalisationError(
            f"bad user_host {value[:200]!r}: expected priv_user[user] @ host [ip]"
        )
    ip = ip[:-1]
    names, sep, host = head.rpartition(" @ ")
    if not sep:
        names, sep, host = head.rpartition(" @")  # an empty host name: "user[user] @  [ip]"
    if not sep or not names.endswith("]") or "[" not in names:
        raise NormalisationError(
            f"bad user_host {value[:200]!r}: expected priv_user[user] @ host [ip]"
        )
    inner = names[:-1]
    half = (len(inner) - 1) // 2
    if len(inner) % 2 == 1 and inner[half] == "[" and inner[:half] == inner[half + 1 :]:
        priv_user = user = inner[:half]
    else:
        priv_user, _, user = inner.partition("[")
    return UserHost(user=user, priv_user=priv_user, host=host.strip(), ip=ip.strip())


def login_of(record: dict[str, Any]) -> str | None:
    """The login of a row (the user name the client sent), or None."""
    try:
        return parse_user_host(record.get("user_host")).user or None
    except NormalisationError:
        return None


def statement_class_of(record: dict[str, Any]) -> str | None:
    """What ``exclude_statement_classes`` tests: the command type, upper-cased (``QUERY``,
    ``CONNECT``, ``QUIT``, ``INIT DB``, ``EXECUTE``, ``PING``...)."""
    value = record.get("command_type")
    if type(value) is not str:
        return None
    return " ".join(value.split()).upper() or None


def ip_address(text: str) -> str | None:
    """``text`` if it is an IPv4 or IPv6 address, else None."""
    if not text:
        return None
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in text else socket.AF_INET, text)
    except (OSError, ValueError):
        return None
    return text


# --- the argument --------------------------------------------------------------------------

# "alice@10.0.0.5 on app using TCP/IP" (MariaDB, MySQL); MySQL adds "as <proxied>" for a proxy
# login ("jdoe@host as dev on app using SSL/TLS"). The database is empty when none was given.
_CONNECT = re.compile(
    r"^(?P<user>.*)@(?P<host>[^\s@]*)(?: as (?P<proxied>.*?))? on (?P<database>.*) "
    r"using (?P<via>\S.*)$",
    re.DOTALL,
)
# The failures the server writes as a Connect (or Init DB) row, and their error numbers.
_ACCESS_DENIED_DB = re.compile(
    r"^Access denied for user '.*'@'.*' to database '(?P<database>(?:[^']|'')*)'", re.DOTALL
)
_ERROR_CODES: tuple[tuple[re.Pattern[str], str], ...] = (
    (_ACCESS_DENIED_DB, "1044"),  # ER_DBACCESS_DENIED_ERROR
    (re.compile(r"^Access denied for user .*\(using password: (?:YES|NO)\)", re.DOTALL), "1045"),
)


def error_code(message: str) -> str | None:
    """The server's error number for a failure message it wrote into the log, when known."""
    for pattern, code in _ERROR_CODES:
        if pattern.match(message):
            return code
    return None


def denied_database(message: str) -> str | None:
    match = _ACCESS_DENIED_DB.match(message)
    return match.group("database").replace("''", "'") if match else None


# Leading noise before a statement's first keyword: whitespace, comments, opening parentheses.
# An executable comment (/*!40101 SET ... */, /*M! ... */) is the statement itself: only its
# opening is skipped.
_LEADING = re.compile(
    r"(?:\s+|/\*M?!\d*|/\*(?!M?!).*?\*/|(?:--[ \t]|#)[^\n]*(?:\n|$)|\()+", re.DOTALL
)
_TOKEN = re.compile(r"`(?:[^`]|``)*`|'(?:[^'\\]|\\.|'')*'|\"(?:[^\"\\]|\\.|\"\")*\"|\w+|\S")
#: What CREATE, ALTER and DROP name as their object: the action says both words
#: (``CREATE USER``), as pgaudit's command tags do (``CREATE ROLE``).
_OBJECT_WORDS = frozenset(
    {
        "DATABASE",
        "EVENT",
        "FUNCTION",
        "INDEX",
        "PACKAGE",
        "PROCEDURE",
        "ROLE",
        "SCHEMA",
        "SEQUENCE",
        "SERVER",
        "TABLE",
        "TABLESPACE",
        "TRIGGER",
        "USER",
        "VIEW",
    }
)
_WITH_OBJECT = frozenset({"CREATE", "ALTER", "DROP", "RENAME"})
#: How far after CREATE/ALTER/DROP the object word may come (OR REPLACE, TEMPORARY,
#: DEFINER = `u`@`h`, SQL SECURITY ..., ALGORITHM = ...).
_OBJECT_LOOKAHEAD = 12


def statement_action(statement: str) -> str | None:
    """The action of a statement: its first keyword upper-cased (``SELECT``, ``INSERT``,
    ``GRANT``, ``SET``...), with the object word for CREATE, ALTER, DROP and RENAME
    (``CREATE USER``, ``DROP TABLE``) and ``SET PASSWORD``; None when it starts with no word."""
    match = _LEADING.match(statement)
    position = match.end() if match else 0
    tokens = _TOKEN.findall(statement, position, position + 2000)
    if not tokens or not (tokens[0][0].isalpha() or tokens[0][0] == "_"):
        return None
    verb = tokens[0].upper()
    if verb in _WITH_OBJECT:
        for token in tokens[1 : 1 + _OBJECT_LOOKAHEAD]:
            if token.upper() in _OBJECT_WORDS:
                return f"{verb} {token.upper()}"
        return verb
    if verb == "SET" and len(tokens) > 1 and tokens[1].upper() == "PASSWORD":
        return "SET PASSWORD"
    return verb


_USE = re.compile(r"^\s*use\s+(?:`(?P<quoted>(?:[^`]|``)+)`|(?P<bare>[^\s;`]+))\s*;?\s*$", re.I)


def used_database(statement: str) -> str | None:
    """The database a ``USE db`` statement switches to."""
    match = _USE.match(statement)
    if not match:
        return None
    return match.group("bare") or match.group("quoted").replace("``", "`")


# --- the row -------------------------------------------------------------------------------


def _integer(record: dict[str, Any], field: str) -> int:
    value = record.get(field)
    if type(value) is int:
        return value
    if type(value) is str and value.strip().isdigit():
        return int(value.strip())
    if value is None:
        raise NormalisationError(f"missing {field}")
    raise NormalisationError(f"bad {field} {str(value)[:100]!r}: not a non-negative integer")


def _text(record: dict[str, Any], field: str) -> str:
    value = record.get(field)
    if type(value) is str:
        return value
    if value is None:
        raise NormalisationError(f"missing {field}")
    raise NormalisationError(f"{field} is {type(value).__name__}, not text")


def event_id(
    occurred_at: datetime, thread_id: int, server_id: int, command: str, argument: str
) -> str:
    """``<server_id>:<thread_id>:<event_time as microseconds since 1970 UTC>:<hash>``.

    The hash (SHA-256 of ``command_type``, NUL, ``argument``, first :data:`KEY_HASH_DIGITS`
    hex digits) tells apart two rows one thread wrote in the same microsecond (a Connect and
    its Access denied can share it)."""
    micros = (occurred_at - _EPOCH) // _MICROSECOND
    digest = hashlib.sha256(f"{command}\x00{argument}".encode("utf-8", "surrogatepass")).hexdigest()
    return f"{server_id}:{thread_id}:{micros}:{digest[:KEY_HASH_DIGITS]}"


#: Command types that are a login (or a re-login of the session): their action.
_LOGIN_COMMANDS = {"CONNECT": "connect", "CHANGE USER": "change_user"}
#: Command types whose argument is a statement, named by its first keyword.
_STATEMENT_COMMANDS = frozenset({"QUERY", "EXECUTE"})


def normalise_general_log(
    source: DatabaseSource, record: dict[str, Any], source_id: str
) -> dict[str, Any]:
    """One general-log row -> one access event (the mapping table in ``doc.md``)."""
    occurred_at = local_time(record.get("event_time"), source.zone, "event_time")
    thread_id = _integer(record, "thread_id")
    server_id = _integer(record, "server_id")
    command = _text(record, "command_type")
    argument = _text(record, "argument")
    command_class = " ".join(command.split()).upper()
    if not command_class:
        raise NormalisationError("empty command_type")
    who = parse_user_host(record.get("user_host"))
    properties: dict[str, Any] = {
        key: value for key, value in record.items() if key not in ("event_time", "argument")
    }
    if who.priv_user and who.priv_user != who.user:
        properties["account_user"] = who.priv_user  # the account that authenticated
    if who.host:
        properties["client_host"] = who.host
    if who.ip and ip_address(who.ip) is None:
        properties["client_address"] = who.ip  # not an address: kept, not put in a column
    common: dict[str, Any] = {
        "event_id": event_id(occurred_at, thread_id, server_id, command, argument),
        "occurred_at": occurred_at,
        "login": who.user or None,
        "source_ip": ip_address(who.ip),
    }

    if command_class in _LOGIN_COMMANDS:
        action = _LOGIN_COMMANDS[command_class]
        attempt = _CONNECT.match(argument)
        if attempt is None:  # the server wrote why the login failed instead
            return database_event(
                source,
                source_id,
                category="authentication",
                action=action,
                outcome="failure",
                error_code=error_code(argument),
                failure_reason=argument or None,
                database=denied_database(argument),
                properties=properties,
                **common,
            )
        properties["connect"] = argument
        properties["protocol"] = attempt.group("via").strip()
        if attempt.group("proxied"):
            properties["proxied_user"] = attempt.group("proxied")
        return database_event(
            source,
            source_id,
            category="authentication",
            action=action,
            # written when the client has named itself, before the password is checked: a
            # failed login adds a second row (the Access denied above); per row, unknown
            outcome="unknown",
            database=attempt.group("database") or None,
            properties=properties,
            **common,
        )
    if command_class == "QUIT":
        return database_event(
            source,
            source_id,
            category="authentication",
            action="disconnect",
            outcome="success",
            properties={**properties, **({"argument": argument} if argument else {})},
            **common,
        )
    if command_class == "INIT DB":
        denied = denied_database(argument)
        if denied is not None or argument.startswith("Access denied"):
            return database_event(
                source,
                source_id,
                category="database",
                action="USE",
                outcome="failure",
                error_code=error_code(argument),
                failure_reason=argument,
                database=denied,
                properties=properties,
                **common,
            )
        return database_event(
            source,
            source_id,
            category="database",
            action="USE",
            outcome="unknown",  # written before the server checks the database
            database=argument or None,
            properties=properties,
            **common,
        )
    # a statement or another protocol command: written before it runs, so no outcome
    properties["statement"] = argument
    if command_class in _STATEMENT_COMMANDS:
        action = statement_action(argument) or command_class
        database = used_database(argument) if action == "USE" else None
    else:
        action, database = command_class, None  # PREPARE, FIELD LIST, PING, KILL, ...
    return database_event(
        source,
        source_id,
        category="database",
        action=action,
        outcome="unknown",
        database=database,
        properties=properties,
        **common,
    )
