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
REPEATABLE_DIR = SQL_DIR / "views"


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


def apply_migrations(dsn: str) -> list[str]:
    """Apply every ``include/sql/migrations/NNNN_*.sql`` not yet recorded, then the repeatable
    ``include/sql/views/*.sql`` (views, functions) if any of them changed; return what was
    applied.

    Safe to call from many processes at once: an advisory lock serialises them, and each file runs
    in the same transaction as the row that records it. On an up-to-date warehouse it changes
    nothing and needs no more than reading the ledger, so the loading role's DAG runs pass their
    migrate step; anything to apply needs the owner (README "Tamper evidence").
    """
    applied: list[str] = []
    with connect(dsn) as conn:
        execute(conn, "etl/lock_migrations.sql")
        try:
            if not execute(conn, "etl/ledger_exists.sql").fetchone()[0]:
                execute(conn, "etl/bootstrap.sql")
            conn.commit()
            done = dict(execute(conn, "etl/applied_migrations.sql").fetchall())
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
                    execute(
                        conn,
                        "etl/record_migration.sql",
                        {"version": path.stem, "checksum": checksum},
                    )
                log.info("applied migration %s", path.name)
                applied.append(path.stem)
            applied += _apply_repeatable(conn)
        finally:
            # a failed step (a login without the owner's rights) left the transaction aborted:
            # roll it back so that the unlock runs and the step's own error is the one raised
            # (only then: otherwise the transaction holds the migrations just applied)
            if conn.info.transaction_status == psycopg.pq.TransactionStatus.INERROR:
                conn.rollback()
            execute(conn, "etl/unlock_migrations.sql")
            conn.commit()
    return applied


def _apply_repeatable(conn: psycopg.Connection) -> list[str]:
    """Re-apply every repeatable file (views, functions), in name order and in one transaction,
    when any file's checksum differs from the one recorded (views depend on each other:
    rebuilding all of them keeps their order right). Tables never live here: they belong in the
    immutable migrations."""
    files = {path.name: path.read_text() for path in sorted(REPEATABLE_DIR.glob("*.sql"))}
    wanted = {name: hashlib.sha256(text.encode()).hexdigest() for name, text in files.items()}
    recorded = dict(execute(conn, "etl/applied_repeatable.sql").fetchall())
    if recorded == wanted:
        return []
    with conn.transaction():
        for text in files.values():
            conn.execute(text)  # type: ignore[arg-type]
        execute(conn, "etl/forget_repeatable.sql")
        with conn.cursor() as cursor:
            cursor.executemany(
                sql("etl/record_repeatable.sql"),
                [{"name": name, "checksum": checksum} for name, checksum in wanted.items()],
            )
    log.info("applied repeatable scripts %s", ", ".join(files))
    return [f"views/{name}" for name in files]


#: The warehouse's own schemas (``auditor`` holds views over the others).
WAREHOUSE_SCHEMAS = ("landing", "audit", "dq", "reporting", "auditor", "etl")


def tables_containing(dsn: str, text: str) -> list[str]:
    """Every warehouse table or view with a row whose text form (``bytea`` columns read as
    UTF-8 too) contains ``text``: how a user shows that a password from a statement reached
    no table, landing included. A sequential scan of every table: for an audit, not a job."""
    from psycopg import sql as composed

    found = []
    with connect(dsn) as conn:
        relations = execute(
            conn, "integrity/warehouse_relations.sql", {"schemas": list(WAREHOUSE_SCHEMAS)}
        ).fetchall()
        template = composed.SQL(sql("integrity/relation_contains_text.sql"))  # type: ignore[arg-type]
        for schema, table, binary_columns in relations:
            checks = composed.SQL(" ").join(
                composed.SQL(
                    "OR strpos(coalesce(convert_from(t.{}, 'UTF8'), ''), %(text)s) > 0"
                ).format(composed.Identifier(column))
                for column in binary_columns
            )
            query = template.format(
                relation=composed.Identifier(schema, table), binary_checks=checks
            )
            if conn.execute(query, {"text": text}).fetchone():
                found.append(f"{schema}.{table}")
    return found
