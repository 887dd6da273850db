"""Source kind ``generic_sql``: any table or view that SQLAlchemy can reach, mapped in config.

An application that writes its own access log into a database table (``app.access_log``:
who, when, what, from where) becomes a database source without code: the config names the
Airflow connection, the table and which column is the time, the login, the action, the key and
so on. The fetch reflects the table, checks that every configured column exists, and streams
``SELECT <every column> FROM <table> WHERE ...`` built from SQLAlchemy constructs only (names
quoted by the dialect, values bound), in pages of ``page_size`` rows. Rows land as JSON objects
keyed by column name; the normaliser maps them to the access-event contract with
:func:`access_warehouse.sources.database.database_event`.

Imports of SQLAlchemy and Airflow happen inside the fetch only: DAG files import this module to
parse.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import enum
import hashlib
import json
import math
import socket
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator, model_validator

from access_warehouse.contract import NormalisationError
from access_warehouse.normalise import clean_text
from access_warehouse.sources.base import (
    Bookmark,
    Fetcher,
    FetchRequest,
    Normaliser,
    Page,
    Position,
    Selection,
    SourceKind,
    StrictModel,
    TimeWindow,
)
from access_warehouse.sources.database import (
    DatabaseSource,
    Identifier,
    QualifiedName,
    SourceUnavailable,
    database_event,
    local_time,
    split_qualified,
    with_source_errors,
)
from access_warehouse.sources.registry import register_kind

if TYPE_CHECKING:
    from sqlalchemy.engine import URL, Connection, Engine

OUTCOME = Literal["success", "failure", "unknown"]

#: Outcome values understood without an ``outcome_values`` mapping (compared lower-cased).
DEFAULT_OUTCOME_VALUES: dict[str, str] = {
    "success": "success",
    "failure": "failure",
    "unknown": "unknown",
    "true": "success",
    "false": "failure",
}

#: The prefix of a hashed event id (rows of a table without a key).
HASH_PREFIX = "sha256:"

_TYPE_NAME = r"^[a-z][a-z0-9_]{0,40}$"


def _outcome_key(value: Any) -> str | None:
    """A source's outcome value as the text ``outcome_values`` is keyed by."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | decimal.Decimal | str):
        text = str(value).strip().lower()
        return text or None
    return None


class ColumnMapping(StrictModel):
    """Which column of the table gives which field of an access event.

    Every column name is a plain identifier (:func:`check_identifier`), quoted by SQLAlchemy.
    """

    time: Identifier
    actor: Identifier
    action: Identifier | None = None
    #: A constant action for tables that record one kind of access (``login``).
    action_value: str | None = Field(None, min_length=1, max_length=200)
    #: The natural key; omitted, an event's id is the SHA-256 of the whole row.
    key: tuple[Identifier, ...] | None = Field(None, min_length=1, max_length=8)
    outcome: Identifier | None = None
    #: Source value (compared as lower-case text) -> outcome; unmapped values are ``unknown``.
    outcome_values: dict[str, OUTCOME] | None = None
    target: Identifier | None = None
    target_type: str = Field("table", pattern=_TYPE_NAME)
    database: Identifier | None = None
    schema_column: Identifier | None = Field(None, alias="schema")
    source_ip: Identifier | None = None
    statement: Identifier | None = None

    @field_validator("key", mode="before")
    @classmethod
    def _one_key_is_a_list_of_one(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value

    @field_validator("key")
    @classmethod
    def _distinct_key(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is not None and len(set(value)) != len(value):
            raise ValueError(f"key columns repeat: {list(value)}")
        return value

    @field_validator("outcome_values", mode="before")
    @classmethod
    def _text_keys(cls, value: Any) -> Any:
        # YAML reads `true:` and `0:` as a bool and an int; the source's values compare as text.
        if not isinstance(value, dict):
            return value
        keys: dict[str, Any] = {}
        for raw_key, outcome in value.items():
            key = _outcome_key(raw_key)
            if key is None:
                raise ValueError(f"outcome value {raw_key!r} is not a text or number")
            if key in keys:
                raise ValueError(f"outcome value {raw_key!r} is given twice (case-insensitive)")
            keys[key] = outcome
        return keys

    @model_validator(mode="after")
    def _consistent(self) -> ColumnMapping:
        if (self.action is None) == (self.action_value is None):
            raise ValueError("give exactly one of `action` (a column) and `action_value`")
        if self.outcome_values is not None and self.outcome is None:
            raise ValueError("`outcome_values` maps the `outcome` column's values: name it")
        return self

    def mapped(self) -> tuple[str, ...]:
        """Every column put into a contract column (the rest go to ``properties``)."""
        names = (
            self.time,
            self.actor,
            self.action,
            self.outcome,
            self.target,
            self.database,
            self.schema_column,
            self.source_ip,
            self.statement,
            *(self.key or ()),
        )
        return tuple(dict.fromkeys(name for name in names if name))

    def outcome_of(self, value: Any) -> tuple[str, bool]:
        """(the outcome of a source value, whether the mapping knew the value)."""
        key = _outcome_key(value)
        values = self.outcome_values if self.outcome_values is not None else DEFAULT_OUTCOME_VALUES
        if key is not None and key in values:
            return values[key], True
        return "unknown", value is None


class BookmarkConfig(StrictModel):
    """Forward only on an increasing column; rows with the same value are ordered by the key."""

    cursor: Identifier
    #: Re-read rows whose cursor is at most this many units (numbers) or seconds (timestamps)
    #: behind the bookmark: a row committed late with a lower value is picked up.
    overlap: int = Field(0, ge=0, le=10**12)


class GenericSqlSource(DatabaseSource):
    """A table or view holding an access log, read through an Airflow connection."""

    kind: Literal["generic_sql"]
    #: ``schema.table`` or ``table``; a view works too.
    table: QualifiedName
    columns: ColumnMapping
    category: str = Field("database", pattern=_TYPE_NAME)
    # `selection` is the key in YAML; the attribute may not shadow DatabaseSource.selection().
    mode: Literal["window", "bookmark"] = Field("window", alias="selection")
    bookmark: BookmarkConfig | None = None

    @model_validator(mode="after")
    def _bookmark_needs(self) -> GenericSqlSource:
        if self.mode == "bookmark":
            if self.bookmark is None:
                raise ValueError("selection bookmark needs `bookmark: {cursor: <column>}`")
            if not self.columns.key:
                raise ValueError(
                    "selection bookmark needs `columns.key`: the key orders rows with the same "
                    "cursor value, so that none is skipped or read twice"
                )
        elif self.bookmark is not None:
            raise ValueError("`bookmark` applies to `selection: bookmark` only")
        return self

    # --- what DatabaseSource asks of a kind ---
    def selection(self) -> Selection:
        if self.mode == "bookmark":
            assert self.bookmark is not None and self.columns.key
            return Bookmark(cursor=self.bookmark.cursor, tiebreak=", ".join(self.columns.key))
        return TimeWindow(lookback=self.lookback, time_field=self.columns.time)

    def fetcher(self) -> Fetcher:
        return self.fetch

    def normaliser(self) -> Normaliser:
        return self.normalise

    def login_of(self, record: dict[str, Any]) -> str | None:
        return clean_text(record.get(self.columns.actor))

    def kind_doc(self) -> str:
        columns = self.columns
        rows = [
            ("occurred_at", f"`{columns.time}` (naive values in {self.timezone})"),
            ("actor (login)", f"`{columns.actor}`"),
            (
                "action",
                f"`{columns.action}`" if columns.action else f"constant `{columns.action_value}`",
            ),
            ("outcome", f"`{columns.outcome}`" if columns.outcome else "unknown (no column)"),
            (
                "target",
                f"`{columns.target}` ({columns.target_type})" if columns.target else "the server",
            ),
            ("source_ip", f"`{columns.source_ip}`" if columns.source_ip else "-"),
            ("properties.statement", f"`{columns.statement}`" if columns.statement else "-"),
            (
                "event_id",
                ", ".join(f"`{key}`" for key in columns.key)
                if columns.key
                else "SHA-256 of the whole row (no key configured)",
            ),
        ]
        selection = (
            f"forward-only bookmark on `{self.bookmark.cursor}` (overlap {self.bookmark.overlap})"
            if self.bookmark
            else f"time window on `{columns.time}`, {self.lookback_minutes} min lookback"
        )
        table = "\n".join(f"| {field} | {source} |" for field, source in rows)
        return (
            f"Table or view `{self.table}`; {selection}; category `{self.category}`.\n\n"
            f"| event field | from |\n|---|---|\n{table}\n\n{DOC}"
        )

    # --- fetch ---
    def fetch(self, request: FetchRequest) -> Iterator[Page]:
        """Pages of the table's rows for the request's window or after its bookmark."""
        import sqlalchemy as sa

        wrap = with_source_errors(self.conn_id, f"reading {self.table}")
        engine = self._engine()
        try:
            with engine.connect() as conn:
                snapshot = conn.dialect.name == "postgresql"
                if snapshot:
                    # Defence in depth: SELECT is all this source ever needs. One snapshot for
                    # the whole read, so the window's count(*) and its rows are comparable.
                    conn = conn.execution_options(
                        postgresql_readonly=True, isolation_level="REPEATABLE READ"
                    )
                query = _Query(self, conn, request)
                self._completeness(conn, query, request, snapshot)
                result = conn.execution_options(yield_per=self.page_size).execute(query.select)
                request.stats.requests += 1
                for rows in result.partitions():
                    yield Page(
                        records=[
                            {name: json_safe(value) for name, value in row._mapping.items()}
                            for row in rows
                        ],
                        position=query.position_after(rows[-1]) if self.bookmark else None,
                    )
        except (sa.exc.SQLAlchemyError, OSError) as exc:
            request.stats.connection_errors += 1
            raise wrap(exc) from None
        finally:
            engine.dispose()

    def _completeness(
        self, conn: Connection, query: _Query, request: FetchRequest, snapshot: bool
    ) -> None:
        """What the read asks (the SELECT as the dialect compiles it, with its bound values)
        and, unless ``count_window`` is off, the source's ``count(*)`` over the same rows, taken
        just before them in the same transaction (``snapshot``: in the same snapshot too)."""
        import sqlalchemy as sa

        compiled = query.select.compile(conn)
        request.stats.asked.update(
            table=self.table,
            query=str(compiled),
            parameters={name: json_safe(value) for name, value in compiled.params.items()},
        )
        if not self.count_window:
            return
        counting = sa.select(sa.func.count()).select_from(query.select.order_by(None).subquery())
        count = conn.execute(counting).scalar_one()
        request.stats.requests += 1
        request.stats.source_count = int(count)
        request.stats.source_said.update(count=int(count), count_snapshot=snapshot)

    def _engine(self) -> Engine:
        import sqlalchemy as sa
        from sqlalchemy.pool import NullPool

        url = connection_url(self.conn_id)
        connect_args: dict[str, Any] = {}
        if url.get_backend_name() == "postgresql" and "connect_timeout" not in url.query:
            connect_args["connect_timeout"] = 15
        try:
            return sa.create_engine(url, poolclass=NullPool, connect_args=connect_args)
        except (sa.exc.SQLAlchemyError, ImportError) as exc:
            raise with_source_errors(self.conn_id, "connecting")(exc) from None

    # --- normalise ---
    def normalise(self, record: dict[str, Any], source_id: str) -> dict[str, Any]:
        """One row (column -> JSON value, as landed) -> one access event."""
        columns = self.columns
        occurred_at = self._time(record.get(columns.time), columns.time)
        event_id = self._event_id(record)
        if columns.action:
            action = clean_text(record.get(columns.action))
            if action is None:
                raise NormalisationError(f"missing action (column {columns.action})")
        else:
            action = columns.action_value
        mapped = set(columns.mapped())
        properties = {name: value for name, value in record.items() if name not in mapped}
        outcome = "unknown"
        if columns.outcome:
            raw_outcome = record.get(columns.outcome)
            outcome, known = columns.outcome_of(raw_outcome)
            if not known:  # the mapping loses this value: keep what the source said
                properties[columns.outcome] = raw_outcome
        source_ip = None
        if columns.source_ip:
            raw_ip = record.get(columns.source_ip)
            source_ip = _ip_text(raw_ip)
            if source_ip is None and raw_ip is not None:
                properties[columns.source_ip] = raw_ip
        if columns.statement:
            if "statement" in properties:  # an unmapped column of that name keeps its value
                properties["statement_column"] = properties.pop("statement")
            properties["statement"] = record.get(columns.statement)
        return database_event(
            self,
            source_id,
            event_id=event_id,
            occurred_at=occurred_at,
            category=self.category,
            action=action,
            outcome=outcome,
            login=clean_text(record.get(columns.actor)),
            properties=properties,
            database=_object_part(record, columns.database),
            schema=_object_part(record, columns.schema_column),
            object_name=_object_part(record, columns.target),
            object_type=columns.target_type,
            source_ip=source_ip,
        )

    def _time(self, value: Any, field: str) -> dt.datetime:
        if value is None or value == "":
            raise NormalisationError(f"missing {field}")
        if not isinstance(value, str | dt.datetime):
            raise NormalisationError(f"bad {field} {value!r}: not a timestamp")
        return local_time(value, self.zone, field)

    def _event_id(self, record: dict[str, Any]) -> str:
        if not self.columns.key:
            return row_hash(record)
        values = []
        for name in self.columns.key:
            value = record.get(name)
            if isinstance(value, dict | list) or value is None or value == "":
                raise NormalisationError(f"missing key {name}" if not value else f"bad key {name}")
            values.append(value)
        if len(values) == 1:
            return str(values[0])
        # Several columns: a JSON array, so that ("a|b", "c") and ("a", "b|c") differ.
        return json.dumps(values, ensure_ascii=False, separators=(",", ":"))


def _object_part(record: dict[str, Any], column: str | None) -> str | None:
    return clean_text(record.get(column)) if column else None


def _ip_text(value: Any) -> str | None:
    """An IPv4/IPv6 address as the contract stores it (``inet``), or None."""
    text = clean_text(value)
    if text is None:
        return None
    text = text.strip()
    # Postgres `inet` columns come back as host/prefix when the prefix is not the full one.
    for suffix in ("/32", "/128"):
        if text.endswith(suffix):
            text = text[: -len(suffix)]
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in text else socket.AF_INET, text)
    except (OSError, ValueError):
        return None
    return text


def row_hash(record: dict[str, Any]) -> str:
    """The event id of a row without a key: SHA-256 of the row as landed (sorted keys, compact
    JSON, ASCII escapes), so the same row always gets the same id."""
    text = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return HASH_PREFIX + hashlib.sha256(text.encode()).hexdigest()


def json_safe(value: Any) -> Any:
    """A database value as JSON: timestamps as ISO 8601 (an aware one keeps its offset, a naive
    one stays naive), decimals as exact text, bytes as ``base64:...``, UUIDs, addresses and
    enums as text, intervals as seconds; NaN and infinities as text (JSON has none)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes | bytearray | memoryview):
        return "base64:" + base64.b64encode(bytes(value)).decode()
    if isinstance(value, enum.Enum):
        return json_safe(value.value)
    if isinstance(value, dict):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(item) for item in value]
    return str(value)  # UUIDs, addresses (ipaddress objects), anything else: its text


# --- the connection ------------------------------------------------------------------------

#: Airflow connection types without a provider hook here -> their SQLAlchemy driver.
_FALLBACK_DRIVERS = {"postgres": "postgresql+psycopg", "postgresql": "postgresql+psycopg"}


def connection_url(conn_id: str) -> URL:
    """The SQLAlchemy URL of an Airflow connection: the provider hook's ``sqlalchemy_url`` (or
    its ``get_uri()``), else built from the connection's fields (SQLite: the file in ``host``,
    opened read-only; others: extra ``sqlalchemy_scheme`` as the driver). A bare Postgres
    driver becomes psycopg 3, the driver this project installs."""
    from sqlalchemy.engine import URL, make_url

    from access_warehouse.airflow_adapters.connections import (
        ConnectionNotDefined,
        airflow_connection,
        connection_hook,
    )

    try:
        connection = airflow_connection(conn_id)
    except ConnectionNotDefined as exc:
        raise SourceUnavailable(str(exc)) from None
    url: URL | None = None
    hook = connection_hook(connection)  # None: no provider for the type; built below
    if hook is not None:
        try:
            url = make_url(hook.sqlalchemy_url)
        except (NotImplementedError, AttributeError):
            uri = getattr(hook, "get_uri", None)
            url = make_url(uri()) if uri else None
        except Exception as exc:
            raise with_source_errors(conn_id, "building the connection URL")(exc) from None
    if url is None:
        extra = connection.extra_dejson or {}
        conn_type = (connection.conn_type or "").lower()
        if conn_type == "sqlite":
            path = connection.host or connection.schema
            if not path:
                raise SourceUnavailable(f"connection {conn_id!r}: a sqlite connection needs host")
            # mode=ro: SELECT is all this source needs, and a wrong path must not create a file.
            return URL.create(
                "sqlite", database=f"file:{path}", query={"mode": "ro", "uri": "true"}
            )
        driver = extra.get("sqlalchemy_scheme") or _FALLBACK_DRIVERS.get(conn_type)
        if not driver:
            raise SourceUnavailable(
                f"connection {conn_id!r} (type {conn_type!r}): no provider hook gives a "
                "SQLAlchemy URL; set the connection's extra `sqlalchemy_scheme` (e.g. "
                "mysql+pymysql)"
            )
        url = URL.create(
            driver,
            username=connection.login or None,
            password=connection.password or None,
            host=connection.host or None,
            port=connection.port or None,
            database=connection.schema or None,
        )
    if url.drivername in ("postgres", "postgresql"):
        url = url.set(drivername="postgresql+psycopg")
    elif url.drivername.startswith("postgres+"):
        url = url.set(drivername="postgresql+" + url.drivername.split("+", 1)[1])
    return url


# --- the query -----------------------------------------------------------------------------


class _Query:
    """The SELECT of one fetch, built from the reflected table (names quoted by SQLAlchemy,
    values bound, typed by their column so that each dialect compares like with like)."""

    def __init__(self, source: GenericSqlSource, conn: Connection, request: FetchRequest) -> None:
        import sqlalchemy as sa

        self.source = source
        self.after: tuple[Any, list[Any]] | None = None
        self.sqlite = conn.dialect.name == "sqlite"
        parts = split_qualified(source.table)
        schema, name = (None, parts[0]) if len(parts) == 1 else parts
        try:
            reflected = sa.inspect(conn).get_columns(name, schema=schema)
        except sa.exc.NoSuchTableError:
            raise SourceUnavailable(
                f"table or view {source.table!r} not found or not readable "
                f"(connection {source.conn_id!r})"
            ) from None
        self.types = {column["name"]: column["type"] for column in reflected}
        self._check_columns()
        table = sa.table(name, *(sa.column(column) for column in self.types), schema=schema)
        # Every column comes back as the driver gives it: typed result processing would fail a
        # whole batch on one odd value (SQLite parses its text timestamps).
        self.table = table
        columns = source.columns
        keys = [table.c[key] for key in columns.key or ()]
        select = sa.select(*table.c)
        if source.bookmark is None:
            window = request.window
            time = table.c[columns.time]
            select = select.where(
                time >= self._bound(window.start, columns.time),
                time < self._bound(window.end, columns.time),
            ).order_by(time, *keys)
        else:
            cursor = table.c[source.bookmark.cursor]
            select = select.where(cursor.is_not(None))
            self.after = self._typed_position(request.after)
            if self.after is not None:
                select = select.where(self._after_predicate(cursor, keys, self.after))
            select = select.order_by(cursor, *keys)
        self.select = select

    def _check_columns(self) -> None:
        source = self.source
        wanted = list(source.columns.mapped())
        if source.bookmark:
            wanted.append(source.bookmark.cursor)
        lower = {name.lower(): name for name in self.types}
        for name in dict.fromkeys(wanted):
            if name in self.types:
                continue
            hint = f" (did you mean {lower[name.lower()]!r}?)" if name.lower() in lower else ""
            raise SourceUnavailable(
                f"column {name!r} is not in {source.table}{hint}; its columns are "
                f"{sorted(self.types)} (connection {source.conn_id!r})"
            )

    # --- window ---
    def _bound(self, moment: dt.datetime, column: str) -> Any:
        import sqlalchemy as sa

        column_type = self.types[column]
        local = moment.astimezone(self.source.zone).replace(tzinfo=None)
        if self.sqlite:
            # SQLite keeps timestamps as text and compares text: the configured zone, in the
            # format its driver writes (`YYYY-MM-DD HH:MM:SS[.ffffff]`).
            return sa.literal(local.isoformat(sep=" "), sa.String())
        if isinstance(column_type, sa.DateTime):
            if column_type.timezone:
                return sa.literal(moment, column_type)
            return sa.literal(local, column_type)
        if isinstance(column_type, sa.types.NullType):
            return sa.literal(moment)
        raise SourceUnavailable(
            f"column {column!r} of {self.source.table} is {column_type}, not a timestamp: a "
            "time window needs one (or use selection: bookmark) "
            f"(connection {self.source.conn_id!r})"
        )

    # --- bookmark ---
    def _column_value(self, value: Any, column: str) -> Any:
        """A landed (JSON) value back in its column's Python type, for binding."""
        if value is None or self.sqlite:
            return value  # SQLite compares what it stores: the landed text or number
        try:
            python_type = self.types[column].python_type
        except NotImplementedError:
            return value
        try:
            if python_type is dt.datetime and isinstance(value, str):
                return dt.datetime.fromisoformat(value)
            if python_type is dt.date and isinstance(value, str):
                return dt.date.fromisoformat(value)
            if python_type is decimal.Decimal:
                return decimal.Decimal(str(value))
            if python_type is int and isinstance(value, str):
                return int(value)
            if python_type is uuid.UUID and isinstance(value, str):
                return uuid.UUID(value)
        except ValueError:
            raise SourceUnavailable(
                f"the stored bookmark's {column} {value!r} is no {python_type.__name__} "
                f"(connection {self.source.conn_id!r})"
            ) from None
        return value

    def _typed_position(self, after: Position | None) -> tuple[Any, list[Any]] | None:
        if not after:
            return None
        assert self.source.bookmark is not None
        keys = self.source.columns.key or ()
        stored = after.get("key")
        if not isinstance(stored, list) or len(stored) != len(keys):
            raise SourceUnavailable(
                f"the stored bookmark {after!r} does not match the key columns {list(keys)}: "
                "the key changed; reset the bookmark"
            )
        cursor = self._column_value(after.get("cursor"), self.source.bookmark.cursor)
        return cursor, [self._column_value(v, k) for v, k in zip(stored, keys, strict=True)]

    def _param(self, value: Any, column: str) -> Any:
        import sqlalchemy as sa

        return sa.literal(value) if self.sqlite else sa.literal(value, self.types[column])

    def _after_predicate(self, cursor: Any, keys: list[Any], after: tuple[Any, list[Any]]) -> Any:
        import sqlalchemy as sa

        assert self.source.bookmark is not None
        name = self.source.bookmark.cursor
        value, key_values = after
        overlap = self.source.bookmark.overlap
        if overlap:
            # Re-read the last `overlap` units: what committed late behind the bookmark lands
            # now, and the natural-key upsert makes re-reading what was loaded a no-op.
            if isinstance(value, dt.datetime):
                start = value - dt.timedelta(seconds=overlap)
            elif isinstance(value, int | float | decimal.Decimal) and not isinstance(value, bool):
                start = value - overlap
            else:
                raise SourceUnavailable(
                    f"bookmark overlap needs a numeric or timestamp cursor; {name} is "
                    f"{value!r} (connection {self.source.conn_id!r})"
                )
            return cursor >= self._param(start, name)
        # (cursor, key...) > (value, key values...), spelled out: not every dialect has row
        # values.
        key_names = self.source.columns.key or ()
        tail: Any = sa.false()
        for column, column_name, key_value in reversed(
            list(zip(keys, key_names, key_values, strict=True))
        ):
            param = self._param(key_value, column_name)
            tail = sa.or_(column > param, sa.and_(column == param, tail))
        param = self._param(value, name)
        return sa.or_(cursor > param, sa.and_(cursor == param, tail))

    def position_after(self, row: Any) -> Position:
        """The bookmark position of ``row``, never behind the stored one (with an overlap, a
        re-read can end behind it if rows were deleted)."""
        assert self.source.bookmark is not None
        mapping = row._mapping
        keys = self.source.columns.key or ()
        cursor = mapping[self.source.bookmark.cursor]
        key_values = [mapping[key] for key in keys]
        if self.after is not None:
            try:
                if (cursor, key_values) < (self.after[0], self.after[1]):
                    cursor, key_values = self.after
            except TypeError:
                pass  # values of different types: the row's position stands
        return {"cursor": json_safe(cursor), "key": [json_safe(value) for value in key_values]}


# --- the kind ------------------------------------------------------------------------------

DOC = """\
**generic_sql** reads any table or view on a database that SQLAlchemy reaches through an
Airflow connection (Postgres through psycopg 3; SQLite files; any dialect whose driver is
installed), with the mapping to the access-event contract written in config.

What it records: exactly what the table holds, one event per row, nothing more. It cannot
know what the application did not write: a table without an outcome column gives outcome
`unknown`; without a source address column, no `source_ip`; MFA is never known (NULL).

Mapping (`columns:`; every name a plain identifier, quoted by SQLAlchemy, never spliced):
- `time` (required) -> `occurred_at`: timestamp with time zone as is; naive timestamps (and
  text without an offset) are in the source's `timezone` (during the autumn DST change a naive
  hour is ambiguous: store UTC or timestamptz where possible);
- `actor` (required) -> the login, scoped to the server (identity rules map it to a person);
- `action` (a column) or `action_value` (a constant);
- `outcome` with `outcome_values` (source value, compared as lower-case text -> `success` /
  `failure` / `unknown`; without a mapping `success`, `failure`, `true`, `false` are
  understood); a value the mapping does not know is `unknown` and kept in `properties`;
- `target` (+ constant `target_type`, default `table`), optional `database` and `schema`
  columns: the config item `server/database/schema/target`; without a target column the
  target is the server (`server`, default the source's name);
- `source_ip` (an invalid address is kept in `properties`, `source_ip` stays empty);
- `statement` -> `properties.statement` (masked by the redaction patterns before landing);
- every other column -> `properties` under its name.

Values land as JSON: timestamps as ISO 8601 (keeping their offset, or naive), decimals as exact
text, bytes as `base64:...`, UUIDs and addresses as text, intervals as seconds.

Natural key: `columns.key` (one or more columns; several give a JSON array as `event_id`).
Without a key, `event_id` is `sha256:` + the SHA-256 of the whole row as landed: stable while
the row is unchanged, but a row updated in place becomes a new event, two identical rows are
one event, and changing `redact_patterns` re-keys rows whose text it changes. Prefer a key.

Selection: `selection: window` reads `[interval start - lookback_minutes, interval end)` on
the `time` column (which must be a timestamp; on SQLite, text in the
`YYYY-MM-DD HH:MM:SS[.ffffff]` form, in `timezone`). `selection: bookmark` reads forward on
`bookmark.cursor` (an increasing number or timestamp, never NULL: rows with a NULL cursor are
not read) with the key as tie-break (`columns.key` is then required); `bookmark.overlap`
re-reads the last N cursor units (seconds for a timestamp cursor), so a row committed late
behind the bookmark is still picked up; natural-key upserts make the re-read exact. An index on
the time column (window) or on (cursor, key) (bookmark) keeps each run cheap. Rows are streamed
in pages of `page_size` (a server-side cursor where the driver has one).

Completeness (`dq.completeness`): each read records its SELECT as the dialect compiles it and
its bound values, and, unless `count_window: false`, a `count(*)` over the same rows taken
just before them in the same transaction. On Postgres the read runs in one read-only
REPEATABLE READ snapshot, so count and rows must agree exactly. Elsewhere (SQLite, other
dialects) the count is a separate statement over a live table and can differ by rows written
in between: a count below the rows extracted is accepted (rows committed after the count), a
count above it marks the window `not_reconciled` (rows the read did not return).

Minimum privileges: SELECT on the table or view only (plus CONNECT/USAGE on its database and
schema). Postgres sessions are opened read-only; SQLite files are opened with `mode=ro`.

Errors connecting or querying stop the extract with `SourceUnavailable` naming the connection
(never its password); a configured column the table lacks is named with the table's columns.
"""

EXAMPLE: dict[str, Any] = {
    "name": "billing_app",
    "conn_id": "billing_db",
    "server": "billing-prod",
    "table": "app.access_log",
    "columns": {
        "time": "created_at",
        "actor": "username",
        "action": "action",
        "key": ["id"],
        "outcome": "status",
        "outcome_values": {"ok": "success", "denied": "failure"},
        "target": "resource",
        "source_ip": "client_ip",
        "statement": "query_text",
    },
    "category": "database",
    "selection": "window",
    "lookback_minutes": 60,
    "timezone": "Europe/Berlin",
}

GENERIC_SQL = register_kind(
    SourceKind(
        name="generic_sql",
        config=GenericSqlSource,
        summary="any table or view on a SQLAlchemy-reachable database, mapped in config",
        doc=DOC,
        example=EXAMPLE,
    )
)
