"""Install the trigger-based audit trail (``devtools/postgres_audit_trigger.sql``) into a database.

For the tests and the demo of the ``postgres_audit_trigger`` source kind: the trail is the
audit-trigger layout (``audit.logged_actions``, ``audit.audit_table(regclass)``) with
``row_data``/``changed_fields`` as ``hstore`` (the original) or ``jsonb`` (common forks; the only
choice on the embedded Postgres, which ships no hstore).

    python -m devtools.postgres_audit_trigger "host=... dbname=app" --payload jsonb app.accounts
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

import psycopg
from psycopg import sql

SCRIPT = Path(__file__).with_name("postgres_audit_trigger.sql")
Payload = Literal["hstore", "jsonb"]

_SECTION = re.compile(r"^-- @section (\w+)\s*$", re.MULTILINE)


def installation_sql(payload: Payload = "jsonb") -> str:
    """The script's ``schema`` section, its ``payload`` one (the type and the functions that
    build it exist before the table and trigger use them), then its ``common`` one."""
    if payload not in ("hstore", "jsonb"):
        raise ValueError(f"payload must be hstore or jsonb, not {payload!r}")
    parts = _SECTION.split(SCRIPT.read_text())
    sections = dict(zip(parts[1::2], parts[2::2], strict=True))
    script = "".join(sections[name] for name in ("schema", payload, "common"))
    return script.replace("{{payload}}", payload)


def install(conninfo: str, payload: Payload = "jsonb", tables: Iterable[str] = ()) -> None:
    """Create the audit schema, table and functions in the database of ``conninfo`` (as a role
    that may create schemas and, for hstore, the extension) and audit each of ``tables``."""
    with psycopg.connect(conninfo, autocommit=True) as conn, conn.transaction():
        conn.execute(installation_sql(payload))  # type: ignore[arg-type]  # our own file
        for table in tables:
            audit_table(conn, table)


def audit_table(conn: psycopg.Connection, table: str) -> None:
    """Start auditing ``table`` (``schema.table``), row by row, statement text included."""
    conn.execute(
        sql.SQL("SELECT audit.audit_table({}::regclass)").format(
            sql.Literal(sql.Identifier(*table.split(".")).as_string(conn))
        )
    )


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m devtools.postgres_audit_trigger",
        description="Install the audit-trigger trail into a database.",
    )
    parser.add_argument("conninfo", help="libpq connection string of the database")
    parser.add_argument("tables", nargs="*", help="schema.table to audit")
    parser.add_argument("--payload", choices=["hstore", "jsonb"], default="jsonb")
    args = parser.parse_args(argv)
    install(args.conninfo, args.payload, args.tables)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
