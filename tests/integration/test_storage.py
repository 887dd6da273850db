"""Large JSON skips pglz (migration 0006): lz4 where the server has it, uncompressed elsewhere;
checked on the embedded server (no lz4) and on this machine's Debian PostgreSQL 15 (lz4), where
the whole load path runs too."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
from warehouse_asserts import assert_access_logs_exact, land_pages, new_database

from access_warehouse.load import load_batch
from access_warehouse.sources.entra import EntraSource
from access_warehouse.warehouse import apply_migrations

SIGNINS = EntraSource(kind="entra", name="test", tenant_id="test", conn_id="msgraph_default").feed(
    "signins"
)
FIXTURES = Path(__file__).parents[1] / "fixtures" / "entra_signins"
COLUMNS = "SELECT attrelid::regclass::text, attstorage, attcompression FROM pg_attribute"


def has_lz4(conn: psycopg.Connection) -> bool:
    try:
        with conn.transaction():
            conn.execute("CREATE TEMP TABLE lz4_probe (j jsonb COMPRESSION lz4)")
    except psycopg.errors.FeatureNotSupported:
        return False
    return True


def json_storage(conn: psycopg.Connection) -> dict[str, tuple[str, str]]:
    rows = conn.execute(
        COLUMNS + " WHERE (attname = 'payload' AND attrelid = 'landing.records'::regclass)"
        " OR (attname = 'properties' AND attrelid IN (SELECT 'audit.access_events'::regclass"
        " UNION SELECT inhrelid FROM pg_inherits"
        " WHERE inhparent = 'audit.access_events'::regclass))"
    ).fetchall()
    return {table: (storage, compression) for table, storage, compression in rows}


def check_storage(dsn: str) -> tuple[bool, dict[str, tuple[str, str]]]:
    with psycopg.connect(dsn) as conn:
        lz4 = has_lz4(conn)
        storage = json_storage(conn)
    expected = ("x", "l") if lz4 else ("e", "")
    assert "landing.records" in storage and "audit.access_events" in storage
    assert all(value == expected for value in storage.values()), storage
    return lz4, storage


def load_fixtures(dsn: str) -> None:
    records = [
        json.loads(path.read_text())
        for path in sorted(FIXTURES.glob("*.json"))
        if not path.name.endswith(".expected.json")
    ]
    summary = load_batch(dsn, land_pages(dsn, SIGNINS, [records]), SIGNINS)
    assert summary.extracted == summary.loaded + summary.quarantined == len(records)
    assert summary.inserted == summary.loaded > 0
    assert_access_logs_exact(dsn)


def test_embedded_server_stores_large_json_uncompressed_partitions_included(
    warehouse_dsn: str,
) -> None:
    load_fixtures(warehouse_dsn)  # creates the partitions of the fixtures' months
    lz4, storage = check_storage(warehouse_dsn)
    assert not lz4  # pgserver's build: the fallback branch is the one under test here
    assert any(name.startswith("audit.access_events_y") for name in storage)


def test_a_server_with_lz4_compresses_with_it_and_the_load_runs_there(system_pg: str) -> None:
    with new_database(system_pg) as dsn:
        apply_migrations(dsn)
        load_fixtures(dsn)
        lz4, storage = check_storage(dsn)
        assert lz4, "Debian's PostgreSQL is built with lz4"
        assert any(name.startswith("audit.access_events_y") for name in storage)
