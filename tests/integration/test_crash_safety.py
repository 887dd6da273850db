"""``kill -9`` of a loading process at 20+ points (while extracting, after landing, after each
step of the load, after the commit), then the retry Airflow would run: the warehouse always
ends as a clean run leaves it."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from crash_points import DAY, WINDOW, toy_feed
from toy_kind import toy_line

from access_warehouse.extract import extract
from access_warehouse.load import load_batch
from access_warehouse.paths import PROJECT_ROOT

CHILD = Path(__file__).parents[1] / "crash_child.py"
RECORDS = 400  # 8 pages of 50, 3 chunks of 150

#: (a line of the child's log, which time it appears): the child is killed right after it.
POINTS = [
    (r"^extracting toy:crash", 1),
    (r"^page 1:", 1),
    (r"^page 4:", 1),
    (r"^page 8:", 1),
    (r"^extracted \d+ records", 1),
    (r"^normalised \d+ of", 1),
    (r"^normalised \d+ of", 2),
    (r"^normalised \d+ of", 3),
    (r"^load/resolve_users.sql", 1),
    (r"^load/insert_new_users.sql", 1),
    (r"^load/mark_directory_users.sql", 1),
    (r"^load/insert_identity_lineage.sql", 1),
    (r"^load/insert_user_aliases.sql", 1),
    (r"^load/insert_new_config_items.sql", 1),
    (r"^attached partitions", 1),
    (r"^load/classify_changes.sql", 1),
    (r"^load/delete_moved_events.sql", 1),
    (r"^load/upsert_access_events.sql", 1),
    (r"^load/access_log_pairs_to_recompute.sql", 1),
    (r"^load/refresh_access_logs.sql", 1),
    (r"^load/delete_stale_access_logs.sql", 1),
    (r"^load/merge_new_access_logs.sql", 1),
    (r"^load/insert_quarantine.sql", 1),
    (r"^bookmark|^loaded batch", 1),
]

CONTENT = {
    "access_events": "SELECT source_id, event_id, occurred_at, content_hash, external_user_id,"
    " config_id FROM audit.access_events ORDER BY 1, 2",
    "access_logs": "SELECT config_id, external_user_id, scraper_id, created_at, count, mfa,"
    " properties FROM audit.access_logs ORDER BY 1, 2, 3",
    "people": "SELECT id, actor_type, display_name, principal_name, is_stub FROM"
    " audit.external_users ORDER BY 1",
    "aliases": "SELECT alias, alias_kind, external_user_id FROM audit.external_user_aliases"
    " ORDER BY 1",
    "config_items": "SELECT id, type, external_id, name, parent_id FROM audit.config_items"
    " ORDER BY 1",
    "lineage": "SELECT source_id, identifier, identifier_kind, external_user_id, matched_alias,"
    " matched_by, identity_rule FROM audit.identity_lineage ORDER BY 1, 2, 4",
    "quarantine": "SELECT record_key, payload_hash, reasons FROM dq.quarantine ORDER BY 2",
    "batches": "SELECT source_id, extracted, loaded, quarantined, excluded, inserted, updated,"
    " unchanged, content_digest FROM audit.batches ORDER BY sequence_no",
    "loading": "SELECT count(*) FROM landing.extract_batches WHERE status IN"
    " ('extracting', 'extracted')",
}


def content(dsn: str) -> dict[str, list[tuple]]:
    """Everything a load decides, without ids and times that differ from run to run."""
    with psycopg.connect(dsn) as conn:
        return {name: conn.execute(query).fetchall() for name, query in CONTENT.items()}


@pytest.fixture(scope="module")
def toy_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("crash") / "toy.jsonl"
    lines = [toy_line(n, at=DAY + timedelta(minutes=3 * n)) for n in range(RECORDS - 2)]
    lines += ['{"id": "toy-bad", "user": "x"}', json.dumps(["not", "an", "object"])]
    path.write_text("\n".join(lines) + "\n")
    return path


def kill_after(dsn: str, path: Path, pattern: str, occurrence: int) -> bool:
    """Run the child and SIGKILL it just after the ``occurrence``-th line matching
    ``pattern``; True if it was killed (False: it finished first)."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [str(PROJECT_ROOT / "plugins"), str(PROJECT_ROOT), str(CHILD.parent)]
        ),
        "CRASH_AT": pattern,
        "CRASH_OCCURRENCE": str(occurrence),
    }
    child = subprocess.Popen(
        [sys.executable, str(CHILD), dsn, str(path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    seen = 0
    assert child.stderr is not None
    for line in child.stderr:
        if re.search(pattern, line):
            seen += 1
            if seen == occurrence:
                child.send_signal(signal.SIGKILL)
                break
    child.wait(timeout=120)
    return child.returncode == -signal.SIGKILL


def retry(dsn: str, path: Path) -> None:
    """What Airflow does next: retry the load of an extracted batch, else extract again."""
    feed = toy_feed(str(path))
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT batch_id FROM landing.extract_batches WHERE status IN ('extracted', 'loaded')"
            " ORDER BY started_at DESC LIMIT 1"
        ).fetchone()
    batch_id = str(row[0]) if row else extract(dsn, feed, window=WINDOW).batch_id
    load_batch(dsn, batch_id, feed)


@pytest.fixture(scope="module")
def clean(toy_file: Path, pg_server: str, migrated_template: str) -> dict[str, list[tuple]]:
    from warehouse_asserts import new_database

    with new_database(pg_server, migrated_template) as dsn:
        feed = toy_feed(str(toy_file))
        load_batch(dsn, extract(dsn, feed, window=WINDOW).batch_id, feed)
        return content(dsn)


@pytest.mark.robustness("kill -9 while extracting and after each load step")
@pytest.mark.parametrize(("pattern", "occurrence"), POINTS, ids=[p for p, _ in POINTS])
def test_a_load_killed_anywhere_ends_as_a_clean_run_after_the_retry(
    pattern: str, occurrence: int, toy_file: Path, warehouse_dsn: str, clean: dict
) -> None:
    assert kill_after(warehouse_dsn, toy_file, pattern, occurrence), "killed before it finished"

    retry(warehouse_dsn, toy_file)

    assert content(warehouse_dsn) == clean
    assert clean["batches"][0][1:4] == (RECORDS, RECORDS - 2, 2)
