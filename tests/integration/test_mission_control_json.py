"""``mission_control_json`` against real files and a real warehouse: Mission Control scraper
output (JSON lines and a JSON array document, shapes from flanksource/config-db, see
tests/fixtures/mission_control_json/README.md) is extracted through the manifest and loaded;
reruns change nothing; an entry's Entra-style aliases resolve to the Entra sign-in's person."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import psycopg
import pytest
from warehouse_asserts import assert_access_logs_exact, audit_snapshot, land_pages

from access_warehouse.config import parse_sources
from access_warehouse.extract import extract
from access_warehouse.load import load_batch
from access_warehouse.sources.base import Feed

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).parents[1] / "fixtures"
FILES = FIXTURES / "mission_control_json" / "files"
SOURCE_ID = "mission_control_json:scrapes"
#: meganb@contoso.com's Entra sign-in (object id 48d31887-...), as the Entra kind lands it.
SIGNIN = json.loads((FIXTURES / "entra_signins" / "beta_mfa_fido2.json").read_text())


def _feed(path: Path, **extra: Any) -> Feed:
    entry = {"kind": "mission_control_json", "name": "scrapes", "path": str(path), **extra}
    return parse_sources([entry], "test").feeds()[0]


def _run(dsn: str, feed: Feed) -> tuple[Any, Any]:
    extracted = extract(dsn, feed)
    return extracted, load_batch(dsn, extracted.batch_id, feed)


def _events(dsn: str) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT actor_principal_name, actor_external_id, target_type, target_external_id,"
            " mfa, (properties->>'count')::int, category FROM audit.access_events"
            " WHERE source_id = %s ORDER BY occurred_at",
            (SOURCE_ID,),
        ).fetchall()


@pytest.fixture
def scrapes(tmp_path: Path) -> Path:
    folder = tmp_path / "scrapes"
    folder.mkdir()
    for name in ("scraper_output.jsonl", "scrape_results.json"):
        shutil.copy(FILES / name, folder / name)
    return folder


def test_scraper_output_loads_as_it_is(warehouse_dsn: str, scrapes: Path) -> None:
    feed = _feed(scrapes)
    extracted, loaded = _run(warehouse_dsn, feed)

    # 4 JSON lines + a 2-element JSON array; 2 plain config items carry no access logs
    assert extracted.records == 6 and extracted.requests["files_read"] == 2
    assert (loaded.extracted, loaded.loaded, loaded.quarantined, loaded.excluded) == (6, 4, 0, 2)
    assert loaded.inserted == 6
    events = _events(warehouse_dsn)
    assert events == [
        ("AdeleV@contoso.com", "0b8e7f1c-3d2a-4e5f-9a8b-7c6d5e4f3a2b",
         "MissionControl::Application", "billing-portal", True, None, "web"),
        (None, "spn:backup-bot", "AWS::S3::Bucket", "arn:aws:s3:::billing-exports", None, 40,
         "authentication"),
        (None, "arn:aws:iam::210987654321:user/bob", "AWS::IAM::Role",
         "arn:aws:iam::123456789012:role/ReleaseDeployer", False, 2, "authentication"),
        ("MeganB@contoso.com", "48d31887-5fad-4d73-a9f5-3c356e68a038",
         "Azure::EnterpriseApplication", "c44b4083-3bb0-49c1-b47d-974e53cbdf3c", True, 7,
         "authentication"),
        ("meganb@contoso.com", "48d31887-5fad-4d73-a9f5-3c356e68a038", "Azure::SQL::Server",
         "/subscriptions/0000/resourceGroups/rg-prod/providers/Microsoft.Sql/servers/sql-prod",
         True, 3, "authentication"),
        ("adelev@contoso.com", "0b8e7f1c-3d2a-4e5f-9a8b-7c6d5e4f3a2b", "Azure::SQL::Server",
         "/subscriptions/0000/resourceGroups/rg-prod/providers/Microsoft.Sql/servers/sql-prod",
         None, 1, "authentication"),
    ]  # fmt: skip
    logs = assert_access_logs_exact(warehouse_dsn)
    assert len(logs) == 6  # one (config item, person) pair per entry here
    with psycopg.connect(warehouse_dsn) as conn:
        people = dict(
            conn.execute(
                "SELECT lower(coalesce(actor_principal_name, actor_external_id)),"
                " count(DISTINCT external_user_id) FROM audit.access_events GROUP BY 1"
            ).fetchall()
        )
        files = conn.execute(
            "SELECT count(*) FROM landing.processed_files WHERE source_id = %s", (SOURCE_ID,)
        ).fetchone()[0]
    assert len(people) == 4  # Megan's two entries and Adele's two are one person each
    assert people["meganb@contoso.com"] == 1 and people["adelev@contoso.com"] == 1
    assert files == 2


def test_a_rerun_changes_nothing(warehouse_dsn: str, scrapes: Path) -> None:
    feed = _feed(scrapes)
    first, _ = _run(warehouse_dsn, feed)
    before = audit_snapshot(warehouse_dsn)

    # the manifest: nothing new to read
    again, loaded = _run(warehouse_dsn, feed)
    assert again.records == 0 and again.requests["files_skipped"] == 2
    assert audit_snapshot(warehouse_dsn) == before

    # touched, not changed: skipped (same SHA-256)
    for path in scrapes.iterdir():
        os.utime(path, (path.stat().st_atime, path.stat().st_mtime + 60))
    touched, _ = _run(warehouse_dsn, feed)
    assert touched.records == 0 and touched.requests["files_skipped"] == 2
    assert audit_snapshot(warehouse_dsn) == before

    # the same records landed again as a new batch: nothing inserted or updated
    with psycopg.connect(warehouse_dsn) as conn:
        records = [
            row[0]
            for row in conn.execute(
                "SELECT payload FROM landing.records WHERE batch_id = %s"
                " ORDER BY page_no, record_no",
                (first.batch_id,),
            ).fetchall()
        ]
    reloaded = load_batch(warehouse_dsn, land_pages(warehouse_dsn, feed, [records]), feed)
    assert (reloaded.inserted, reloaded.updated) == (0, 0)
    assert audit_snapshot(warehouse_dsn) == before

    # a scraper rewrites its file with one entry more: only that event is new
    lines = (scrapes / "scraper_output.jsonl").read_text().splitlines()
    entry = json.loads(lines[-1])
    entry["created_at"] = "2026-11-22T07:00:00Z"
    (scrapes / "scraper_output.jsonl").write_text("\n".join([*lines, json.dumps(entry)]) + "\n")
    changed, loaded = _run(warehouse_dsn, feed)
    assert changed.records == 5 and changed.requests["files_read"] == 1
    assert (loaded.inserted, loaded.updated) == (1, 0)
    assert_access_logs_exact(warehouse_dsn)


def test_bad_lines_are_quarantined_and_a_partial_document_waits(
    warehouse_dsn: str, tmp_path: Path
) -> None:
    folder = tmp_path / "scrapes"
    folder.mkdir()
    good = (FILES / "scraper_output.jsonl").read_text().splitlines()
    (folder / "a.jsonl").write_text("\n".join([good[0], "not json {", "[1, 2]", good[3]]) + "\n")
    whole = (FILES / "scrape_results.json").read_text()
    (folder / "b.json").write_text(whole[: len(whole) // 2])  # a writer still at it
    feed = _feed(folder)

    extracted, loaded = _run(warehouse_dsn, feed)
    assert extracted.requests["files_deferred"] == 1 and extracted.records == 4
    assert (loaded.loaded, loaded.quarantined) == (2, 2)
    with psycopg.connect(warehouse_dsn) as conn:
        reasons = sorted(
            row[0][0]
            for row in conn.execute("SELECT reasons FROM dq.quarantine ORDER BY 1").fetchall()
        )
    assert f"{folder / 'a.jsonl'} line 2: not JSON" in reasons[0]
    assert reasons[1].endswith(f"{folder / 'a.jsonl'} line 3: a JSON list, not an object")

    (folder / "b.json").write_text(whole)  # the writer finished
    extracted, loaded = _run(warehouse_dsn, feed)
    assert extracted.requests["files_read"] == 1 and loaded.loaded == 1 and loaded.excluded == 1


def test_an_entra_alias_resolves_to_the_entra_person(warehouse_dsn: str, scrapes: Path) -> None:
    config = parse_sources(
        [
            {
                "kind": "entra",
                "name": "contoso",
                "tenant_id": "contoso",
                "conn_id": "msgraph_default",
            }
        ],
        "test",
    )
    entra = config.feed("entra:contoso:signins")
    load_batch(warehouse_dsn, land_pages(warehouse_dsn, entra, [[SIGNIN]]), entra)
    _run(warehouse_dsn, _feed(scrapes))

    with psycopg.connect(warehouse_dsn) as conn:
        rows = conn.execute(
            "SELECT source_id, external_user_id FROM audit.access_events"
            " WHERE lower(actor_principal_name) = 'meganb@contoso.com'"
        ).fetchall()
    assert {source for source, _ in rows} == {"entra:contoso:signins", SOURCE_ID}
    assert len({person for _, person in rows}) == 1, rows


def test_one_batch_with_a_shared_alias_is_stable_on_rerun(
    warehouse_dsn: str, tmp_path: Path
) -> None:
    entries = [
        {"config_id": "app-1", "config_type": "MissionControl::Application",
         "external_user_aliases": ["0b8e7f1c-3d2a-4e5f-9a8b-7c6d5e4f3a2b", "adelev@contoso.com"],
         "created_at": "2026-11-20T10:00:00Z"},
        {"config_id": "app-2", "config_type": "MissionControl::Application",
         "user": "adelev@contoso.com", "created_at": "2026-11-20T11:00:00Z"},
    ]  # fmt: skip
    feed = _feed(tmp_path / "none")
    load_batch(warehouse_dsn, land_pages(warehouse_dsn, feed, [entries]), feed)
    again = load_batch(warehouse_dsn, land_pages(warehouse_dsn, feed, [entries]), feed)
    assert (again.inserted, again.updated) == (0, 0)
