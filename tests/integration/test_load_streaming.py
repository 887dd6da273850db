"""The streaming machinery: landed rows read as binary COPY in a reader thread, staged
events through one long COPY, quarantine flushed between COPYs, the GC paused per chunk. Sizes
are shrunk so that every boundary (a row across two blocks, a chunk, a quarantine flush) is
crossed many times; the results must equal a load with the default sizes."""

from __future__ import annotations

import gc
import json
import threading
import uuid
from pathlib import Path

import psycopg
import pytest
from warehouse_asserts import assert_access_logs_exact, audit_snapshot, land_pages

from access_warehouse import load
from access_warehouse.load import load_batch
from access_warehouse.sources.entra import EntraSource
from access_warehouse.streams import read_ahead

FIXTURES = Path(__file__).parents[1] / "fixtures" / "entra_signins"
SIGNINS = EntraSource(kind="entra", name="test", tenant_id="test", conn_id="msgraph_default").feed(
    "signins"
)


def records(copies: int) -> list[dict]:
    """``copies`` distinct variants of every fixture, invalid ones and an unstorable one too."""
    out = []
    for path in sorted(FIXTURES.glob("*.json")):
        if path.name.endswith(".expected.json"):
            continue
        base = json.loads(path.read_text())
        for n in range(copies):
            record = json.loads(json.dumps(base))
            if "id" in record:
                record["id"] = f"{record['id']}-{n}"
            out.append(record)
    out.insert(7, {"id": "nul-record", "userDisplayName": "a\x00b"})  # kept as raw bytes
    return out


def landed_rows(dsn: str, batch_id: str) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT page_no, record_no, payload::text, raw FROM landing.records"
            " WHERE batch_id = %s ORDER BY page_no, record_no",
            (batch_id,),
        ).fetchall()


def test_reader_gives_every_landed_row_in_order_across_tiny_blocks(
    warehouse_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch = records(3)
    batch_id = land_pages(warehouse_dsn, SIGNINS, [batch[:20], batch[20:]])
    monkeypatch.setattr(load, "BLOCK", 7)  # rows straddle many blocks

    chunks = list(load._landed_chunks(warehouse_dsn, uuid.UUID(batch_id), size=4))

    assert [len(chunk) for chunk in chunks[:-1]] == [4] * (len(chunks) - 1)
    got = [row for chunk in chunks for row in chunk]
    want = landed_rows(warehouse_dsn, batch_id)
    assert [(p, n) for p, n, _, _ in got] == [(p, n) for p, n, _, _ in want]
    # payloads are the JSON Postgres stores; raw rows keep their bytes and have no payload
    assert [json.loads(bytes(p)) if p is not None else None for _, _, p, _ in got] == [
        json.loads(p) if p is not None else None for _, _, p, _ in want
    ]
    assert [raw for *_, raw in got] == [bytes(raw) if raw else None for *_, raw in want]
    assert sum(raw is not None for *_, raw in got) == 1


def test_binary_copy_stream_without_trailer_is_an_error() -> None:
    header = load._COPY_SIGNATURE + b"\0\0\0\0" + b"\0\0\0\0"
    row = b"\0\x01" + b"\0\0\0\x01" + b"x"
    assert list(load._binary_copy_rows(iter([header + row + b"\xff\xff"]))) == [[b"x"]]
    with pytest.raises(RuntimeError, match="without its trailer"):
        list(load._binary_copy_rows(iter([header, row])))
    with pytest.raises(RuntimeError, match="not a binary COPY"):
        list(load._binary_copy_rows(iter([b"x" * 40])))


def test_tiny_blocks_chunks_and_quarantine_buffer_load_the_same_as_defaults(
    warehouse_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch = records(4)
    pages = [batch[i : i + 9] for i in range(0, len(batch), 9)]
    default = load_batch(warehouse_dsn, land_pages(warehouse_dsn, SIGNINS, pages), SIGNINS)
    expected = events(warehouse_dsn)
    quarantine = quarantined(warehouse_dsn)
    assert default.quarantined >= 9  # 2 invalid fixtures x 4 copies + the raw record

    with psycopg.connect(warehouse_dsn) as conn:
        conn.execute(
            "TRUNCATE audit.access_events, audit.access_logs, dq.quarantine, dq.quarantine_history,"
            " dq.reprocess_records"
        )
        conn.execute("DELETE FROM audit.batches")
    monkeypatch.setattr(load, "BLOCK", 5)
    monkeypatch.setattr(load._Staging, "QUARANTINE_BUFFER", 2)
    small = load_batch(
        warehouse_dsn, land_pages(warehouse_dsn, SIGNINS, pages), SIGNINS, chunk_size=3
    )

    assert (small.extracted, small.loaded, small.quarantined, small.inserted) == (
        default.extracted,
        default.loaded,
        default.quarantined,
        default.inserted,
    )
    assert small.extracted == small.loaded + small.quarantined + small.excluded
    assert events(warehouse_dsn) == expected
    assert quarantined(warehouse_dsn) == quarantine
    assert_access_logs_exact(warehouse_dsn)


def events(dsn: str) -> list[tuple]:
    """The stored events without what differs between two loads (batch, times)."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT to_jsonb(e) - '{batch_id,ingested_at,extracted_at}'::text[]"
            " FROM audit.access_events e ORDER BY source_id, event_id"
        ).fetchall()
    assert rows
    return rows


def quarantined(dsn: str) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT record_key, payload_hash, reasons, raw IS NOT NULL FROM dq.quarantine"
            " ORDER BY payload_hash"
        ).fetchall()


def test_a_failure_mid_stream_rolls_back_and_stops_the_reader(
    warehouse_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch = records(3)
    batch_id = land_pages(warehouse_dsn, SIGNINS, [batch])
    before = audit_snapshot(warehouse_dsn)
    thresholds = gc.get_threshold()
    validate = load.AccessEventValidator.validate
    calls = 0

    def fails_on_the_third_chunk(self, events):
        nonlocal calls
        calls += 1
        if calls == 3:
            raise OSError("simulated: the disk under GX went away")
        return validate(self, events)

    monkeypatch.setattr(load.AccessEventValidator, "validate", fails_on_the_third_chunk)
    # The events COPY is open when the error comes: it must be cancelled, or closing the
    # connection waits on it for ever. A thread, so that a hang fails the test.
    raised: list[BaseException] = []

    def run() -> None:
        try:
            load_batch(warehouse_dsn, batch_id, SIGNINS, chunk_size=4)
        except BaseException as exc:
            raised.append(exc)

    loading = threading.Thread(target=run, daemon=True)
    loading.start()
    loading.join(timeout=60)
    assert not loading.is_alive(), "the load hung after the error instead of raising it"
    assert len(raised) == 1 and isinstance(raised[0], OSError), raised
    assert "disk under GX" in str(raised[0])

    assert audit_snapshot(warehouse_dsn) == before
    assert not [t for t in threading.enumerate() if t.name == "landing-reader"]
    assert gc.get_threshold() == thresholds and gc.get_freeze_count() == 0
    monkeypatch.setattr(load.AccessEventValidator, "validate", validate)
    summary = load_batch(warehouse_dsn, batch_id, SIGNINS, chunk_size=4)
    assert summary.extracted == summary.loaded + summary.quarantined == len(batch)


def test_a_batch_that_loses_rows_while_read_fails_the_load(warehouse_dsn: str) -> None:
    """The reader works outside the load's transaction; the count check catches a batch that
    changed under it (a purge, a hand edit)."""
    batch_id = land_pages(warehouse_dsn, SIGNINS, [records(1)])
    with psycopg.connect(warehouse_dsn) as conn:
        conn.execute(
            "DELETE FROM landing.records WHERE batch_id = %s AND record_no = 0", (batch_id,)
        )
    with pytest.raises(RuntimeError, match="were read"):
        load_batch(warehouse_dsn, batch_id, SIGNINS)


def test_read_ahead_gives_items_and_errors_in_order_and_stops_its_producer() -> None:
    closed = threading.Event()

    def produce():
        try:
            yield from range(5)
            raise ValueError("the source broke after 5")
        finally:
            closed.set()

    got = []
    with pytest.raises(ValueError, match="after 5"):
        for item in read_ahead(produce(), 2, "test-producer"):
            got.append(item)
    assert got == [0, 1, 2, 3, 4] and closed.wait(5)

    closed.clear()

    def endless():
        try:
            n = 0
            while True:
                yield n
                n += 1
        finally:
            closed.set()

    items = read_ahead(endless(), 2, "test-producer")
    assert [next(items) for _ in range(3)] == [0, 1, 2]
    items.close()  # the consumer breaks off: the producer is closed in its own thread
    assert closed.is_set()
    assert not [t for t in threading.enumerate() if t.name == "test-producer"]
