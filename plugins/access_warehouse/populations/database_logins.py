"""Population kinds ``postgres_logins`` and ``mysql_logins``: a database server's logins.

Reported against the server's database sources (``sources``), so a login carries the two
identifiers its events do (:func:`access_warehouse.sources.database.database_event`): the
actor id scoped to the server (``app-db/adele.vance``) for every listed source's server, and
the alias the identity rule of ``identity_from`` (default: the first listed source) gives it
(``adele.vance@contoso.onmicrosoft.com``). Reporting matches both against
``audit.external_user_aliases``.

- ``postgres_logins``: ``pg_roles`` without the built-in ``pg_*`` roles (readable by any login)
  over the database kinds' Postgres connection helper. ``user_type`` ``login`` when the role has
  LOGIN, else ``role``; ``enabled`` = LOGIN and VALID UNTIL not passed; superuser, CREATEROLE,
  CREATEDB, REPLICATION, BYPASSRLS, connection limit, VALID UNTIL and the roles it is a member
  of in ``properties`` (a change to any of them is a new version).
- ``mysql_logins``: ``mysql.user`` (MariaDB 10.4+: with ``mysql.global_priv``, where account
  locking lives) over ``mysql_connection``. ``account_id`` = ``user@host``; ``enabled`` false
  when the account is locked (and for MariaDB roles); ``account_locked``, ``password_expired``,
  the authentication plugin and the global SUPER / GRANT / CREATE USER privileges in
  ``properties``. Password hashes are never read.

The SQL is in ``include/sql/populations/``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, PrivateAttr

from access_warehouse.populations.base import Account, PopulationConfig, PopulationKind
from access_warehouse.populations.registry import register_population_kind
from access_warehouse.sources.base import RequestStats

if TYPE_CHECKING:
    from access_warehouse.config import SourcesConfig
    from access_warehouse.sources.database import IdentityRule

SQL = "populations"
CONNECT_TIMEOUT_S = 10


class DatabaseLoginsPopulation(PopulationConfig):
    """The logins of one database server, read over ``conn_id``."""

    #: Database sources on this server (at least one): their events are these logins'.
    sources: tuple[str, ...] = Field(min_length=1)
    #: The source whose identity rule turns a login into the person's alias (default: the
    #: first of ``sources``); any configured database source.
    identity_from: str | None = None
    page_size: int = Field(1000, ge=1, le=100_000)

    id_prefix: ClassVar[str] = "database"

    #: Set by :meth:`bind`: the listed sources' server names, and the rule with its server.
    _servers: tuple[str, ...] = PrivateAttr(default=())
    _rule: IdentityRule | None = PrivateAttr(default=None)
    _rule_server: str = PrivateAttr(default="")

    def bind(self, sources: SourcesConfig) -> DatabaseLoginsPopulation:
        from access_warehouse.sources.database import DatabaseSource

        by_id = {
            source.source_id: source
            for source in sources.sources
            if isinstance(source, DatabaseSource)
        }
        not_database = [source_id for source_id in self.sources if source_id not in by_id]
        if not_database:
            raise ValueError(
                f"sources {not_database} are no database sources: a login's events come "
                "from the database sources of its server"
            )
        rule_id = self.identity_from or self.sources[0]
        if rule_id not in by_id:
            raise ValueError(
                f"identity_from {rule_id!r} is no database source of the sources config; "
                f"database sources: {sorted(by_id)}"
            )
        bound = self.model_copy()
        bound._servers = tuple(dict.fromkeys(by_id[s].server_name for s in self.sources))
        bound._rule = by_id[rule_id].identity
        bound._rule_server = by_id[rule_id].server_name
        return bound

    @property
    def servers(self) -> tuple[str, ...]:
        return self._servers

    def aliases_of(self, login: str) -> tuple[str, ...]:
        """The identifiers ``login``'s events carry: the server-scoped actor id for each
        listed source's server, and the identity rule's alias (normalised)."""
        from access_warehouse.normalise import clean_text
        from access_warehouse.resolve import normalise_alias
        from access_warehouse.sources.database import login_actor_id

        cleaned = clean_text(login)
        if cleaned is None:
            return ()  # an anonymous account: no event names it
        aliases = [normalise_alias(login_actor_id(server, cleaned)) for server in self._servers]
        if self._rule is not None:
            alias, _ = self._rule.alias_for(cleaned, self._rule_server)
            aliases.append(alias)
        return tuple(dict.fromkeys(alias for alias in aliases if alias))

    def _identity_doc(self) -> str:
        rule = self.identity_from or self.sources[0]
        servers = ", ".join(self._servers) or "?"
        listed = ", ".join(f"`{source}`" for source in self.sources)
        return (
            f"Aliases: the server-scoped login (`{servers}/<login>`) and the identity rule of "
            f"`{rule}`. Events of: {listed}."
        )


class PostgresLoginsPopulation(DatabaseLoginsPopulation):
    kind: Literal["postgres_logins"]

    def read(self, stats: RequestStats) -> Iterator[list[Account]]:
        import psycopg
        from psycopg.conninfo import conninfo_to_dict, make_conninfo

        from access_warehouse.sources.database import (
            SourceUnavailable,
            postgres_conninfo,
            with_source_errors,
        )
        from access_warehouse.warehouse import sql

        try:
            conninfo = postgres_conninfo(self.conn_id)
        except Exception as exc:  # an undefined or unreadable Airflow connection
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise SourceUnavailable(
                f"connection {self.conn_id!r} cannot be read: {first}"
            ) from None
        if "connect_timeout" not in conninfo_to_dict(conninfo):
            conninfo = make_conninfo(conninfo, connect_timeout=CONNECT_TIMEOUT_S)
        query = sql(f"{SQL}/postgres_roles.sql")
        stats.asked.update(conn_id=self.conn_id, query=query)
        wrap = with_source_errors(self.conn_id, "cannot read pg_roles")
        pages = 0
        try:
            stats.requests += 1
            with psycopg.connect(conninfo) as conn:
                conn.read_only = True  # one read-only transaction: a consistent listing
                stats.source_said.update(server_version=conn.info.server_version)
                cursor = conn.execute(query)  # type: ignore[arg-type]
                columns = [column.name for column in cursor.description or ()]
                while rows := cursor.fetchmany(self.page_size):
                    pages += 1
                    yield [self._account(dict(zip(columns, row, strict=True))) for row in rows]
        except psycopg.Error as exc:
            raise wrap(exc) from None
        stats.source_said.update(pages=pages)

    def _account(self, row: dict[str, Any]) -> Account:
        properties = {
            key: row[key]
            for key in (
                "oid",
                "superuser",
                "create_role",
                "create_db",
                "replication",
                "bypass_rls",
                "inherit",
                "connection_limit",
                "valid_until",
                "member_of",
            )
        }
        properties["can_login"] = row["can_login"]
        return Account(
            account_id=row["name"],
            principal_name=row["name"],
            enabled=bool(row["enabled"]),
            user_type="login" if row["can_login"] else "role",
            # a role without LOGIN keeps its aliases: revoking LOGIN does not make it someone
            # else, and its past events still name it
            aliases=self.aliases_of(row["name"]),
            properties=properties,
        )

    def describe(self) -> str:
        return (
            f"PostgreSQL roles (`pg_roles`, built-in `pg_*` left out) over connection "
            f"`{self.conn_id}`. {self._identity_doc()}"
        )


def _yes(value: Any) -> bool:
    """MySQL's 'Y'/'N' columns and MariaDB's JSON true (read as '1' or 'true')."""
    if isinstance(value, bytes):
        value = value.decode()
    return str(value).strip().lower() in ("y", "1", "true")


def _epoch_iso(value: Any) -> str | None:
    try:
        seconds = int(float(value))
    except (TypeError, ValueError):
        return None
    # 0: MariaDB's "never changed" (and expired accounts)
    return datetime.fromtimestamp(seconds, UTC).isoformat() if seconds > 0 else None


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return None if value is None else str(value)


class MysqlLoginsPopulation(DatabaseLoginsPopulation):
    kind: Literal["mysql_logins"]

    def read(self, stats: RequestStats) -> Iterator[list[Account]]:
        from access_warehouse.sources.database import (
            mysql_connection,
            mysql_stream_cursor,
            with_source_errors,
        )
        from access_warehouse.warehouse import sql

        conn, client, server, errors = mysql_connection(self.conn_id, self.kind)
        wrap = with_source_errors(self.conn_id, f"cannot read mysql.user on {server}")
        pages = 0
        try:
            try:
                version_cursor = conn.cursor()
                version_cursor.execute(sql(f"{SQL}/mysql_version.sql"))
                (version,) = version_cursor.fetchone()
                version_cursor.close()
                version_text = _text(version) or ""
                # MariaDB keeps account locking in mysql.global_priv, MySQL in mysql.user
                flavour = "mariadb" if "mariadb" in version_text.lower() else "mysql"
                query = sql(f"{SQL}/{flavour}_accounts.sql")
                stats.requests += 2
                stats.asked.update(conn_id=self.conn_id, server=server, query=query)
                stats.source_said.update(server_version=version_text)
                cursor = mysql_stream_cursor(conn, client)
                cursor.execute(query)
                while rows := cursor.fetchmany(self.page_size):
                    pages += 1
                    yield [self._account(row) for row in rows]
                cursor.close()
            finally:
                with contextlib.suppress(*errors):  # already broken: its error is reported
                    conn.close()
        except errors as exc:
            raise wrap(exc) from None
        stats.source_said.update(pages=pages)

    def _account(self, row: dict[str, Any]) -> Account:
        user, host = _text(row["user"]) or "", _text(row["host"]) or ""
        is_role = _yes(row["is_role"])
        locked = _yes(row["account_locked"])
        properties = {
            "host": host,
            "account_locked": locked,
            "password_expired": _yes(row["password_expired"]),
            "password_last_changed": _epoch_iso(row["password_last_changed"]),
            "password_lifetime": _text(row["password_lifetime"]),
            "plugin": _text(row["plugin"]),
            "super_priv": _yes(row["super_priv"]),
            "grant_priv": _yes(row["grant_priv"]),
            "create_user_priv": _yes(row["create_user_priv"]),
            "max_user_connections": int(row["max_user_connections"] or 0),
            "default_role": _text(row["default_role"]) or None,
        }
        return Account(
            account_id=f"{user}@{host}",
            principal_name=user or None,
            enabled=not locked and not is_role,
            user_type="role" if is_role else "login",
            aliases=self.aliases_of(user),
            properties=properties,
        )

    def describe(self) -> str:
        return (
            f"MySQL/MariaDB accounts (`mysql.user`; MariaDB: with `mysql.global_priv`) over "
            f"connection `{self.conn_id}`. {self._identity_doc()}"
        )


POSTGRES = register_population_kind(
    PopulationKind(
        name="postgres_logins",
        config=PostgresLoginsPopulation,
        summary="a PostgreSQL server's roles (pg_roles)",
        example={
            "name": "app-db",
            "conn_id": "appdb_audit",
            "sources": ["postgres_audit_trigger:appdb", "postgres_csvlog:app_db_log"],
            "identity_from": "postgres_audit_trigger:appdb",
        },
    )
)
MYSQL = register_population_kind(
    PopulationKind(
        name="mysql_logins",
        config=MysqlLoginsPopulation,
        summary="a MySQL or MariaDB server's accounts (mysql.user)",
        example={
            "name": "crm-db",
            "conn_id": "crm_mariadb",
            "sources": ["mysql_general_log:crm_general_log"],
        },
    )
)
