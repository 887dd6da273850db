"""Reading the warehouse back in tests."""

from __future__ import annotations

import psycopg

SNAPSHOT_QUERIES = {
    "access_events": "SELECT * FROM audit.access_events ORDER BY source_id, event_id",
    "access_logs": "SELECT * FROM audit.access_logs ORDER BY config_id, external_user_id",
    "external_users": "SELECT * FROM audit.external_users ORDER BY id",
    "aliases": "SELECT * FROM audit.external_user_aliases ORDER BY alias",
    "config_items": "SELECT * FROM audit.config_items ORDER BY id",
    "quarantine": "SELECT * FROM dq.quarantine ORDER BY quarantine_id",
}


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
