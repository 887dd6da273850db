"""The access-review evidence pack (``reporting/evidence.py``) over a small fixed warehouse
state written with SQL, so it does not depend on the reporting build: the files match the
warehouse and the SQL the manifest records, the pack verifies, every kind of tampering is
named, two packs of one state are byte-identical, the pack is one snapshot, and the CLI's exit
codes say so."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
import pytest

from access_warehouse.cli import main
from access_warehouse.paths import SQL_DIR
from access_warehouse.reporting.evidence import (
    CHAIN_HEAD_CHANGED,
    CHAIN_HEAD_MISSING,
    EXTRA_FILE,
    FILE_CHANGED,
    FILE_MISSING,
    FILES,
    MANIFEST_CHANGED,
    NOT_RECORDED,
    RECORD_MISMATCH,
    EvidenceFile,
    EvidencePackError,
    verify_evidence_pack,
    write_evidence_pack,
)

START, END = date(2026, 11, 1), date(2026, 11, 30)
ENTRA, APPDB = "entra:contoso:signins", "postgres_audit_trigger:appdb"
ALICE = "aaaaaaaa-0000-0000-0000-000000000001"
BOB = "aaaaaaaa-0000-0000-0000-000000000002"
GINA = "aaaaaaaa-0000-0000-0000-000000000007"
PAYROLL = "cccccccc-0000-0000-0000-000000000001"
INVOICES = "cccccccc-0000-0000-0000-000000000002"
BUILD = "bbbbbbbb-0000-0000-0000-000000000001"
# A statement with a line break, commas and quotes: one CSV row over two lines.
GRANT = 'GRANT SELECT, UPDATE\nON billing.invoices TO "bob"'

#: The period, a few days either side of it, and its boundaries: what each file must hold.
FIXTURE = f"""
INSERT INTO audit.sources (source_id, source_uuid, kind, tenant_id, created_at) VALUES
    ('{ENTRA}', '5e000000-0000-0000-0000-000000000001', 'entra', 'contoso', '2026-10-01'),
    ('{APPDB}', '5e000000-0000-0000-0000-000000000002', 'postgres_audit_trigger', NULL,
     '2026-10-01');

INSERT INTO audit.populations (population_id, kind, source_ids, registered_at) VALUES
    ('entra:contoso', 'directory', ARRAY['{ENTRA}'], '2026-10-01');
INSERT INTO audit.population_snapshots (snapshot_id, population_id, taken_at, status, accounts)
VALUES
    ('50000000-0000-0000-0000-000000000001', 'entra:contoso', '2026-10-25', 'complete', 4),
    ('50000000-0000-0000-0000-000000000002', 'entra:contoso', '2026-11-15', 'complete', 4),
    ('50000000-0000-0000-0000-000000000003', 'entra:contoso', '2026-11-20', 'failed', NULL),
    ('50000000-0000-0000-0000-000000000004', 'entra:contoso', '2026-12-05', 'complete', 5);
-- alice: one version throughout; bob: deleted mid-period; carol: renamed after the period;
-- dave: created after it; erin: created at the very instant it ended; frank: removed then
INSERT INTO audit.population_accounts (population_id, account_id, valid_from, valid_to,
    first_snapshot_id, last_snapshot_id, deleted, principal_name, display_name, enabled,
    user_type, aliases, content_hash) VALUES
    ('entra:contoso', 'alice', '2026-10-25', NULL, '50000000-0000-0000-0000-000000000001',
     '50000000-0000-0000-0000-000000000004', false, 'alice@contoso.com', 'Alice Adams', true,
     'member', ARRAY['alice@contoso.com'], 'h-alice'),
    ('entra:contoso', 'bob', '2026-10-25', '2026-11-15', '50000000-0000-0000-0000-000000000001',
     '50000000-0000-0000-0000-000000000001', false, 'bob@contoso.com', 'Bob O''Brien, Jr.',
     true, 'member', ARRAY['bob@contoso.com'], 'h-bob-1'),
    ('entra:contoso', 'bob', '2026-11-15', NULL, '50000000-0000-0000-0000-000000000002',
     '50000000-0000-0000-0000-000000000004', true, 'bob@contoso.com', 'Bob O''Brien, Jr.',
     true, 'member', ARRAY['bob@contoso.com'], 'h-bob-2'),
    ('entra:contoso', 'carol', '2026-10-25', '2026-12-05', '50000000-0000-0000-0000-000000000001',
     '50000000-0000-0000-0000-000000000002', false, 'carol@contoso.com', 'Carol Old', true,
     'guest', ARRAY['carol@contoso.com'], 'h-carol-1'),
    ('entra:contoso', 'carol', '2026-12-05', NULL, '50000000-0000-0000-0000-000000000004',
     '50000000-0000-0000-0000-000000000004', false, 'carol@contoso.com', 'Carol New', true,
     'guest', ARRAY['carol@contoso.com'], 'h-carol-2'),
    ('entra:contoso', 'dave', '2026-12-05', NULL, '50000000-0000-0000-0000-000000000004',
     '50000000-0000-0000-0000-000000000004', false, 'dave@contoso.com', 'Dave', true,
     'member', '{{}}', 'h-dave'),
    ('entra:contoso', 'erin', '2026-12-01 00:00:00+00', NULL,
     '50000000-0000-0000-0000-000000000004', '50000000-0000-0000-0000-000000000004', false,
     'erin@contoso.com', 'Erin', true, 'member', '{{}}', 'h-erin'),
    ('entra:contoso', 'frank', '2026-10-25', '2026-12-01 00:00:00+00',
     '50000000-0000-0000-0000-000000000001', '50000000-0000-0000-0000-000000000002', false,
     'frank@contoso.com', 'Frank', false, 'member', '{{}}', 'h-frank-1'),
    ('entra:contoso', 'frank', '2026-12-01 00:00:00+00', NULL,
     '50000000-0000-0000-0000-000000000004', '50000000-0000-0000-0000-000000000004', true,
     'frank@contoso.com', 'Frank', false, 'member', '{{}}', 'h-frank-2');

INSERT INTO reporting.builds (build_id, trigger, days, as_of, started_at, finished_at) VALUES
    ('{BUILD}', 'asset', ARRAY['2026-11-30'::date], '2026-11-30', '2026-12-01 01:00+00',
     '2026-12-01 01:05+00');

INSERT INTO reporting.daily_access (day, source_id, config_id, resource_type, resource_name,
    external_user_id, person, events, successes, failures, unknown_outcome, with_mfa,
    without_mfa, mfa_unknown, first_at, last_at, last_success_at, last_ip, evaluable, status,
    build_id, built_at) VALUES
    ('2026-10-31', '{ENTRA}', '{PAYROLL}', 'application', 'Payroll', '{ALICE}',
     'alice@contoso.com', 9, 9, 0, 0, 9, 0, 0, '2026-10-31 08:00+00', '2026-10-31 09:00+00',
     '2026-10-31 09:00+00', '198.51.100.1', true, 'complete', '{BUILD}', '2026-12-01 01:00+00'),
    ('2026-11-02', '{ENTRA}', '{PAYROLL}', 'application', 'Payroll', '{ALICE}',
     'alice@contoso.com', 5, 4, 1, 0, 4, 0, 1, '2026-11-02 08:00+00', '2026-11-02 12:00+00',
     '2026-11-02 11:00+00', '198.51.100.2', true, 'complete', '{BUILD}', '2026-12-01 01:00+00'),
    ('2026-11-03', '{ENTRA}', '{PAYROLL}', 'application', 'Payroll', '{ALICE}',
     'alice@contoso.com', 3, 3, 0, 0, 2, 1, 0, '2026-11-03 07:00+00', '2026-11-03 17:00+00',
     '2026-11-03 17:00+00', '198.51.100.3', true, 'complete', '{BUILD}', '2026-12-01 01:00+00'),
    ('2026-11-04', '{APPDB}', '{INVOICES}', 'table', 'billing.invoices', '{ALICE}',
     'alice@contoso.com', 2, 0, 0, 2, 0, 0, 2, '2026-11-04 10:00+00', '2026-11-04 10:05+00',
     NULL, NULL, true, 'complete', '{BUILD}', '2026-12-01 01:00+00'),
    ('2026-11-05', '{ENTRA}', '{PAYROLL}', 'application', 'Payroll', '{BOB}',
     'bob@contoso.com', 1, 0, 1, 0, 0, 0, 1, '2026-11-05 22:00+00', '2026-11-05 22:00+00',
     NULL, '203.0.113.5', true, 'complete', '{BUILD}', '2026-12-01 01:00+00'),
    ('2026-12-01', '{ENTRA}', '{PAYROLL}', 'application', 'Payroll', '{ALICE}',
     'alice@contoso.com', 4, 4, 0, 0, 4, 0, 0, '2026-12-01 08:00+00', '2026-12-01 09:00+00',
     '2026-12-01 09:00+00', '198.51.100.4', true, 'complete', '{BUILD}', '2026-12-01 01:00+00');
-- the day appdb was not extracted: a marker row, no person
INSERT INTO reporting.daily_access (day, source_id, evaluable, status, build_id, built_at)
VALUES ('2026-11-10', '{APPDB}', false, 'not_extracted', '{BUILD}', '2026-12-01 01:00+00');

INSERT INTO reporting.source_days (day, source_id, status, evaluable, covered_share, reason,
    build_id, built_at)
SELECT d::date, s, CASE WHEN s = '{APPDB}' AND d = '2026-11-10' THEN 'not_extracted'
                        ELSE 'complete' END,
       NOT (s = '{APPDB}' AND d = '2026-11-10'),
       CASE WHEN s = '{APPDB}' AND d = '2026-11-10' THEN 0 ELSE 1 END,
       CASE WHEN s = '{APPDB}' AND d = '2026-11-10' THEN 'no window of the day loaded' END,
       '{BUILD}', '2026-12-01 01:00+00'
FROM generate_series('2026-10-31'::timestamp, '2026-12-01'::timestamp, interval '1 day') d,
     unnest(ARRAY['{ENTRA}', '{APPDB}']) s;

INSERT INTO dq.completeness (batch_id, source_id, window_start, window_end, extracted, loaded,
    quarantined, excluded, status, problems, recorded_at) VALUES
    ('d0000000-0000-0000-0000-000000000001', '{ENTRA}', '2026-11-02 00:00+00',
     '2026-11-03 00:00+00', 5, 5, 0, 0, 'complete', '{{}}', '2026-11-03 00:10+00'),
    ('d0000000-0000-0000-0000-000000000002', '{APPDB}', '2026-11-10 00:00+00',
     '2026-11-11 00:00+00', 0, NULL, NULL, NULL, 'extract_failed',
     ARRAY['connection refused'], '2026-11-11 00:10+00');

INSERT INTO reporting.access_review (external_user_id, config_id, resource_type,
    resource_name, person, display_name, sources, first_access_at, last_access_at,
    last_success_at, active_days_30, active_days_90, events_90, mfa_share_90, mfa_unknown_90,
    is_stub, is_guest, is_disabled, is_deleted, as_of, evaluable, status, build_id, built_at)
VALUES
    ('{ALICE}', '{PAYROLL}', 'application', 'Payroll', 'alice@contoso.com', 'Alice Adams',
     ARRAY['{ENTRA}'], '2026-10-31 08:00+00', '2026-11-03 17:00+00', '2026-11-03 17:00+00',
     2, 3, 17, 0.9333, 1, false, false, false, false, '2026-11-30', true, 'complete',
     '{BUILD}', '2026-12-01 01:00+00'),
    ('{ALICE}', '{INVOICES}', 'table', 'billing.invoices', 'alice@contoso.com', 'Alice Adams',
     ARRAY['{APPDB}'], '2026-11-04 10:00+00', '2026-11-04 10:05+00', NULL, 1, 1, 2, NULL, 2,
     false, false, false, false, '2026-11-30', false, 'not_evaluable', '{BUILD}',
     '2026-12-01 01:00+00'),
    ('{BOB}', '{PAYROLL}', 'application', 'Payroll', 'bob@contoso.com', 'Bob O''Brien, Jr.',
     ARRAY['{ENTRA}'], '2026-11-05 22:00+00', '2026-11-05 22:00+00', NULL, 1, 1, 1, NULL, 1,
     false, false, false, true, '2026-11-30', true, 'complete', '{BUILD}',
     '2026-12-01 01:00+00');

INSERT INTO reporting.dormant_accounts (population_id, account_id, principal_name,
    display_name, sources, last_success_at, dormant_after_days, as_of, snapshot_taken_at,
    status, build_id, built_at) VALUES
    ('entra:contoso', 'alice', 'alice@contoso.com', 'Alice Adams', ARRAY['{ENTRA}'],
     '2026-11-03 17:00+00', 90, '2026-11-30', '2026-11-15', 'active', '{BUILD}',
     '2026-12-01 01:00+00'),
    ('entra:contoso', 'carol', 'carol@contoso.com', 'Carol Old', ARRAY['{ENTRA}'], NULL, 90,
     '2026-11-30', '2026-11-15', 'never_signed_in', '{BUILD}', '2026-12-01 01:00+00');

INSERT INTO reporting.privileged_changes (day, occurred_at, source_id, event_id, change_type,
    action, outcome, actor, target_name, privilege, statement, build_id, built_at) VALUES
    ('2026-10-30', '2026-10-30 12:00+00', '{ENTRA}', 'before', 'role_assignment',
     'Add member to role', 'success', 'admin@contoso.com', 'bob@contoso.com',
     'Global Administrator', NULL, '{BUILD}', '2026-12-01 01:00+00'),
    ('2026-11-07', '2026-11-07 09:30+00', '{APPDB}', 'grant-1', 'database_grant', 'GRANT',
     'success', 'alice@contoso.com', 'billing.invoices', NULL, $${GRANT}$$, '{BUILD}',
     '2026-12-01 01:00+00'),
    ('2026-11-30', '2026-11-30 23:59:59.999999+00', '{ENTRA}', 'last-instant',
     'role_assignment', 'Remove member from role', 'success', 'admin@contoso.com',
     'bob@contoso.com', 'Global Administrator', NULL, '{BUILD}', '2026-12-01 01:00+00');

INSERT INTO reporting.failed_signins (day, source_id, external_user_id, person, principal,
    source_ip, error_code, failure_reason, failures, lockouts, first_at, last_at, evaluable,
    status, build_id, built_at) VALUES
    ('2026-11-05', '{ENTRA}', '{BOB}', 'bob@contoso.com', 'bob@contoso.com', '203.0.113.5',
     '50126', 'Invalid username or password', 12, 0, '2026-11-05 21:50+00',
     '2026-11-05 22:00+00', true, 'complete', '{BUILD}', '2026-12-01 01:00+00'),
    ('2026-11-10', '{APPDB}', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, false,
     'not_extracted', '{BUILD}', '2026-12-01 01:00+00'),
    ('2026-12-01', '{ENTRA}', '{BOB}', 'bob@contoso.com', 'bob@contoso.com', '203.0.113.5',
     '50126', 'Invalid username or password', 1, 0, '2026-12-01 21:50+00',
     '2026-12-01 21:50+00', true, 'complete', '{BUILD}', '2026-12-01 01:00+00');

INSERT INTO reporting.failed_signin_bursts (day, pattern, source_ip, external_user_id, person,
    started_at, ended_at, failures, principals, lockouts, sources, thresholds, build_id,
    built_at) VALUES
    ('2026-11-05', 'brute_force', '203.0.113.5', '{BOB}', 'bob@contoso.com',
     '2026-11-05 21:50+00', '2026-11-05 22:00+00', 12, 1, 0, ARRAY['{ENTRA}'],
     '{{"brute_force_min_failures": 10, "window_minutes": 60}}', '{BUILD}',
     '2026-12-01 01:00+00'),
    ('2026-10-01', 'password_spraying', '192.0.2.9', NULL, NULL, '2026-10-01 03:00+00',
     '2026-10-01 03:20+00', 40, 8, 0, ARRAY['{ENTRA}'], '{{"spraying_min_principals": 5}}',
     '{BUILD}', '2026-12-01 01:00+00');
"""

#: What the period holds, file by file (boundaries: erin and dave are after its end, frank's
#: first version ends exactly at it; 2026-10-31 and 2026-12-01 are outside).
EXPECTED_ROWS = {
    "population.csv": 4,  # alice, bob (deleted), carol (the old version), frank
    "access.csv": 3,  # alice x Payroll, alice x billing.invoices, bob x Payroll
    "access_review.csv": 3,
    "dormant_accounts.csv": 2,
    "privileged_changes.csv": 2,
    "failed_signins.csv": 2,  # bob's failures and appdb's marker row of 2026-11-10
    "failed_signin_bursts.csv": 1,
    "coverage.csv": 60,  # 2 sources x 30 days
}


def insert_batch(conn: psycopg.Connection, batch_id: str, source_id: str, batch_hash: str) -> None:
    conn.execute(
        """
        INSERT INTO audit.batches (batch_id, source_id, window_start, window_end, lookback,
            pages, extracted, loaded, quarantined, duplicates, inserted, updated, unchanged,
            new_users, new_config_items, extract_started_at, loaded_at, duration_s,
            content_digest, prev_hash, batch_hash)
        VALUES (%(batch_id)s, %(source_id)s, '2026-11-01', '2026-11-02', '0', 1, 1, 1, 0, 0, 1,
            0, 0, 0, 0, '2026-11-02 00:05+00', now(), 1, 'digest',
            (SELECT batch_hash FROM audit.batches WHERE source_id = %(source_id)s
             ORDER BY sequence_no DESC LIMIT 1),
            %(batch_hash)s)
        """,
        {"batch_id": batch_id, "source_id": source_id, "batch_hash": batch_hash},
    )


@pytest.fixture
def warehouse(warehouse_dsn: str) -> str:
    with psycopg.connect(warehouse_dsn) as conn:
        conn.execute(FIXTURE)  # type: ignore[arg-type]
        insert_batch(conn, "ba000000-0000-0000-0000-000000000001", ENTRA, "hash-entra-1")
        insert_batch(conn, "ba000000-0000-0000-0000-000000000002", APPDB, "hash-appdb-1")
        insert_batch(conn, "ba000000-0000-0000-0000-000000000003", ENTRA, "hash-entra-2")
    return warehouse_dsn


@pytest.fixture
def pack_dir(warehouse: str, tmp_path: Path) -> Path:
    return write_evidence_pack(warehouse, START, END, tmp_path / "pack").directory


def manifest_of(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "manifest.json").read_text())


def csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def kinds(folder: Path, dsn: str | None = None) -> list[tuple[str, str]]:
    return [(p.kind, p.name) for p in verify_evidence_pack(folder, dsn).problems]


# --- what a pack holds -------------------------------------------------------------------


def test_the_files_hold_the_period_and_match_the_manifest_and_its_sql(
    warehouse: str, pack_dir: Path
) -> None:
    manifest = manifest_of(pack_dir)
    assert sorted(p.name for p in pack_dir.iterdir()) == sorted(
        [spec.name for spec in FILES] + ["manifest.json", "manifest.sha256"]
    )
    assert manifest["period"] == {
        "period_start": "2026-11-01",
        "period_end": "2026-11-30",
        "days": 30,
        "ends_at": "2026-12-01T00:00:00+00:00",
        "time_zone": "UTC",
    }
    assert {entry["name"]: entry["rows"] for entry in manifest["files"]} == EXPECTED_ROWS

    with psycopg.connect(warehouse) as conn:
        for entry in manifest["files"]:
            path = pack_dir / entry["name"]
            data = path.read_bytes()
            assert entry["sha256"] == hashlib.sha256(data).hexdigest()
            assert entry["bytes"] == len(data)
            # rows as a CSV reader reads them (the GRANT's line break is inside one field)
            rows = list(csv.reader(io.StringIO(data.decode(), newline="")))
            assert rows[0] == [column["name"] for column in entry["columns"]]
            assert len(rows) - 1 == entry["rows"]
            # the SQL and parameters recorded give the same rows again, byte for byte
            assert entry["sql"] == (SQL_DIR / entry["sql_file"]).read_text().strip()
            count = conn.execute(
                f"SELECT count(*) FROM ({entry['sql']}) AS q",  # type: ignore[arg-type]
                entry["parameters"],
            ).fetchone()
            assert count == (entry["rows"],)
            again = io.BytesIO()
            with conn.cursor().copy(
                f"COPY ({entry['sql']}\n) TO STDOUT WITH (FORMAT csv, HEADER true)",  # type: ignore[arg-type]
                entry["parameters"],
            ) as copy:
                for chunk in copy:
                    again.write(chunk)
            assert again.getvalue() == data, entry["name"]

    population = csv_rows(pack_dir / "population.csv")
    assert [(r["account_id"], r["deleted"], r["display_name"]) for r in population] == [
        ("alice", "f", "Alice Adams"),
        ("bob", "t", "Bob O'Brien, Jr."),
        ("carol", "f", "Carol Old"),
        ("frank", "f", "Frank"),
    ]
    # the population as the last complete snapshot before the end saw it (not the failed one)
    assert {r["population_snapshot_id"] for r in population} == {
        "50000000-0000-0000-0000-000000000002"
    }

    access = csv_rows(pack_dir / "access.csv")
    alice_payroll = access[0]
    assert (alice_payroll["person"], alice_payroll["resource_name"]) == (
        "alice@contoso.com",
        "Payroll",
    )
    assert alice_payroll["first_access_at"] == "2026-11-02 08:00:00+00"
    assert alice_payroll["last_access_at"] == "2026-11-03 17:00:00+00"
    assert (alice_payroll["active_days"], alice_payroll["events"]) == ("2", "8")
    assert (alice_payroll["with_mfa"], alice_payroll["last_ip"]) == ("6", "198.51.100.3")
    assert [(r["resource_name"], r["source_evaluable_days"], r["period_days"]) for r in access] == [
        ("Payroll", "30", "30"),
        ("billing.invoices", "29", "30"),  # appdb did not cover 2026-11-10
        ("Payroll", "30", "30"),
    ]

    grant = csv_rows(pack_dir / "privileged_changes.csv")
    assert [r["event_id"] for r in grant] == ["grant-1", "last-instant"]
    assert grant[0]["statement"] == GRANT

    coverage = csv_rows(pack_dir / "coverage.csv")
    appdb_day = next(r for r in coverage if r["source_id"] == APPDB and r["day"] == "2026-11-10")
    assert (appdb_day["status"], appdb_day["evaluable"], appdb_day["extract_status"]) == (
        "not_extracted",
        "f",
        "extract_failed",
    )
    assert appdb_day["problems"] == '{"connection refused"}'

    completeness = manifest["completeness"]
    assert completeness["all_evaluable"] is False
    assert completeness["not_evaluable"] == {APPDB: ["2026-11-10"]}
    assert completeness["sources"][ENTRA]["statuses"] == {"complete": 30}
    assert completeness["sources"][APPDB]["by_day"]["2026-11-10"] == {
        "status": "not_extracted",
        "evaluable": False,
        "extract_status": "extract_failed",
    }
    assert manifest["chain_head"]["latest"]["batch_hash"] == "hash-entra-2"
    assert manifest["chain_head"]["latest"]["batches"] == 3
    assert {s: h["batch_hash"] for s, h in manifest["chain_head"]["by_source"].items()} == {
        ENTRA: "hash-entra-2",
        APPDB: "hash-appdb-1",
    }
    assert [b["build_id"] for b in manifest["reporting_builds"]] == [BUILD]
    assert [s["source_id"] for s in manifest["sources"]] == [ENTRA, APPDB]
    assert manifest["warehouse"]["database"] == warehouse.split("dbname=")[1].split()[0]
    assert manifest["warehouse"]["session"]["TimeZone"] == "UTC"
    assert manifest["created_by"]["database_user"] == "postgres"

    # the manifest's own hash, in sha256sum's format, and the warehouse's row of the pack
    manifest_hash = hashlib.sha256((pack_dir / "manifest.json").read_bytes()).hexdigest()
    assert (pack_dir / "manifest.sha256").read_text() == f"{manifest_hash}  manifest.json\n"
    with psycopg.connect(warehouse) as conn:
        row = conn.execute(
            "SELECT pack_id::text, period_start, period_end, location, manifest_sha256, files"
            " FROM reporting.evidence_packs"
        ).fetchone()
    assert row is not None
    assert row[:5] == (manifest["pack_id"], START, END, str(pack_dir.resolve()), manifest_hash)
    assert row[5]["access.csv"]["rows"] == 3

    result = verify_evidence_pack(pack_dir)
    assert result.ok and not result.database_checked and result.files_checked == len(FILES)
    result = verify_evidence_pack(pack_dir, warehouse)
    assert result.ok and result.database_checked, result.problems


def test_an_empty_period_and_an_empty_warehouse_still_give_a_pack(
    warehouse_dsn: str, tmp_path: Path
) -> None:
    pack = write_evidence_pack(warehouse_dsn, START, START, tmp_path / "empty")
    assert {f.name: f.rows for f in pack.files} == {spec.name: 0 for spec in FILES}
    assert pack.chain_head == {"latest": None, "by_source": {}}
    assert verify_evidence_pack(pack.directory, warehouse_dsn).ok


# --- tampering ---------------------------------------------------------------------------


def test_a_changed_byte_in_one_file_fails_naming_it(warehouse: str, pack_dir: Path) -> None:
    path = pack_dir / "access.csv"
    original = path.read_bytes()
    changed = bytearray(original)
    index = original.index(b"198.51.100.3")
    changed[index + 11] = ord("4")  # the last IP 198.51.100.3 becomes ...100.4: same size
    path.write_bytes(bytes(changed))
    result = verify_evidence_pack(pack_dir)
    assert [(p.kind, p.name) for p in result.problems] == [(FILE_CHANGED, "access.csv")]
    assert "sha256" in result.problems[0].detail and "rows" not in result.problems[0].detail
    assert kinds(pack_dir, warehouse) == [
        (FILE_CHANGED, "access.csv"),
        (RECORD_MISMATCH, "access.csv"),
    ]
    path.write_bytes(original)
    assert verify_evidence_pack(pack_dir, warehouse).ok


def test_a_removed_row_is_named_with_its_count(pack_dir: Path) -> None:
    path = pack_dir / "privileged_changes.csv"
    lines = path.read_bytes().split(b"\n")
    # drop the last row (the GRANT, two lines, stays)
    path.write_bytes(b"\n".join(lines[:-2]) + b"\n")
    (problem,) = verify_evidence_pack(pack_dir).problems
    assert (problem.kind, problem.name) == (FILE_CHANGED, "privileged_changes.csv")
    assert "rows 1 (manifest: 2)" in problem.detail


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        (lambda d: (d / "coverage.csv").unlink(), [(FILE_MISSING, "coverage.csv")]),
        (
            lambda d: (d / "extra.csv").write_text("person\nmallory\n"),
            [(EXTRA_FILE, "extra.csv")],
        ),
        (
            lambda d: (d / "notes").mkdir() or (d / "notes" / "x.txt").write_text("x"),
            [(EXTRA_FILE, "notes/x.txt")],
        ),
        (
            lambda d: (d / "manifest.json").write_text(
                (d / "manifest.json").read_text().replace('"days": 30', '"days": 31')
            ),
            [(MANIFEST_CHANGED, "manifest.json")],
        ),
        (lambda d: (d / "manifest.sha256").unlink(), [(FILE_MISSING, "manifest.sha256")]),
    ],
    ids=["deleted file", "added file", "added folder", "edited manifest", "no manifest hash"],
)
def test_each_tampering_fails_verification(
    pack_dir: Path, tamper: Any, expected: list[tuple[str, str]]
) -> None:
    assert verify_evidence_pack(pack_dir).ok
    tamper(pack_dir)
    assert kinds(pack_dir) == expected


def test_an_edited_row_count_fails_for_the_manifest_and_the_file(pack_dir: Path) -> None:
    manifest = manifest_of(pack_dir)
    manifest["files"][1]["rows"] = 99
    (pack_dir / "manifest.json").write_text(json.dumps(manifest, indent=2))
    assert kinds(pack_dir) == [(MANIFEST_CHANGED, "manifest.json"), (FILE_CHANGED, "access.csv")]


def test_a_pack_rewritten_whole_passes_alone_and_fails_against_the_warehouse(
    warehouse: str, pack_dir: Path
) -> None:
    """Files, manifest and manifest hash forged together are self-consistent: only the
    warehouse's row (or the hash kept in the review ticket) shows the change."""
    path = pack_dir / "access.csv"
    data = path.read_bytes().replace(b"bob@contoso.com", b"bob@contoso.org")
    path.write_bytes(data)
    manifest = manifest_of(pack_dir)
    entry = next(e for e in manifest["files"] if e["name"] == "access.csv")
    entry.update(sha256=hashlib.sha256(data).hexdigest(), bytes=len(data))
    text = (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode()
    (pack_dir / "manifest.json").write_bytes(text)
    (pack_dir / "manifest.sha256").write_text(f"{hashlib.sha256(text).hexdigest()}  x\n")

    assert verify_evidence_pack(pack_dir).ok
    assert kinds(pack_dir, warehouse) == [
        (RECORD_MISMATCH, "manifest.json"),
        (RECORD_MISMATCH, "access.csv"),
    ]


def test_a_pack_the_warehouse_does_not_know_fails_against_it(
    warehouse: str, pack_dir: Path
) -> None:
    with psycopg.connect(warehouse) as conn:
        conn.execute("DELETE FROM reporting.evidence_packs")
    manifest = manifest_of(pack_dir)
    assert kinds(pack_dir, warehouse) == [(NOT_RECORDED, manifest["pack_id"])]


def test_a_changed_or_removed_chain_head_batch_fails_against_the_warehouse(
    warehouse: str, pack_dir: Path
) -> None:
    with psycopg.connect(warehouse) as conn:
        # a later load moves the head on: the recorded head still exists, nothing is wrong
        insert_batch(conn, "ba000000-0000-0000-0000-000000000004", ENTRA, "hash-entra-3")
    assert verify_evidence_pack(pack_dir, warehouse).ok

    with psycopg.connect(warehouse) as conn:
        conn.execute(
            "UPDATE audit.batches SET batch_hash = 'rewritten'"
            " WHERE batch_id = 'ba000000-0000-0000-0000-000000000003'"
        )
        conn.execute(
            "DELETE FROM audit.batches WHERE batch_id = 'ba000000-0000-0000-0000-000000000002'"
        )
    result = verify_evidence_pack(pack_dir, warehouse)
    assert [(p.kind, p.name) for p in result.problems] == [
        (CHAIN_HEAD_CHANGED, "chain head"),
        (CHAIN_HEAD_CHANGED, f"chain head of {ENTRA}"),
        (CHAIN_HEAD_MISSING, f"chain head of {APPDB}"),
    ]
    assert "batch_hash rewritten (at the pack: hash-entra-2)" in result.problems[0].detail
    assert verify_evidence_pack(pack_dir).ok  # the files themselves are unchanged


# --- determinism and one snapshot --------------------------------------------------------


def test_two_packs_of_one_state_are_identical_but_for_id_and_time(
    warehouse: str, tmp_path: Path
) -> None:
    first = write_evidence_pack(warehouse, START, END, tmp_path / "one")
    second = write_evidence_pack(warehouse, START, END, tmp_path / "two")
    for spec in FILES:
        assert (first.directory / spec.name).read_bytes() == (
            second.directory / spec.name
        ).read_bytes(), spec.name
    one, two = manifest_of(first.directory), manifest_of(second.directory)
    assert one["pack_id"] != two["pack_id"]
    for manifest in (one, two):
        del manifest["pack_id"], manifest["created_at"]
    assert one == two


def test_the_pack_is_one_snapshot_while_a_load_commits(warehouse: str, tmp_path: Path) -> None:
    """A load committing after the first file was read (a new person with access, a
    privileged change, a batch) is in none of the pack's files; the next pack has it in all."""
    committed: list[str] = []

    def concurrent_load(written: EvidenceFile) -> None:
        if written.name != "population.csv":
            return
        with psycopg.connect(warehouse) as other:
            other.execute(
                """
                INSERT INTO audit.population_accounts (population_id, account_id, valid_from,
                    first_snapshot_id, last_snapshot_id, content_hash)
                VALUES ('entra:contoso', 'gina', '2026-11-10',
                        '50000000-0000-0000-0000-000000000002',
                        '50000000-0000-0000-0000-000000000002', 'h-gina')
                """
            )
            other.execute(
                """
                INSERT INTO reporting.daily_access (day, source_id, config_id, external_user_id,
                    person, events, successes, evaluable, status, build_id, built_at)
                VALUES ('2026-11-12', %s, %s, %s, 'gina@contoso.com', 1, 1, true, 'complete',
                        %s, now())
                """,
                (ENTRA, PAYROLL, GINA, BUILD),
            )
            other.execute(
                """
                INSERT INTO reporting.privileged_changes (day, occurred_at, source_id, event_id,
                    change_type, action, outcome, build_id, built_at)
                VALUES ('2026-11-12', '2026-11-12 10:00+00', %s, 'gina-admin',
                        'role_assignment', 'Add member to role', 'success', %s, now())
                """,
                (ENTRA, BUILD),
            )
            insert_batch(other, "ba000000-0000-0000-0000-000000000009", ENTRA, "hash-gina")
        committed.append(written.name)

    pack = write_evidence_pack(warehouse, START, END, tmp_path / "during", on_file=concurrent_load)
    assert committed == ["population.csv"]
    with psycopg.connect(warehouse) as conn:  # committed, and visible to anyone reading now
        assert conn.execute(
            "SELECT count(*) FROM reporting.daily_access WHERE external_user_id = %s", (GINA,)
        ).fetchone() == (1,)
    files = {f.name: f.rows for f in pack.files}
    assert files == EXPECTED_ROWS
    assert "gina" not in (pack.directory / "access.csv").read_text()
    assert pack.chain_head["latest"]["batch_hash"] == "hash-entra-2"
    assert verify_evidence_pack(pack.directory, warehouse).ok

    after = write_evidence_pack(warehouse, START, END, tmp_path / "after")
    rows = {f.name: f.rows for f in after.files}
    assert rows["population.csv"] == EXPECTED_ROWS["population.csv"] + 1
    assert rows["access.csv"] == EXPECTED_ROWS["access.csv"] + 1
    assert rows["privileged_changes.csv"] == EXPECTED_ROWS["privileged_changes.csv"] + 1
    assert after.chain_head["latest"]["batch_hash"] == "hash-gina"


# --- refusals and failures ---------------------------------------------------------------


def test_a_bad_period_or_a_used_folder_is_refused(warehouse: str, tmp_path: Path) -> None:
    with pytest.raises(EvidencePackError, match="starts after it ends: 2026-11-30 > 2026-11-01"):
        write_evidence_pack(warehouse, END, START, tmp_path / "x")
    used = tmp_path / "used"
    used.mkdir()
    (used / "old.csv").write_text("x\n")
    with pytest.raises(EvidencePackError, match="is not empty"):
        write_evidence_pack(warehouse, START, END, used)
    assert [p.name for p in used.iterdir()] == ["old.csv"]
    with pytest.raises(EvidencePackError, match="not a folder"):
        write_evidence_pack(warehouse, START, END, used / "old.csv")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert write_evidence_pack(warehouse, START, END, empty).directory == empty
    assert verify_evidence_pack(empty).ok


def test_a_pack_that_fails_midway_leaves_no_folder_and_no_record(
    warehouse: str, tmp_path: Path
) -> None:
    def fail(written: EvidenceFile) -> None:
        if written.name == "access.csv":
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_evidence_pack(warehouse, START, END, tmp_path / "pack", on_file=fail)
    assert list(tmp_path.iterdir()) == []  # neither the pack nor its partial folder
    with psycopg.connect(warehouse) as conn:
        assert conn.execute("SELECT count(*) FROM reporting.evidence_packs").fetchone() == (0,)


# --- the command line --------------------------------------------------------------------


@pytest.fixture
def cli_pack(warehouse: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[Path]:
    out = tmp_path / "cli-pack"
    args = ["evidence-pack", "--from", "2026-11-01", "--to", "2026-11-30"]
    assert main([*args, "--out", str(out), "--dsn", warehouse]) == 0
    printed = capsys.readouterr().out
    manifest = manifest_of(out)
    assert f"folder: {out}" in printed
    for entry in manifest["files"]:
        line = next(line for line in printed.splitlines() if entry["name"] in line)
        assert f"{entry['rows']} rows" in line and entry["sha256"] in line
    manifest_hash = (out / "manifest.sha256").read_text().split()[0]
    assert f"manifest.json sha256 {manifest_hash}" in printed
    assert "chain head: batch 3 (entra:contoso:signins) hash-entra-2" in printed
    assert f"not evaluable on {APPDB}: 1 day(s)" in printed
    yield out


def test_cli_pack_and_verify_exit_codes(
    warehouse: str, cli_pack: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["evidence-verify", str(cli_pack)]) == 0
    assert "not compared with the warehouse" in capsys.readouterr().out
    assert main(["evidence-verify", str(cli_pack), "--dsn", warehouse]) == 0
    assert "the warehouse's record and chain heads match" in capsys.readouterr().out

    with (cli_pack / "dormant_accounts.csv").open("a") as handle:
        handle.write("entra:contoso,mallory\n")
    assert main(["evidence-verify", str(cli_pack)]) == 1
    printed = capsys.readouterr().out
    assert "file_changed: dormant_accounts.csv" in printed and "rows 3 (manifest: 2)" in printed
    assert "NOT VERIFIED: 1 problem(s)" in printed


def test_cli_reports_a_changed_chain_head(
    warehouse: str, cli_pack: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with psycopg.connect(warehouse) as conn:
        conn.execute("UPDATE audit.batches SET batch_hash = 'rewritten' WHERE sequence_no = 2")
    assert main(["evidence-verify", str(cli_pack)]) == 0
    capsys.readouterr()
    assert main(["evidence-verify", str(cli_pack), "--dsn", warehouse]) == 1
    assert f"chain_head_changed: chain head of {APPDB}" in capsys.readouterr().out


def test_cli_refusals_exit_2(
    warehouse: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["evidence-pack", "--dsn", warehouse, "--out", str(tmp_path / "p")]
    assert main([*args, "--from", "2026-11-30", "--to", "2026-11-01"]) == 2
    assert "the period starts after it ends" in capsys.readouterr().err
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "x").write_text("")
    assert main([*args, "--from", "2026-11-01", "--to", "2026-11-30"]) == 2
    assert "is not empty" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main([*args, "--from", "2026-11", "--to", "2026-11-30"])
    assert exit_info.value.code == 2
    assert "not a day YYYY-MM-DD: '2026-11'" in capsys.readouterr().err
    assert main(["evidence-verify", str(tmp_path / "nowhere")]) == 1
    assert "manifest_missing" in capsys.readouterr().out


def test_an_auditor_login_verifies_a_pack_against_the_warehouse(
    warehouse: str, pack_dir: Path
) -> None:
    login = "pack_reviewer"
    with psycopg.connect(warehouse, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (login,)).fetchone():
            conn.execute(f"CREATE ROLE {login} LOGIN IN ROLE auditor_readonly")
    auditor = psycopg.conninfo.make_conninfo(warehouse, user=login)
    assert verify_evidence_pack(pack_dir, auditor).ok
    with psycopg.connect(warehouse) as conn:
        conn.execute(
            "UPDATE audit.batches SET batch_hash = 'rewritten'"
            " WHERE batch_id = 'ba000000-0000-0000-0000-000000000003'"
        )
    assert (CHAIN_HEAD_CHANGED, "chain head") in kinds(pack_dir, auditor)
