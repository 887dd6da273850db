"""What every database audit-trail kind shares: config, identifiers, identity rules, targets.

A database source is one configured database server (``db-prod``) whose audit trail becomes
access events. Each kind (``postgres_audit_trigger``, ``postgres_csvlog``, ``generic_sql``, and
the MySQL, MariaDB, SQL Server and ClickHouse kinds) subclasses :class:`DatabaseSource` and
builds its events with :func:`database_event`, so that

- every DAG is ``db_audit_<name>`` and every source id ``<kind>:<name>``;
- identifiers from config (schemas, tables, columns) are checked by :func:`check_identifier`
  and quoted by the driver's quoting, never spliced into SQL;
- statement text is redacted (:mod:`access_warehouse.redaction`) before it lands;
- a login becomes a person through the source's :class:`IdentityRule` (``jdoe`` on ``db-prod``
  is ``jdoe@contoso.com``) and the editable ``audit.identity_mappings``;
- a database, schema and table touched is a config item under the server's config item
  (paths built by :func:`object_path`, parents derived by
  :func:`access_warehouse.resolve.config_item_chain`).

Only pydantic and the standard library here: DAG files import the kinds to parse.
"""

from __future__ import annotations

import fnmatch
import os
import re
import string
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field, field_validator, model_validator

from access_warehouse.contract import NormalisationError
from access_warehouse.normalise import clean_text
from access_warehouse.sources.base import (
    Exclusion,
    Feed,
    Fetcher,
    Normaliser,
    Selection,
    SourceConfig,
    StrictModel,
    valid_cron,
)

# --- identifiers from config ---------------------------------------------------------------

#: A plain SQL identifier: what every database accepts unquoted, so it means the same thing
#: everywhere. Anything else (a quote, a space, a dot, a semicolon, SQL) is refused.
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,62}$")


def check_identifier(value: str) -> str:
    """``value`` if it is a plain SQL identifier, else ``ValueError`` saying why."""
    if not isinstance(value, str) or not IDENTIFIER.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a plain SQL identifier: use letters, digits, _ and $ (not first), "
            "at most 63 characters; quotes, spaces, dots and SQL are refused, because "
            "identifiers from config are quoted, never spliced into SQL"
        )
    return value


Identifier = Annotated[str, AfterValidator(check_identifier)]


def split_qualified(value: str) -> tuple[str, ...]:
    """``schema.table`` (or ``table``) as checked identifiers; ``ValueError`` otherwise."""
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a table name")
    parts = tuple(value.split("."))
    if len(parts) > 2:
        raise ValueError(f"{value!r}: write schema.table (at most one dot)")
    for part in parts:
        check_identifier(part)
    return parts


QualifiedName = Annotated[str, AfterValidator(lambda value: (split_qualified(value), value)[1])]


# --- how a login becomes a person ----------------------------------------------------------


class IdentityRule(StrictModel):
    """How the source's logins map to people's aliases (compared as ``lower(btrim())``).

    ``logins`` names single logins (``svc_billing: billing-team@contoso.com``) and wins over
    ``template`` (``"{login}@contoso.com"``; placeholders ``{login}`` and ``{server}``), which
    applies to the logins that ``template_logins`` matches (shell patterns; all by default).
    A login that neither gives stays a login of this server only and, if nothing else knows it,
    becomes a stub person: counted and listed, never dropped.
    """

    template: str | None = None
    template_logins: tuple[str, ...] = ("*",)
    logins: dict[str, str] = Field(default_factory=dict)

    @field_validator("template")
    @classmethod
    def _known_placeholders(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            fields = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
        except ValueError as exc:
            raise ValueError(f"template {value!r}: {exc}") from None
        unknown = sorted(fields - {"login", "server"})
        if unknown or "login" not in fields:
            raise ValueError(
                f"template {value!r}: use the placeholder {{login}} (and optionally {{server}});"
                f" unknown: {unknown}"
            )
        return value

    def alias_for(self, login: str, server: str) -> tuple[str | None, str | None]:
        """(the person's alias for ``login``, the rule that gave it) or (None, None)."""
        key = login.strip().lower()
        for name, alias in self.logins.items():
            if name.strip().lower() == key:
                return alias.strip().lower(), f"logins.{name}"
        if self.template and any(
            fnmatch.fnmatchcase(key, pattern.lower()) for pattern in self.template_logins
        ):
            return self.template.format(login=key, server=server).strip().lower(), "template"
        return None, None


# --- the config every database source has -------------------------------------------------


def _valid_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r}; use an IANA name such as UTC") from None
    return value


def _valid_patterns(values: tuple[str, ...]) -> tuple[str, ...]:
    for value in values:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"redaction pattern {value!r} is not a valid regex: {exc}") from None
    return values


class DatabaseSource(SourceConfig):
    """The fields of every database source; a kind adds where its trail is and how to read it.

    Subclasses declare ``kind``, implement :meth:`selection`, :meth:`fetcher`,
    :meth:`normaliser` and :meth:`kind_doc`, and may override :meth:`login_of` and
    :meth:`statement_class_of` (what the exclusions test).
    """

    conn_id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    #: The name reviewers know the server by (``db-prod``); the root of its config items.
    server: str | None = Field(None, min_length=1, max_length=200)
    enabled: bool = True
    schedule: str = "0 * * * *"
    lookback_minutes: int = Field(60, ge=0, le=7 * 24 * 60)
    #: The zone of timestamps the source writes without one (local server time).
    timezone: Annotated[str, AfterValidator(_valid_zone)] = "UTC"
    page_size: int = Field(5000, ge=1, le=100_000)
    identity: IdentityRule = IdentityRule()
    #: Logins left out (shell patterns, case-insensitive), counted per rule in the batch.
    exclude_logins: tuple[str, ...] = ()
    #: Statement classes left out (the kind's classes, e.g. pgaudit's READ, MISC).
    exclude_statement_classes: tuple[str, ...] = ()
    #: Regexes whose matches are masked in every string of every record before it lands; a
    #: group named ``secret`` masks only that group.
    redact_patterns: Annotated[tuple[str, ...], AfterValidator(_valid_patterns)] = ()
    max_active_runs: int = Field(1, ge=1, le=16)
    #: Kinds that read a table (generic_sql, mysql_general_log, postgres_csvlog's table mode)
    #: also run ``count(*)`` over the same window in the same read, as completeness evidence
    #: (``dq.completeness.source_count``); false skips it (a count costs one more scan). Kinds
    #: that cannot count ignore it.
    count_window: bool = True

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        return valid_cron(value)

    # --- what a kind provides ---
    def selection(self) -> Selection:
        raise NotImplementedError

    def fetcher(self) -> Fetcher:
        raise NotImplementedError

    def normaliser(self) -> Normaliser:
        raise NotImplementedError

    def kind_doc(self) -> str:
        """Markdown: where this source reads, what it maps; the DAG's doc starts with it."""
        raise NotImplementedError

    def login_of(self, record: dict[str, Any]) -> str | None:
        return None

    def statement_class_of(self, record: dict[str, Any]) -> str | None:
        return None

    # --- shared ---
    @property
    def server_name(self) -> str:
        return self.server or self.name.replace("_", "-")

    @property
    def source_id(self) -> str:
        return f"{self.kind}:{self.name}"

    @property
    def dag_id(self) -> str:
        return f"db_audit_{self.name}"

    @property
    def lookback(self) -> timedelta:
        return timedelta(minutes=self.lookback_minutes)

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def redactor(self) -> Any:
        from access_warehouse.redaction import Redactor

        return Redactor(self.redact_patterns)

    def exclusion(self) -> Exclusion | None:
        logins = tuple(pattern.lower() for pattern in self.exclude_logins)
        classes = {value.strip().upper() for value in self.exclude_statement_classes}
        if not logins and not classes:
            return None

        def excluded_by(record: dict[str, Any]) -> str | None:
            login = self.login_of(record)
            if login and logins:
                key = login.strip().lower()
                for pattern in logins:
                    if fnmatch.fnmatchcase(key, pattern):
                        return f"login:{pattern}"
            statement_class = self.statement_class_of(record)
            if statement_class and statement_class.strip().upper() in classes:
                return f"statement_class:{statement_class.strip().upper()}"
            return None

        return excluded_by

    def feeds(self) -> list[Feed]:
        if not self.enabled:
            return []
        return [
            Feed(
                source_id=self.source_id,
                dag_id=self.dag_id,
                record_kind=self.kind,
                title=f"{self.kind} audit trail of {self.server_name} ({self.name})",
                schedule=self.schedule,
                selection=self.selection(),
                fetch=self.fetcher(),
                normalise=self.normaliser(),
                exclude=self.exclusion(),
                redact=self.redactor(),
                doc_md=(
                    f"Database **{self.server_name}**, source `{self.name}` "
                    f"(kind `{self.kind}`), connection `{self.conn_id}`.\n\n{self.kind_doc()}"
                ),
                tags=("database", self.kind, f"server:{self.server_name}"),
                conn_id=self.conn_id,
                max_active_runs=self.max_active_runs,
            )
        ]


# --- events --------------------------------------------------------------------------------


def _segment(value: str) -> str:
    return value.replace("%", "%25").replace("/", "%2F")


def login_actor_id(server: str, login: str) -> str:
    """A login's actor id in the events: scoped to its server (``db-prod/jdoe``: the same login
    on another server may be someone else), the server ``%``-escaped. Population snapshots
    give a login the same identifier as an alias, so reports can match the two."""
    return f"{_segment(server)}/{login}"


def object_path(server: str, *parts: str | None) -> str:
    """The external id of a database object: ``server/database/schema/object``, each part
    ``%``-escaped so a ``/`` in a quoted identifier cannot fake a level. Missing parts are
    skipped (a MySQL table sits directly under its database)."""
    return "/".join(_segment(part) for part in (server, *parts) if part)


def local_time(value: Any, zone: ZoneInfo, field: str) -> datetime:
    """A database timestamp as aware UTC: ``datetime`` values (naive ones are in ``zone``) or
    text (``2026-11-20 10:15:30.123 UTC``, ISO 8601 with or without an offset)."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        named_zone = None
        head, _, tail = text.rpartition(" ")
        if head and tail.isalpha():  # csvlog's "... UTC" / "... CET"
            text, named_zone = head, tail
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise NormalisationError(f"bad {field} {value!r}: not a timestamp") from None
        if named_zone and moment.tzinfo is None:
            try:
                moment = moment.replace(tzinfo=ZoneInfo(named_zone))
            except (ZoneInfoNotFoundError, ValueError):
                raise NormalisationError(f"bad {field} {value!r}: unknown zone") from None
    else:
        raise NormalisationError(f"missing {field}")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)


def database_event(
    source: DatabaseSource,
    source_id: str,
    *,
    event_id: str,
    occurred_at: datetime,
    category: str,
    action: str,
    outcome: str,
    login: str | None,
    properties: dict[str, Any],
    database: str | None = None,
    schema: str | None = None,
    object_name: str | None = None,
    object_type: str = "table",
    source_ip: str | None = None,
    client_app: str | None = None,
    auth_method: str | None = None,
    error_code: str | None = None,
    failure_reason: str | None = None,
) -> dict[str, Any]:
    """One access event of a database source, in the contract's columns.

    The actor is the login, scoped to the server (``db-prod/jdoe``: the same login on another
    server may be someone else), with the identity rule's alias as its principal name; the
    target is the deepest of server, database, schema and object that the record names.
    """
    server = source.server_name
    login = clean_text(login)
    alias, rule = source.identity.alias_for(login, server) if login else (None, None)
    if object_name and schema:
        target_type, target_name = object_type, f"{schema}.{object_name}"
    elif object_name:
        target_type, target_name = object_type, object_name
    elif schema:
        target_type, target_name = "schema", schema
    elif database:
        target_type, target_name = "database", database
    else:
        target_type, target_name = "database_server", server
    target_external_id = object_path(server, database, schema, object_name)
    if rule:
        properties = {**properties, "identity_rule": rule}
    return {
        "source_id": source_id,
        "event_id": event_id,
        "occurred_at": occurred_at,
        "category": category,
        "action": action,
        "outcome": outcome,
        "actor_external_id": login_actor_id(server, login) if login else None,
        "actor_name": login,
        "actor_principal_name": alias,
        "actor_type": "database_role" if login else "unknown",
        "target_external_id": target_external_id,
        "target_name": target_name,
        "target_type": target_type,
        "mfa": None,  # a database login says nothing about MFA
        "source_ip": source_ip,
        "country": None,
        "city": None,
        "user_agent": None,
        "client_app": client_app,
        "auth_method": auth_method,
        "error_code": error_code,
        "failure_reason": failure_reason,
        "properties": properties,
    }


# --- server logs read from files ---------------------------------------------------------


def _absolute_directory(value: str) -> str:
    # ${VAR} first: deployments (and the demo) keep log folders in the environment; expanded
    # when the folder is read
    if not os.path.isabs(value) and not re.match(r"^\$\{\w+\}", value):
        raise ValueError(f"{value!r} must be an absolute path (or start with ${{VARIABLE}})")
    return value


def _file_name_pattern(value: str) -> str:
    if "/" in value or "\\" in value or ".." in value:
        raise ValueError(
            f"file pattern {value!r} must match file names in the log directory: no path "
            "separators or '..'"
        )
    return value


#: The folder a server writes its log files to, as the worker sees it (absolute).
LogDirectory = Annotated[str, Field(min_length=1), AfterValidator(_absolute_directory)]
#: A shell pattern of file names in a :data:`LogDirectory` (rotated files included).
FileNamePattern = Annotated[
    str, Field(min_length=1, max_length=200), AfterValidator(_file_name_pattern)
]


class ServerLogSource(DatabaseSource):
    """A server's own log, read from its files (``log_directory`` + ``file_pattern``, rotated
    files included) or from a table the lines were loaded into (``table``): exactly one.
    Subclasses set :attr:`default_file_pattern` and :attr:`log_name` (for messages)."""

    #: The folder the server writes the log to, as this worker sees it.
    log_directory: LogDirectory | None = None
    #: Shell pattern of the log files and their rotations in ``log_directory``.
    file_pattern: FileNamePattern | None = None
    #: ``schema.table`` (or ``table``) the lines were loaded into, read over ``conn_id``.
    table: QualifiedName | None = None

    default_file_pattern: ClassVar[str] = "*"
    log_name: ClassVar[str] = "log"

    @model_validator(mode="after")
    def _one_place(self) -> ServerLogSource:
        if (self.log_directory is None) == (self.table is None):
            raise ValueError(
                f"give exactly one of log_directory (read the {self.log_name} files) or table "
                "(read a table the lines were loaded into)"
            )
        if self.table is not None and self.file_pattern is not None:
            raise ValueError("file_pattern applies to log_directory, not to table")
        return self

    @property
    def pattern(self) -> str:
        return self.file_pattern or self.default_file_pattern

    def where_read(self) -> str:
        """The doc's first sentence: where this source reads."""
        if self.table is None:
            return (
                f"Reads the {self.log_name} files `{self.pattern}` in `{self.log_directory}` "
                f"(connection `{self.conn_id}` names the server; files need no connection)."
            )
        return f"Reads the table `{self.table}` over connection `{self.conn_id}`."


def log_files(directory: Path, pattern: str, since: datetime) -> list[Path]:
    """The files matching ``pattern`` that can hold lines at or after ``since`` (modified since
    then: a line is written before its file's mtime), oldest first.

    Ordered by modification time, then name, so rotated files come in the order they were
    written whatever their names (``postgresql-Mon.csv`` sorts wrong by name)."""
    directory = Path(os.path.expandvars(directory))
    if "${" in str(directory):
        raise FileNotFoundError(f"{directory}: the environment variable it names is not set")
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory} is not a directory")
    threshold = since.timestamp()
    chosen = []
    with os.scandir(directory) as entries:
        for entry in entries:
            if not fnmatch.fnmatchcase(entry.name, pattern):
                continue
            try:
                if not entry.is_file():
                    continue
                mtime = entry.stat().st_mtime
            except FileNotFoundError:
                continue  # removed (rotated away) since the listing
            if mtime >= threshold:
                chosen.append((mtime, entry.name, Path(entry.path)))
    return [path for _, _, path in sorted(chosen)]


# --- connections ---------------------------------------------------------------------------


class SourceUnavailable(RuntimeError):
    """The source database could not be reached or read; says which and why (no secrets)."""


def postgres_conninfo(conn_id: str) -> str:
    """libpq connection string of an Airflow Postgres connection (the provider's connection
    fields; ``sslmode`` and friends from its extra)."""
    from access_warehouse.airflow_adapters.connections import postgres_dsn

    return postgres_dsn(conn_id)


def with_source_errors(conn_id: str, what: str) -> Callable[[BaseException], SourceUnavailable]:
    """A function turning a driver error into :class:`SourceUnavailable` naming the
    connection, so the DAG's log says which source is down."""

    def wrap(exc: BaseException) -> SourceUnavailable:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return SourceUnavailable(f"{what} (connection {conn_id!r}): {message}")

    return wrap


def _mysql_driver(connection: Any) -> tuple[str, tuple[type[BaseException], ...]]:
    """The client the provider hook will use for ``connection`` and its driver errors."""
    client = (connection.extra_dejson or {}).get("client", "mysqlclient")
    if client == "mysql-connector-python":
        import mysql.connector

        return client, (mysql.connector.Error,)
    import MySQLdb

    return client, (MySQLdb.Error,)


def mysql_connection(
    conn_id: str, kind: str
) -> tuple[Any, str, str, tuple[type[BaseException], ...]]:
    """(DB-API connection, client name, ``host:port``, driver errors) of a ``mysql`` Airflow
    connection, opened by the MySQL provider's hook (mysqlclient, or ``mysql-connector-python``
    when the extra says ``client``); ``SourceUnavailable`` naming the connection otherwise."""
    from access_warehouse.airflow_adapters.connections import (
        ConnectionNotDefined,
        airflow_connection,
        connection_hook,
    )

    try:
        connection = airflow_connection(conn_id)
    except ConnectionNotDefined as exc:
        raise SourceUnavailable(str(exc)) from None
    server = f"{connection.host or 'localhost'}:{connection.port or 3306}"
    conn_type = (connection.conn_type or "").lower()
    if conn_type != "mysql":
        raise SourceUnavailable(
            f"connection {conn_id!r} is of type {conn_type!r}; {kind} reads over a "
            "`mysql` connection (apache-airflow-providers-mysql)"
        )
    hook = connection_hook(connection)
    if hook is None or not hasattr(hook, "get_conn"):
        raise SourceUnavailable(
            f"connection {conn_id!r}: no MySQL provider hook (install "
            "apache-airflow-providers-mysql)"
        )
    try:
        client, errors = _mysql_driver(connection)
    except ImportError as exc:
        raise SourceUnavailable(f"connection {conn_id!r}: {exc}") from None
    wrap = with_source_errors(conn_id, f"cannot connect to {server}")
    try:
        return hook.get_conn(), client, server, errors
    except (*errors, ValueError) as exc:  # ValueError: the hook's unknown client
        raise wrap(exc) from None


def mysql_stream_cursor(conn: Any, client: str, *, as_dict: bool = True) -> Any:
    """A cursor that streams rows (server side: the result is not held in memory), as dicts
    unless ``as_dict`` is false."""
    if client == "mysql-connector-python":
        return conn.cursor(dictionary=as_dict, buffered=False)
    import MySQLdb.cursors

    return conn.cursor(MySQLdb.cursors.SSDictCursor if as_dict else MySQLdb.cursors.SSCursor)
