"""Abandoned extracts are found and failed; the auditor role reads its views and nothing else."""

from __future__ import annotations

import psycopg
import pytest
from warehouse_asserts import WIDE_WINDOW

from access_warehouse.config import parse_sources
from access_warehouse.extract import extract
from access_warehouse.landing import LandingBatch


def status(dsn: str, batch_id: object) -> tuple[str, str | None]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT status, error FROM landing.extract_batches WHERE batch_id = %s", (batch_id,)
        ).fetchone()


@pytest.mark.robustness("Extract that died, leaving its batch extracting")
def test_a_batch_whose_extract_died_is_failed_by_the_next_extract(
    warehouse_dsn: str, tmp_path
) -> None:
    path = tmp_path / "toy.jsonl"
    path.write_text("")
    feed = parse_sources([{"kind": "toy", "name": "demo", "path": str(path)}], "t").feeds()[0]
    dead = LandingBatch(
        warehouse_dsn, source_id=feed.source_id, source_kind="toy_events", window=WIDE_WINDOW
    )
    dead.write_page([{"id": "toy-1"}])
    dead.close()  # the process died: its session, and the lock it held, are gone
    alive = LandingBatch(
        warehouse_dsn, source_id=feed.source_id, source_kind="toy_events", window=WIDE_WINDOW
    )
    other = LandingBatch(warehouse_dsn, source_id="toy:other", source_kind="t", window=WIDE_WINDOW)
    other.close()

    extract(warehouse_dsn, feed, window=WIDE_WINDOW)

    assert status(warehouse_dsn, dead.batch_id)[0] == "failed"
    assert "abandoned" in status(warehouse_dsn, dead.batch_id)[1]
    assert status(warehouse_dsn, alive.batch_id) == ("extracting", None)  # still running
    assert status(warehouse_dsn, other.batch_id)[0] == "extracting"  # another source's
    alive.close()


DENIED = [
    "SELECT count(*) FROM audit.access_events",
    "SELECT count(*) FROM dq.quarantine",
    "SELECT count(*) FROM landing.records",
    "INSERT INTO auditor.batches (source_id) VALUES ('x')",
    "UPDATE auditor.batches SET loaded = 0",
    "DELETE FROM auditor.batches",
    "TRUNCATE audit.access_events",
    "ALTER VIEW auditor.sign_ins RENAME TO s",
    "CREATE TABLE auditor.mine (x int)",
    "CREATE TABLE reporting.mine (x int)",
    "DROP VIEW auditor.batches",
    "SELECT audit.attach_access_event_partition('2031-01-01')",
    "SELECT * FROM etl.schema_migrations",
    "CREATE SCHEMA mine",
    "CREATE TABLE public.mine (x int)",
]


@pytest.mark.robustness("Auditor role: writes, DDL and reads beyond its views")
@pytest.mark.parametrize("statement", DENIED)
def test_the_auditor_role_cannot_write_alter_or_read_outside_its_views(
    statement: str, warehouse_dsn: str
) -> None:
    with psycopg.connect(warehouse_dsn) as conn:
        conn.execute("SET ROLE auditor_read")
        for view in ("sign_ins", "directory_changes", "batches"):
            conn.execute(f"SELECT * FROM auditor.{view} LIMIT 1")  # allowed
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement)
