"""Warehouse connections, SQL files and the idempotent schema migration step."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from functools import cache
from typing import Any

import psycopg

from access_warehouse.paths import SQL_DIR

log = logging.getLogger(__name__)

MIGRATIONS_DIR = SQL_DIR / "migrations"


@cache
def sql(name: str) -> str:
    """The text of ``include/sql/<name>`` (one statement per file unless it says otherwise)."""
    return (SQL_DIR / name).read_text()


def execute(
    conn: psycopg.Connection, name: str, params: Mapping[str, Any] | None = None
) -> psycopg.Cursor:
    """Run the single statement in ``include/sql/<name>`` with named parameters."""
    return conn.execute(sql(name), params)  # type: ignore[arg-type]


def connect(dsn: str, **kwargs: Any) -> psycopg.Connection:
    """A psycopg connection in UTC, so timestamps round-trip unchanged."""
    return psycopg.connect(dsn, options="-c TimeZone=UTC", **kwargs)


def dsn_from_airflow(conn_id: str = "warehouse") -> str:
    """The libpq connection string of an Airflow Postgres connection (the `warehouse` contract)."""
    from airflow.sdk import BaseHook  # only where Airflow runs: the package works without it

    connection = BaseHook.get_connection(conn_id)
    return psycopg.conninfo.make_conninfo(
        host=connection.host or None,
        port=connection.port or None,
        dbname=connection.schema or "postgres",
        user=connection.login or None,
        password=connection.password or None,
    )


def apply_migrations(dsn: str) -> list[str]:
    """Apply every ``include/sql/migrations/NNNN_*.sql`` not yet recorded; return what was applied.

    Safe to call from many processes at once: an advisory lock serialises them, and each file runs
    in the same transaction as the row that records it.
    """
    applied: list[str] = []
    with connect(dsn) as conn:
        conn.execute("SELECT pg_advisory_lock(hashtext('access_warehouse.migrations'))")
        try:
            conn.execute("CREATE SCHEMA IF NOT EXISTS etl")
            conn.execute(sql("etl_schema_migrations.sql"))
            conn.commit()
            done = {
                row[0]: row[1]
                for row in conn.execute("SELECT version, checksum FROM etl.schema_migrations")
            }
            for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
                text = path.read_text()
                checksum = hashlib.sha256(text.encode()).hexdigest()
                if path.stem in done:
                    if done[path.stem] != checksum:
                        raise RuntimeError(
                            f"migration {path.name} changed after it was applied "
                            f"(recorded checksum {done[path.stem][:12]}, file {checksum[:12]}); "
                            "add a new migration instead of editing an applied one"
                        )
                    continue
                with conn.transaction():
                    conn.execute(text)  # type: ignore[arg-type]
                    conn.execute(
                        "INSERT INTO etl.schema_migrations (version, checksum) VALUES (%s, %s)",
                        (path.stem, checksum),
                    )
                log.info("applied migration %s", path.name)
                applied.append(path.stem)
        finally:
            conn.execute("SELECT pg_advisory_unlock(hashtext('access_warehouse.migrations'))")
            conn.commit()
    return applied
