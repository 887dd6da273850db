"""SQL Server audit records -> access events. Pure functions (no driver, no Airflow).

A record is one row of ``sys.fn_get_audit_file`` as landed (:func:`landed_record`: JSON values,
keyed by the documented column names), or several rows of one long audit record put back
together (:func:`reassemble`). :func:`normalise_audit_record` maps it to one access event; the
mapping table is in the kind's ``doc.md``.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import re
import socket
import uuid
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from access_warehouse.contract import NormalisationError
from access_warehouse.normalise import clean_text
from access_warehouse.sources.database import database_event, local_time

if TYPE_CHECKING:
    from access_warehouse.sources.database import DatabaseSource

#: The columns of ``sys.fn_get_audit_file`` that SQL Server 2017 and later return, in the
#: documented order (Microsoft Learn, "sys.fn_get_audit_file (Transact-SQL)", Tables returned).
COLUMNS: tuple[str, ...] = (
    "event_time",
    "sequence_number",
    "action_id",
    "succeeded",
    "permission_bitmask",
    "is_column_permission",
    "session_id",
    "server_principal_id",
    "database_principal_id",
    "target_server_principal_id",
    "target_database_principal_id",
    "object_id",
    "class_type",
    "session_server_principal_name",
    "server_principal_name",
    "server_principal_sid",
    "database_principal_name",
    "target_server_principal_name",
    "target_server_principal_sid",
    "target_database_principal_name",
    "server_instance_name",
    "database_name",
    "schema_name",
    "object_name",
    "statement",
    "additional_information",
    "file_name",
    "audit_file_offset",
    "user_defined_event_id",
    "user_defined_information",
    "audit_schema_version",
    "sequence_group_id",
    "transaction_id",
    "client_ip",
    "application_name",
)
#: Further documented columns, read only when configured (``extra_columns``): the docs give no
#: SQL Server version for them (or say Azure only), and a column the server's function lacks
#: fails the whole query.
EXTRA_COLUMNS: tuple[str, ...] = (
    "duration_milliseconds",
    "response_rows",
    "affected_rows",
    "connection_id",
    "data_sensitivity_information",
    "host_name",
    "session_context",
    "client_tls_version",
    "client_tls_version_name",
    "database_transaction_id",
)

#: The key the reassembled parts' count is kept under (one row per part of a long record).
PARTS = "record_parts"

# --- actions -------------------------------------------------------------------------------

AUTHENTICATION = "authentication"
DATABASE = "database"
IAM = "iam"
CONFIGURATION = "configuration"

#: Login and logout action ids -> the words the other database kinds use.
LOGIN_ACTIONS: dict[str, str] = {
    "LGIS": "connect",  # LOGIN SUCCEEDED
    "LGIF": "connect",  # LOGIN FAILED
    "LGO": "disconnect",  # LOGOUT
    "DBAS": "connect",  # DATABASE AUTHENTICATION SUCCEEDED (contained database user)
    "DBAF": "connect",  # DATABASE AUTHENTICATION FAILED
    "DBL": "disconnect",  # DATABASE LOGOUT
    "LGB": "connect",  # BROKER LOGIN (Service Broker endpoint)
    "LGM": "connect",  # DATABASE MIRRORING LOGIN (mirroring / availability group endpoint)
}

#: Action ids (``sys.dm_audit_actions``) -> (category, action). Statement actions use the SQL
#: words of the other database kinds (SELECT, INSERT, ...); the rest sys.dm_audit_actions' name.
ACTIONS: dict[str, tuple[str, str]] = {
    # reading and changing data, running code
    "SL": (DATABASE, "SELECT"),
    "IN": (DATABASE, "INSERT"),
    "UP": (DATABASE, "UPDATE"),
    "DL": (DATABASE, "DELETE"),
    "EX": (DATABASE, "EXECUTE"),
    "RC": (DATABASE, "RECEIVE"),
    "SN": (DATABASE, "SEND"),
    "RF": (DATABASE, "REFERENCES"),
    "ADBO": (DATABASE, "BULK ADMIN"),
    # schema changes (principals: see PRINCIPAL_CLASSES)
    "CR": (DATABASE, "CREATE"),
    "AL": (DATABASE, "ALTER"),
    "DR": (DATABASE, "DROP"),
    "TRO": (DATABASE, "TRANSFER"),
    # operations
    "BA": (DATABASE, "BACKUP"),
    "BAL": (DATABASE, "BACKUP LOG"),
    "RS": (DATABASE, "RESTORE"),
    "DBCC": (DATABASE, "DBCC"),
    "CP": (DATABASE, "CHECKPOINT"),
    "FT": (DATABASE, "FULLTEXT"),
    "OP": (DATABASE, "OPEN"),
    "CO": (DATABASE, "CONNECT"),
    "AS": (DATABASE, "ACCESS"),
    "VW": (DATABASE, "VIEW"),
    "SPLN": (DATABASE, "SHOW PLAN"),
    "SUQN": (DATABASE, "SUBSCRIBE QUERY NOTIFICATION"),
    "VDST": (DATABASE, "VIEW DATABASE STATE"),
    "VSST": (DATABASE, "VIEW SERVER STATE"),
    "VWCT": (DATABASE, "VIEW CHANGETRACKING"),
    "ALCN": (DATABASE, "ALTER CONNECTION"),
    "ALRS": (DATABASE, "ALTER RESOURCES"),
    "ALSS": (DATABASE, "ALTER SERVER STATE"),
    "ALST": (DATABASE, "ALTER SETTINGS"),
    "ALTR": (DATABASE, "ALTER TRACE"),
    "AUTH": (DATABASE, "AUTHENTICATE"),
    "XA": (DATABASE, "EXTERNAL ACCESS ASSEMBLY"),
    "XU": (DATABASE, "UNSAFE ASSEMBLY"),
    "UDAU": (DATABASE, "USER DEFINED AUDIT"),
    # permissions, memberships, passwords, impersonation
    "G": (IAM, "GRANT"),
    "GWG": (IAM, "GRANT WITH GRANT"),
    "D": (IAM, "DENY"),
    "DWC": (IAM, "DENY WITH CASCADE"),
    "R": (IAM, "REVOKE"),
    "RWC": (IAM, "REVOKE WITH CASCADE"),
    "RWG": (IAM, "REVOKE WITH GRANT"),
    "APRL": (IAM, "ADD MEMBER"),
    "DPRL": (IAM, "DROP MEMBER"),
    "TO": (IAM, "TAKE OWNERSHIP"),
    "IMP": (IAM, "IMPERSONATE"),
    "PWC": (IAM, "CHANGE PASSWORD"),
    "PWCS": (IAM, "CHANGE OWN PASSWORD"),
    "PWR": (IAM, "RESET PASSWORD"),
    "PWRS": (IAM, "RESET OWN PASSWORD"),
    "PWU": (IAM, "UNLOCK ACCOUNT"),
    "PWMC": (IAM, "MUST CHANGE PASSWORD"),
    "PWEX": (IAM, "PASSWORD EXPIRATION"),
    "PWPL": (IAM, "PASSWORD POLICY"),
    "USTC": (IAM, "COPY PASSWORD"),
    "LGDA": (IAM, "DISABLE"),
    "LGEA": (IAM, "ENABLE"),
    "LGNM": (IAM, "NAME CHANGE"),
    "LGDB": (IAM, "CHANGE DEFAULT DATABASE"),
    "LGLG": (IAM, "CHANGE DEFAULT LANGUAGE"),
    "CCLG": (IAM, "CHANGE LOGIN CREDENTIAL"),
    "CMLG": (IAM, "CREDENTIAL MAP TO LOGIN"),
    "NMLG": (IAM, "NO CREDENTIAL MAP TO LOGIN"),
    "USLG": (IAM, "CHANGE USERS LOGIN"),
    "USAF": (IAM, "CHANGE USERS LOGIN AUTO"),
    # the audit itself and the server
    "AUSC": (CONFIGURATION, "AUDIT SESSION CHANGED"),
    "AUSF": (CONFIGURATION, "AUDIT SHUTDOWN ON FAILURE"),
    "SVSR": (CONFIGURATION, "SERVER STARTED"),
    "SVSD": (CONFIGURATION, "SERVER SHUTDOWN"),
    "SVPD": (CONFIGURATION, "SERVER PAUSED"),
    "SVCN": (CONFIGURATION, "SERVER CONTINUE"),
    "TASA": (CONFIGURATION, "TRACE AUDIT START"),
    "TASP": (CONFIGURATION, "TRACE AUDIT STOP"),
    "C2ON": (CONFIGURATION, "TRACE AUDIT C2ON"),
    "C2OF": (CONFIGURATION, "TRACE AUDIT C2OFF"),
}

# --- class types -> targets -------------------------------------------------------------

#: ``class_type`` (``sys.dm_audit_class_type_map``) of schema objects -> the contract's target
#: types (the object-path types of resolve.py); other schema-scoped classes become ``object``.
OBJECT_TYPES: dict[str, str] = {
    "U": "table",  # user table
    "S": "table",  # system table
    "IT": "table",  # internal table
    "V": "view",
    "P": "procedure",  # SQL stored procedure
    "PC": "procedure",  # CLR stored procedure
    "X": "procedure",  # extended stored procedure
    "RF": "procedure",  # replication filter procedure
    "FN": "function",  # SQL scalar function
    "IF": "function",  # SQL inline table-valued function
    "TF": "function",  # SQL table-valued function
    "FS": "function",  # CLR scalar function
    "FT": "function",  # CLR table-valued function
    "AF": "function",  # CLR aggregate function
    "SO": "sequence",
    "TT": "type",  # table type
    "TY": "type",
}
#: Classes whose object is the database itself, or a schema.
DATABASE_CLASSES = frozenset({"DB"})
SCHEMA_CLASSES = frozenset({"SC"})
#: Classes of principals (logins, users, roles): CREATE/ALTER/DROP of these are IAM events, and
#: the principal is the target (under the server for logins and server roles).
SERVER_PRINCIPAL_CLASSES: dict[str, str] = {
    "LX": "login",
    "SL": "login",  # SQL login
    "WL": "login",  # Windows login
    "WG": "login",  # Windows group
    "SG": "server_role",
}
DATABASE_PRINCIPAL_CLASSES: dict[str, str] = {
    "US": "database_user",
    "RL": "database_role",
    "AR": "application_role",
}
#: The server itself.
SERVER_CLASSES = frozenset({"SV"})


# --- landing -------------------------------------------------------------------------------


def landed_value(value: Any) -> Any:
    """A value as pymssql returns it, as JSON: naive datetimes are UTC (``event_time`` is UTC
    datetime2) and get ``+00:00``; bytes (SIDs, bitmasks, ``sequence_group_id``) become
    ``0x`` + upper-case hex, as SQL Server prints them; decimals exact text; UUIDs text."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return moment.astimezone(dt.UTC).isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return "0x" + bytes(value).hex().upper()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    return str(value)


def landed_record(row: dict[str, Any]) -> dict[str, Any]:
    """One fetched row (column -> driver value) as the JSON object that lands."""
    return {str(column): landed_value(value) for column, value in row.items()}


def _part_of(previous: dict[str, Any], row: dict[str, Any]) -> bool:
    """Whether ``row`` continues ``previous``: the same audit record (event time and sequence
    group) and the next sequence number."""
    group = row.get("sequence_group_id")
    number, last = row.get("sequence_number"), previous.get("sequence_number")
    return (
        group is not None
        and group == previous.get("sequence_group_id")
        and row.get("event_time") == previous.get("event_time")
        and row.get("action_id") == previous.get("action_id")
        and type(number) is int
        and type(last) is int
        and number == last + 1
    )


def reassemble(rows: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Landed rows in query order -> audit records: a record too long for one audit buffer is
    written as several rows (``sequence_number`` 1, 2, ... of one ``sequence_group_id``, the
    statement cut in pieces); they are joined into one record (the first row's columns, the
    statement pieces concatenated, ``record_parts`` = how many rows), so the redaction sees the
    whole statement and one audited action is one event. Streams: holds one record at a time."""
    current: dict[str, Any] | None = None
    for row in rows:
        if current is not None and _part_of(current["_last"], row):
            pieces = current["record"].get("statement"), row.get("statement")
            if any(isinstance(piece, str) for piece in pieces):
                current["record"]["statement"] = "".join(p for p in pieces if isinstance(p, str))
            current["record"][PARTS] = current["record"].get(PARTS, 1) + 1
            current["_last"] = row
            continue
        if current is not None:
            yield current["record"]
        current = {"record": dict(row), "_last": row}
    if current is not None:
        yield current["record"]


# --- normalise -----------------------------------------------------------------------------

_UTC = ZoneInfo("UTC")

#: Columns that become contract columns (or the event id) and are not repeated in properties.
_MAPPED = frozenset(
    {"event_time", "session_server_principal_name", "application_name", "statement"}
)

_XML_TAG = re.compile(r"<(?P<tag>[A-Za-z_][\w.-]*)>(?P<value>[^<]*)</(?P=tag)>")


def additional_fields(value: Any) -> dict[str, str]:
    """The simple ``<tag>value</tag>`` elements of ``additional_information`` (login records:
    ``<action_info ...><error>0x00004818</error><state>8</state><address>...</address>``).
    Not a schema Microsoft documents: read where present, the XML stays in properties."""
    if type(value) is not str or "<" not in value:
        return {}
    return {match["tag"]: match["value"].strip() for match in _XML_TAG.finditer(value)}


def _text(record: dict[str, Any], column: str) -> str | None:
    value = record.get(column)
    if value is None:
        return None
    if type(value) is not str:
        raise NormalisationError(f"{column} is {type(value).__name__}, not text")
    return clean_text(value)


def action_id_of(record: dict[str, Any]) -> str | None:
    """The record's action id (upper case, trimmed), or None when it has none."""
    value = record.get("action_id")
    return value.strip().upper() or None if type(value) is str else None


def login_of(record: dict[str, Any]) -> str | None:
    """The actor: the session's original login (``session_server_principal_name``: unchanged by
    EXECUTE AS), else the current login (``server_principal_name``), else the database user
    (``database_principal_name``: a contained-database user has no login)."""
    for column in (
        "session_server_principal_name",
        "server_principal_name",
        "database_principal_name",
    ):
        value = record.get(column)
        if type(value) is str and value.strip():
            return value.strip()
    return None


def source_ip_of(value: Any) -> str | None:
    """``client_ip`` when it is an IPv4/IPv6 address (``local machine``, pipes: None)."""
    text = clean_text(value)
    if text is None:
        return None
    text = text.strip()
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in text else socket.AF_INET, text)
    except (OSError, ValueError):
        return None
    return text


def outcome_of(value: Any) -> str:
    """``succeeded`` (bit: true/false, or 1/0) -> success / failure; anything else unknown."""
    if value is True or (type(value) is int and value == 1):
        return "success"
    if value is False or (type(value) is int and value == 0):
        return "failure"
    return "unknown"


def event_id_of(record: dict[str, Any]) -> str:
    """``<sequence_group_id>:<action_id>:<class_type>:<object_id>``: the record's sequence group
    (documented as a unique identifier; the rows of one long record share it), with the action,
    class and object, so that two records of one group about different objects stay apart."""
    group = _text(record, "sequence_group_id")
    if group is None:
        raise NormalisationError(
            "missing sequence_group_id (SQL Server 2016 and later write it; it keys the event)"
        )
    action = action_id_of(record)
    if action is None:
        raise NormalisationError("missing action_id")
    class_type = record.get("class_type")
    object_id = record.get("object_id")
    if class_type is not None and type(class_type) is not str:
        raise NormalisationError(f"bad class_type {class_type!r}: not text")
    if object_id is not None and (type(object_id) is not int):
        raise NormalisationError(f"bad object_id {object_id!r}: not an integer")
    object_part = "" if object_id is None else str(object_id)
    return f"{group}:{action}:{(class_type or '').strip()}:{object_part}"


def _target(record: dict[str, Any], class_type: str) -> dict[str, Any]:
    """``database_event``'s target arguments for the record's class of object."""
    database = _text(record, "database_name")
    schema = _text(record, "schema_name")
    name = _text(record, "object_name")
    if class_type in SERVER_PRINCIPAL_CLASSES and name:
        return {"object_name": name, "object_type": SERVER_PRINCIPAL_CLASSES[class_type]}
    if class_type in SERVER_CLASSES:
        return {"object_name": name, "object_type": "object"} if name else {}
    if class_type in DATABASE_CLASSES:
        return {"database": database or name}
    if class_type in SCHEMA_CLASSES:
        return {"database": database, "schema": schema or name}
    if class_type in DATABASE_PRINCIPAL_CLASSES:
        return {
            "database": database,
            "object_name": name,
            "object_type": DATABASE_PRINCIPAL_CLASSES[class_type],
        }
    return {
        "database": database,
        "schema": schema,
        "object_name": name,
        "object_type": OBJECT_TYPES.get(class_type, "object"),
    }


def _properties(record: dict[str, Any], consumed: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Every other column the record has a value for (NULL and the empty strings SQL Server
    writes for "not applicable" say nothing)."""
    properties = {
        key: value
        for key, value in record.items()
        if key not in _MAPPED and key not in consumed and value not in (None, "")
    }
    if record.get("statement") is not None:
        properties["statement"] = record["statement"]
    return properties


def normalise_audit_record(
    source: DatabaseSource, record: dict[str, Any], source_id: str
) -> dict[str, Any]:
    """One audit record -> one access event (the mapping table in ``doc.md``)."""
    event_id = event_id_of(record)
    occurred_at = local_time(record.get("event_time"), _UTC, "event_time")
    action_id = action_id_of(record) or ""
    raw_class = record.get("class_type")
    class_type = raw_class.strip().upper() if type(raw_class) is str else ""
    outcome = outcome_of(record.get("succeeded"))
    login = login_of(record)
    raw_ip = record.get("client_ip")
    source_ip = source_ip_of(raw_ip)
    common: dict[str, Any] = {
        "event_id": event_id,
        "occurred_at": occurred_at,
        "outcome": outcome,
        "login": login,
        "source_ip": source_ip,
        "client_app": _text(record, "application_name"),
    }
    # client_ip is kept in properties only when it is no address (e.g. "local machine")
    consumed = frozenset({"client_ip"}) if source_ip else frozenset()
    if action_id in LOGIN_ACTIONS:
        details = additional_fields(record.get("additional_information"))
        error_code = failure_reason = None
        if outcome == "failure":
            error_code = _error_number(details.get("error"))
            failure_reason = _text(record, "statement")
        if source_ip is None:
            source_ip = source_ip_of(details.get("address"))
            common["source_ip"] = source_ip
        database = _text(record, "database_name") if action_id.startswith("DB") else None
        return database_event(
            source,
            source_id,
            category=AUTHENTICATION,
            action=LOGIN_ACTIONS[action_id],
            error_code=error_code,
            failure_reason=failure_reason,
            database=database,
            properties=_properties(record, consumed),
            **common,
        )
    category, action = ACTIONS.get(action_id, (DATABASE, action_id or "unknown"))
    if (
        category == DATABASE
        and action_id in ("CR", "AL", "DR")
        and (class_type in SERVER_PRINCIPAL_CLASSES or class_type in DATABASE_PRINCIPAL_CLASSES)
    ):
        category = IAM  # CREATE / ALTER / DROP LOGIN, USER, ROLE
    failure_reason = "permission check failed" if outcome == "failure" else None
    return database_event(
        source,
        source_id,
        category=category,
        action=action,
        failure_reason=failure_reason,
        properties=_properties(record, consumed),
        **_target(record, class_type),
        **common,
    )


def _error_number(value: str | None) -> str | None:
    """``0x00004818`` -> ``18456`` (the error number SQL Server's messages use); other text as
    it is."""
    if not value:
        return None
    try:
        return str(int(value, 16)) if value.lower().startswith("0x") else value
    except ValueError:
        return value
