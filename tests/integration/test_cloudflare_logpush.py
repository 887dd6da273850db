"""``cloudflare_logpush_http`` end to end: gzip JSON-lines files as a Logpush ``http_requests``
job writes them (records shaped after Cloudflare's field reference for the dataset, its
``RequestHeaders`` custom fields and its ``timestamp_format`` output option; see
tests/fixtures/cloudflare_logpush_http/README.md), extracted and loaded into a fresh warehouse."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import psycopg
from warehouse_asserts import audit_snapshot

from access_warehouse.config import parse_sources
from access_warehouse.extract import extract
from access_warehouse.load import load_batch
from access_warehouse.sources.base import Feed


def request(
    n: int, *, user: str | None = "ann.lee@example.com", status: int = 200, ts: Any = None
) -> dict:
    headers = {"Cf-Access-User": user} if user else {}
    return {
        "RayID": f"8e1a2b3c4d5e{n:04x}",
        "EdgeStartTimestamp": ts if ts is not None else f"2026-11-20T10:00:{n % 60:02d}Z",
        "ClientRequestMethod": "GET",
        "ClientRequestHost": "grafana.example.com",
        "ClientRequestPath": f"/d/{n % 3}",
        "ClientRequestURI": f"/d/{n % 3}?orgId=1",
        "ClientIP": "203.0.113.7",
        "ClientCountry": "de",
        "ClientRequestUserAgent": "Mozilla/5.0",
        "EdgeResponseStatus": status,
        "RequestHeaders": headers,
    }


def write_gzip(path: Path, *records: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(b"".join(json.dumps(r).encode() + b"\n" for r in records)))


def feed_for(path: Path, **extra: Any) -> Feed:
    entry = {"kind": "cloudflare_logpush_http", "name": "zone", "path": str(path), **extra}
    return parse_sources([entry], "test").feeds()[0]


def run(dsn: str, feed: Feed):
    extracted = extract(dsn, feed)
    return extracted, load_batch(dsn, extracted.batch_id, feed)


def rows(dsn: str, sql: str) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql).fetchall()


def test_logpush_files_load_with_access_identity(warehouse_dsn: str, tmp_path: Path) -> None:
    folder = tmp_path / "http_requests" / "20261120"
    write_gzip(
        folder / "20261120T100000Z_20261120T100100Z_a1b2c3.log.gz",
        request(1),
        request(2, status=403),
        request(3, user=None, status=301),
        request(4, status=502),
    )
    write_gzip(
        folder / "20261120T100100Z_20261120T100200Z_d4e5f6.log.gz",
        request(5, ts=1795255200),  # timestamp_format: unix
        request(6, ts=1795255200123456789),  # unixnano
        {"EdgeStartTimestamp": "2026-11-20T10:00:00Z"},  # no RayID: quarantined
    )
    feed = feed_for(tmp_path / "http_requests" / "**" / "*.log.gz")
    assert feed.dag_id == "cloudflare_logpush_http_zone"
    assert feed.source_id == "cloudflare_logpush_http:zone"

    extracted, loaded = run(warehouse_dsn, feed)
    assert extracted.requests["files_read"] == 2
    assert (loaded.extracted, loaded.loaded, loaded.quarantined) == (7, 6, 1)
    events = rows(
        warehouse_dsn,
        "SELECT event_id, outcome, actor_principal_name, actor_type, target_name, target_type,"
        " country, occurred_at::text FROM audit.access_events ORDER BY event_id",
    )
    assert [row[1:4] for row in events] == [
        ("success", "ann.lee@example.com", "user"),
        ("failure", "ann.lee@example.com", "user"),
        ("success", None, "unknown"),
        ("unknown", "ann.lee@example.com", "user"),
        ("success", "ann.lee@example.com", "user"),
        ("success", "ann.lee@example.com", "user"),
    ]
    assert {row[4:7] for row in events} >= {("grafana.example.com/d/1", "url", "DE")}
    assert events[4][7] == events[5][7][:19] + "+00"  # seconds and nanoseconds agree
    # the Access user resolves to one person, the anonymous request to the unknown actor
    people = rows(
        warehouse_dsn,
        "SELECT count(DISTINCT external_user_id) FROM audit.access_events",
    )
    assert people == [(2,)]
    items = rows(warehouse_dsn, "SELECT type, name FROM audit.config_items ORDER BY name")
    assert ("url", "grafana.example.com/d/0") in items

    before = audit_snapshot(warehouse_dsn)
    again, _ = run(warehouse_dsn, feed)
    assert again.records == 0 and again.requests["files_skipped"] == 2
    assert audit_snapshot(warehouse_dsn) == before


def test_anonymous_requests_can_be_excluded_and_are_counted(
    warehouse_dsn: str, tmp_path: Path
) -> None:
    write_gzip(
        tmp_path / "a.log.gz",
        request(1),
        request(2, user=None),
        request(3, user=None),
        {
            **request(4, user=None),
            "RequestHeaders": {"CF-ACCESS-AUTHENTICATED-USER-EMAIL": "bob@example.com"},
        },
    )
    extracted, loaded = run(warehouse_dsn, feed_for(tmp_path, exclude_anonymous=True))
    assert (loaded.loaded, loaded.excluded) == (2, 2)
    [(details,)] = rows(
        warehouse_dsn, f"SELECT details FROM audit.batches WHERE batch_id = '{extracted.batch_id}'"
    )
    assert details["excluded_by_rule"] == {"actor:anonymous": 2}
    assert rows(
        warehouse_dsn,
        "SELECT actor_principal_name FROM audit.access_events ORDER BY 1",
    ) == [("ann.lee@example.com",), ("bob@example.com",)]


def test_a_logpush_file_still_uploading_waits(warehouse_dsn: str, tmp_path: Path) -> None:
    path = tmp_path / "b.log.gz"
    data = gzip.compress(b"".join(json.dumps(request(n)).encode() + b"\n" for n in range(200)))
    path.write_bytes(data[: len(data) - 30])
    feed = feed_for(tmp_path)
    extracted, loaded = run(warehouse_dsn, feed)
    assert extracted.requests["files_deferred"] == 1 and loaded.loaded == 0
    path.write_bytes(data)
    extracted, loaded = run(warehouse_dsn, feed)
    assert loaded.inserted == 200
