"""The manifest chain per source (``audit.manifests``), written inside the transactions that
change ``audit.access_events``.

Every event as stored has a fingerprint: SHA-256 over its natural key, time, content hash and
resolution (``audit.event_fingerprint`` in migration 0012; the content hash covers every other
column, and the verifier recomputes it from them). An entry records the rows its batch wrote
(all of them now carry its batch id): their count, SHA-256 over their fingerprints in canonical
order, and the sums of the fingerprints' four 64-bit lanes. Sums subtract: a later load that
replaces some of a batch's rows (a changed event takes its row over) or a purge that removes
them records, per earlier batch, how many and their lane sums, so the verifier knows what each
batch must still hold without any entry ever being rewritten. Each entry carries the source's
previous entry's hash; sources chain on their own, so they load in parallel.

Writers hold the source's advisory lock (``load/lock_source.sql``, the one loads take), and
the trigger on ``audit.manifests`` numbers and hashes each entry, so no writer can chain one
wrongly.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

import psycopg

from access_warehouse.warehouse import execute

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ManifestEntry:
    """What one load's entry recorded."""

    entry_no: int
    entry_hash: str
    rows: int
    taken_over: int


def note_taken_over(conn: psycopg.Connection) -> None:
    """Read the stored rows this load's changed events will replace, before the upsert touches
    them (``staging_events`` classified; the rows still as they were)."""
    execute(conn, "integrity/taken_over.sql")


def record_load(
    conn: psycopg.Connection,
    *,
    batch_id: uuid.UUID,
    source_id: str,
    reprocessing: bool = False,
) -> ManifestEntry:
    """Append the load's entry, after the upsert and in its transaction (so the entry exists
    exactly when the rows do). :func:`note_taken_over` must have run in this transaction."""
    entry_no, entry_hash, rows, taken_over = execute(
        conn,
        "integrity/insert_load_entry.sql",
        {
            "batch_id": batch_id,
            "source_id": source_id,
            "kind": "reprocess" if reprocessing else "load",
        },
    ).fetchone()
    log.info(
        "manifest entry %d of %s: %d rows written, %d taken over from earlier batches; %s",
        entry_no,
        source_id,
        rows,
        taken_over,
        entry_hash,
    )
    return ManifestEntry(entry_no, entry_hash, rows, taken_over)


def record_purge(
    conn: psycopg.Connection,
    *,
    retention_run_id: uuid.UUID,
    source_id: str,
    occurred_from: datetime,
    occurred_to: datetime,
) -> dict:
    """Append the purge's entry for ``source_id``'s events with ``occurred_from <= occurred_at
    < occurred_to``, inside the retention transaction and BEFORE they are removed: per batch,
    how many of its rows go and their digest, so that the verifier expects them gone.

    Takes the source's load lock (held to the end of the transaction), so no load of the
    source changes those rows between this entry and their removal. Returns what it recorded:
    ``source_id``, ``entry_no``, ``entry_hash``, ``prev_hash``, ``recorded_at``,
    ``retention_run_id``, ``occurred_from``, ``occurred_to``, ``rows`` (removed in all),
    ``removed_sha256`` (SHA-256 over the removed rows' fingerprints in canonical order) and
    ``batches`` (batch id -> rows removed).
    """
    if occurred_from >= occurred_to:
        raise ValueError(f"purge range is empty: [{occurred_from}, {occurred_to})")
    execute(conn, "load/lock_source.sql", {"source_id": source_id})
    entry_no, entry_hash, prev_hash, recorded_at, rows, removed_sha256, removed = execute(
        conn,
        "integrity/insert_purge_entry.sql",
        {
            "retention_run_id": retention_run_id,
            "source_id": source_id,
            "occurred_from": occurred_from,
            "occurred_to": occurred_to,
        },
    ).fetchone()
    log.info(
        "manifest entry %d of %s: purge of %d rows in [%s, %s) (retention run %s)",
        entry_no,
        source_id,
        rows,
        occurred_from,
        occurred_to,
        retention_run_id,
    )
    return {
        "source_id": source_id,
        "entry_no": entry_no,
        "entry_hash": entry_hash,
        "prev_hash": prev_hash,
        "recorded_at": recorded_at,
        "retention_run_id": retention_run_id,
        "occurred_from": occurred_from,
        "occurred_to": occurred_to,
        "rows": rows,
        "removed_sha256": removed_sha256,
        "batches": {item["batch_id"]: item["rows"] for item in removed},
    }
