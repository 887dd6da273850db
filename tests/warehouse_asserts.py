"""Test databases, and reading the warehouse back in tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from access_warehouse.landing import ExtractWindow, LandingBatch
from access_warehouse.sources.base import Feed

#: A window wide enough for every fixture.
WIDE_WINDOW = ExtractWindow(
    datetime(2020, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC), timedelta(0)
)

SNAPSHOT_QUERIES = {
    "access_events": "SELECT * FROM audit.access_events ORDER BY source_id, event_id",
    "access_logs": "SELECT * FROM audit.access_logs ORDER BY config_id, external_user_id",
    "external_users": "SELECT * FROM audit.external_users ORDER BY id",
    "aliases": "SELECT * FROM audit.external_user_aliases ORDER BY alias",
    "config_items": "SELECT * FROM audit.config_items ORDER BY id",
    "identity_lineage": "SELECT * FROM audit.identity_lineage ORDER BY 1, 2, 4",
    "quarantine": "SELECT * FROM dq.quarantine ORDER BY quarantine_id",
}

#: audit.access_logs as stored, and as recomputed from every event: always equal.
FROM_SCRATCH_ACCESS_LOGS = """
SELECT source_id, config_id, external_user_id, max(occurred_at), count(*),
       (array_agg(mfa ORDER BY occurred_at DESC, event_id DESC))[1],
       (array_agg(event_id ORDER BY occurred_at DESC, event_id DESC))[1]
FROM audit.access_events
WHERE outcome = 'success' AND config_id IS NOT NULL
GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
"""
STORED_ACCESS_LOGS = """
SELECT properties->>'source_id', config_id, external_user_id, created_at, count, mfa,
       properties->>'last_event_id'
FROM audit.access_logs ORDER BY 1, 2, 3
"""


def assert_access_logs_exact(dsn: str) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        stored = conn.execute(STORED_ACCESS_LOGS).fetchall()
        assert stored == conn.execute(FROM_SCRATCH_ACCESS_LOGS).fetchall()
    return stored


def audit_snapshot(dsn: str) -> dict[str, list[tuple]]:
    """Every row of the tables a load writes (batches excluded: each run appends one)."""
    with psycopg.connect(dsn) as conn:
        return {name: conn.execute(query).fetchall() for name, query in SNAPSHOT_QUERIES.items()}


def event_ids(dsn: str, source_id: str) -> list[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT event_id FROM audit.access_events WHERE source_id = %s", (source_id,)
        ).fetchall()
    return [row[0] for row in rows]


def land_pages(dsn: str, feed: Feed, pages: list[list[Any]], status: str = "extracted") -> str:
    """Land ``pages`` as one batch of ``feed`` (as its extract would) and return the batch id."""
    batch = LandingBatch(
        dsn, source_id=feed.source_id, source_kind=feed.record_kind, window=WIDE_WINDOW
    )
    for page in pages:
        batch.write_page(page)
    batch.finish(status)
    batch.close()
    return str(batch.batch_id)


@contextmanager
def new_database(pg_server: str, template: str | None = None) -> Iterator[str]:
    """A database of its own (empty, or a copy of ``template``), dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = f"host={pg_server} dbname=postgres user=postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    try:
        yield f"host={pg_server} dbname={name} user=postgres"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def tables_containing(dsn: str, text: str) -> list[str]:
    """Every warehouse table or view holding ``text`` (the CLI's ``find-text``)."""
    from access_warehouse.warehouse import tables_containing as search

    return search(dsn, text)
