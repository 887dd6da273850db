"""What each role can do to the warehouse's history (README "Tamper evidence"):

- the owner (the login that runs migrations) can do anything, including rewriting a manifest
  chain so that the verifier passes again: only a chain head published elsewhere shows it;
- a login in ``warehouse_loader`` runs the whole load path (extract landing, load with a new
  monthly partition, an update, a quarantine re-processing, a reporting build, a retention
  purge, the verifier), but cannot update, delete or truncate the manifest chain, the global
  batch chain, the verifier's or retention's runs, cannot forge a chained entry, and has no DDL;
- a login in ``auditor_readonly`` reads the chain and the verifier's runs through ``auditor``
  views, and nothing of ``audit`` or ``etl``.

Each runs on a warehouse migrated in place (database privileges are not copied to the per-test
clones): the embedded PostgreSQL 16 owned and migrated by a login that is not a superuser (the
production layout), and this machine's PostgreSQL 15.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from toy_kind import normalise_toy, toy_line

from access_warehouse.config import parse_sources
from access_warehouse.extract import extract
from access_warehouse.integrity.manifests import record_purge
from access_warehouse.integrity.verify import verify_warehouse
from access_warehouse.landing import ExtractWindow, LandingBatch
from access_warehouse.load import load_batch
from access_warehouse.quality.reprocess import reprocess_quarantine
from access_warehouse.reporting.build import build_reports
from access_warehouse.retention.config import load_retention_config
from access_warehouse.retention.enforce import enforce_retention
from access_warehouse.sources.base import Feed
from access_warehouse.warehouse import MIGRATIONS_DIR, apply_migrations

SIGNINS = parse_sources(
    [{"kind": "entra", "name": "contoso", "tenant_id": "contoso", "conn_id": "msgraph_default"}],
    "test",
).feed("entra:contoso:signins")
DAY = datetime(2026, 11, 6, tzinfo=UTC)
#: History: append-only for the loading role.
HISTORY = ("audit.manifests", "audit.batches", "etl.verifier_runs")
#: Bookkeeping of the migrations: the owner's alone.
MIGRATIONS = ("etl.schema_migrations", "etl.repeatable_scripts")
ADMIN_REVOKES_LARGE_OBJECTS = """
REVOKE EXECUTE ON FUNCTION pg_catalog.lo_create(oid), pg_catalog.lo_creat(integer),
    pg_catalog.lo_from_bytea(oid, bytea) FROM PUBLIC;
"""


def dsn(host: str, dbname: str, user: str) -> str:
    return f"host={host} dbname={dbname} user={user}"


@dataclass(frozen=True)
class Warehouse:
    host: str
    dbname: str
    owner: str  # owns the database and its objects, runs the migrations
    loader: str  # LOGIN member of warehouse_loader
    auditor: str  # LOGIN member of auditor_readonly

    def dsn(self, user: str) -> str:
        return dsn(self.host, self.dbname, user)

    def connect(self, user: str, **kwargs: Any) -> psycopg.Connection:
        conn = psycopg.connect(self.dsn(user), **kwargs)
        # privileges, not the read-only default, must be what refuses the auditor's writes
        conn.execute("SET default_transaction_read_only = off")
        if not conn.autocommit:
            conn.commit()
        return conn


@pytest.fixture(scope="module", params=["pg16_owner_not_superuser", "pg15"])
def warehouse(request: pytest.FixtureRequest) -> Iterator[Warehouse]:
    variant = request.param
    if variant == "pg15":
        host = request.getfixturevalue("system_pg")
    else:
        host = request.getfixturevalue("pg_server")
        request.getfixturevalue("migrated_template")  # the server's roles exist
    admin = dsn(host, "postgres", "postgres")
    suffix = uuid.uuid4().hex[:10]
    owner = f"wh_owner_{suffix}" if variant != "pg15" else "postgres"
    loader, auditor, name = f"ldr_{suffix}", f"aud_{suffix}", f"t_roles_{suffix}"
    with psycopg.connect(admin, autocommit=True) as conn:
        if owner != "postgres":
            conn.execute(f"CREATE ROLE {owner} LOGIN")
        conn.execute(f'CREATE DATABASE "{name}" OWNER {owner}')
    try:
        if owner != "postgres":
            with psycopg.connect(dsn(host, name, "postgres"), autocommit=True) as conn:
                conn.execute(ADMIN_REVOKES_LARGE_OBJECTS)
        assert "0012_tamper_evidence" in apply_migrations(dsn(host, name, owner))
        with psycopg.connect(admin, autocommit=True) as conn:
            # what README "Tamper evidence" has an administrator run per login
            conn.execute(f"CREATE ROLE {loader} LOGIN IN ROLE warehouse_loader")
            conn.execute(f"CREATE ROLE {auditor} LOGIN IN ROLE auditor_readonly")
            conn.execute(f"ALTER ROLE {auditor} SET default_transaction_read_only = on")
        yield Warehouse(host, name, owner, loader, auditor)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            for role in (loader, auditor, *([owner] if owner != "postgres" else [])):
                conn.execute(f"DROP ROLE IF EXISTS {role}")


def signin(event_id: str, at: datetime, app: str = "Portal") -> dict[str, Any]:
    return {
        "id": event_id,
        "createdDateTime": at.isoformat().replace("+00:00", "Z"),
        "userId": "00000000-0000-4000-8000-00000000000a",
        "userDisplayName": "Alice",
        "userPrincipalName": "alice@contoso.com",
        "appId": str(uuid.uuid5(uuid.NAMESPACE_DNS, app)),
        "appDisplayName": app,
        "ipAddress": "10.0.0.1",
        "status": {"errorCode": 0},
        "authenticationRequirement": "multiFactorAuthentication",
    }


def load_signins(target: str, start: datetime, end: datetime, records: list[dict]) -> Any:
    batch = LandingBatch(
        target,
        source_id=SIGNINS.source_id,
        source_kind=SIGNINS.record_kind,
        window=ExtractWindow(start, end),
    )
    batch.write_page(records)
    batch.finish("extracted")
    batch.close()
    return load_batch(target, batch.batch_id, SIGNINS)


def _fixed(feed: Feed) -> Feed:
    """The toy normaliser, fixed to read epoch seconds (quarantined until then)."""

    def normalise(record: dict[str, Any], source_id: str) -> dict[str, Any]:
        if type(record.get("at")) is int:
            record = {**record, "at": datetime.fromtimestamp(record["at"], UTC).isoformat()}
        return normalise_toy(record, source_id)

    return replace(feed, normalise=normalise)


def denied(conn: psycopg.Connection, statement: str) -> str:
    """'denied' for a permission error (the transaction rolled back), else what happened."""
    try:
        with conn.transaction():
            conn.execute(statement)
    except psycopg.errors.InsufficientPrivilege:
        return "denied"
    except psycopg.Error as exc:
        return f"{type(exc).__name__}: {exc}"
    return "allowed"


@pytest.fixture(scope="module")
def loaded(warehouse: Warehouse, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Everything the loading role runs, as that role: what later tests check the limits on."""
    target = warehouse.dsn(warehouse.loader)
    month = DAY.replace(year=2031)  # a month no partition exists for yet
    first = load_signins(
        target,
        month,
        month + timedelta(days=1),
        [signin(f"e{n}", month + timedelta(hours=n)) for n in range(4)],
    )
    changed = load_signins(
        target,
        month,
        month + timedelta(days=1),
        [signin("e1", month + timedelta(hours=1), "Payroll")],
    )
    path = tmp_path_factory.mktemp("toy") / "toy.jsonl"
    epoch = int((month + timedelta(hours=5)).timestamp())
    path.write_text(
        toy_line(0, at=month)
        + "\n"
        + json.dumps({**json.loads(toy_line(1, at=month)), "id": "toy-1", "at": epoch})
        + "\n"
    )
    toy = parse_sources([{"kind": "toy", "name": "demo", "path": str(path)}], "t").feed("toy:demo")
    extracted = extract(target, toy, window=ExtractWindow(month, month + timedelta(days=1)))
    quarantined = load_batch(target, extracted.batch_id, toy)
    reprocessed = reprocess_quarantine(target, _fixed(toy))
    build = build_reports(target, [month.date()], as_of=month.date())
    # access_retention as the loader: a month past the policy is dropped (through the owner's
    # function), and chained as a purge first
    old = datetime(2024, 1, 10, tzinfo=UTC)
    load_signins(target, old, old + timedelta(days=1), [signin("old-1", old + timedelta(hours=1))])
    retention = enforce_retention(
        target, load_retention_config(), now=datetime(2026, 11, 20, tzinfo=UTC)
    )
    purge_run = uuid.uuid4()
    with psycopg.connect(target) as conn:  # retention, as it will run: entry first, then rows
        purged = record_purge(
            conn,
            retention_run_id=purge_run,
            source_id=SIGNINS.source_id,
            occurred_from=month,
            occurred_to=month + timedelta(hours=1),
        )
        conn.execute(
            "DELETE FROM audit.access_events WHERE source_id = %s AND occurred_at < %s",
            (SIGNINS.source_id, month + timedelta(hours=1)),
        )
    report = verify_warehouse(target)
    return {
        "first": first,
        "changed": changed,
        "quarantined": quarantined,
        "reprocessed": reprocessed,
        "build": build,
        "purged": purged,
        "retention": retention,
        "report": report,
    }


def test_the_loader_runs_the_whole_load_path(warehouse: Warehouse, loaded: dict[str, Any]) -> None:
    assert loaded["first"].inserted == 4 and loaded["changed"].updated == 1
    assert (loaded["quarantined"].quarantined, loaded["reprocessed"].loaded) == (1, 1)
    assert loaded["build"].days  # the reporting build wrote the month's day
    assert loaded["purged"]["rows"] == 1
    assert loaded["retention"].partitions_dropped == ["access_events_y2024m01"]
    report = loaded["report"]
    assert report.ok, report.lines()
    with psycopg.connect(warehouse.dsn("postgres")) as conn:
        # the new month's partition was made by the owner's function, and is the owner's
        owner = conn.execute(
            "SELECT pg_get_userbyid(relowner) FROM pg_class"
            " WHERE oid = 'audit.access_events_y2031m11'::regclass"
        ).fetchone()[0]
        kinds = conn.execute(
            "SELECT source_id, kind FROM audit.manifests ORDER BY source_id, entry_no"
        ).fetchall()
        checked_by = conn.execute(
            "SELECT checked_by, status FROM etl.verifier_runs WHERE verifier_run_id = %s",
            (report.verifier_run_id,),
        ).fetchone()
    assert owner == warehouse.owner
    assert kinds == [
        ("entra:contoso:signins", "load"),
        ("entra:contoso:signins", "load"),
        ("entra:contoso:signins", "load"),
        ("entra:contoso:signins", "purge"),
        ("entra:contoso:signins", "purge"),
        ("toy:demo", "load"),
        ("toy:demo", "reprocess"),
    ]
    assert checked_by == (warehouse.loader, "ok")


def test_the_loader_cannot_rewrite_history(warehouse: Warehouse, loaded: dict[str, Any]) -> None:
    with warehouse.connect(warehouse.loader, autocommit=False) as conn:
        history = [
            *HISTORY,
            *(["etl.retention_runs"] if _exists(conn, "etl.retention_runs") else []),
        ]
        refused = {
            statement: denied(conn, statement)
            for table in history
            for statement in (
                f"UPDATE {table} SET {_first_column(conn, table)} = {_first_column(conn, table)}",
                f"DELETE FROM {table}",
                f"TRUNCATE {table}",
            )
        }
        refused |= {
            statement: denied(conn, statement)
            for statement in (
                "ALTER TABLE audit.manifests DISABLE TRIGGER manifests_append_only",
                "DROP TRIGGER manifests_chain ON audit.manifests",
                "ALTER TABLE audit.access_events DETACH PARTITION audit.access_events_y2031m11",
                "DROP TABLE audit.access_events_y2031m11",
                "CREATE TABLE audit.mine (x integer)",
                "CREATE OR REPLACE FUNCTION audit.manifest_entry_hash(m audit.manifests) "
                "RETURNS text LANGUAGE sql AS 'SELECT ''x'''",
                "DELETE FROM etl.schema_migrations",
                "INSERT INTO etl.schema_migrations (version, checksum) VALUES ('9999', 'x')",
                "UPDATE etl.verifier_runs SET status = 'ok'",
                f"SET ROLE {warehouse.owner}",
                f"ALTER TABLE audit.manifests OWNER TO {warehouse.loader}",
            )
        }
        assert refused == dict.fromkeys(refused, "denied")
        # it appends (it must, to load), but the trigger chains what it writes: a forged hash
        # or number is refused, and an entry without them is numbered and hashed like any
        forged = denied(
            conn,
            "INSERT INTO audit.manifests (source_id, entry_no, kind, batch_id, row_count,"
            " content_sha256, lanes, removed_row_count, removed_sha256, removed, recorded_at,"
            " prev_hash, entry_hash) VALUES ('toy:demo', 1, 'load', gen_random_uuid(), 0, 'x',"
            " '{0,0,0,0}', 0, 'x', '[]', now(), NULL, 'forged')",
        )
        assert forged.startswith("RaiseException") and "does not chain" in forged
        held = conn.execute(
            "SELECT c.oid::regclass::text, p.privilege FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "CROSS JOIN unnest(ARRAY['UPDATE', 'DELETE', 'TRUNCATE', 'INSERT']) p (privilege) "
            "WHERE c.relkind IN ('r', 'p') AND c.relispartition IS FALSE "
            "AND n.nspname = ANY(%s) AND has_table_privilege(%s, c.oid, p.privilege)",
            (["landing", "audit", "dq", "reporting", "etl"], warehouse.loader),
        ).fetchall()
    by_table: dict[str, set[str]] = {}
    for table, privilege in held:
        by_table.setdefault(table, set()).add(privilege)
    assert not any("TRUNCATE" in privileges for privileges in by_table.values())
    for table in history:
        assert by_table[table] == {"INSERT"}, table
    for table in MIGRATIONS:
        assert table not in by_table
    # and what it loads into, it may change
    for table in ("audit.access_events", "audit.access_logs", "dq.quarantine", "landing.records"):
        assert by_table[table] == {"INSERT", "UPDATE", "DELETE"}, table


def test_migrations_are_the_owners_and_a_no_op_for_the_loader(
    warehouse: Warehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # up to date: the DAGs' migrate step passes as the loader, changing nothing
    assert apply_migrations(warehouse.dsn(warehouse.loader)) == []
    migrations = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, migrations)
    (migrations / "9999_pending.sql").write_text("CREATE TABLE audit.pending (x integer);\n")
    monkeypatch.setattr("access_warehouse.warehouse.MIGRATIONS_DIR", migrations)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        apply_migrations(warehouse.dsn(warehouse.loader))
    with psycopg.connect(warehouse.dsn(warehouse.owner)) as conn:
        assert conn.execute("SELECT to_regclass('audit.pending')").fetchone()[0] is None


def test_the_auditor_reads_the_chain_and_the_runs_and_nothing_behind_them(
    warehouse: Warehouse, loaded: dict[str, Any]
) -> None:
    report = loaded["report"]
    with warehouse.connect(warehouse.auditor) as conn:
        heads = conn.execute(
            "SELECT source_id, max(entry_no) FROM auditor.manifests GROUP BY 1 ORDER BY 1"
        ).fetchall()
        run = conn.execute(
            "SELECT status, chain_heads FROM auditor.verifier_runs WHERE verifier_run_id = %s",
            (report.verifier_run_id,),
        ).fetchone()
        refused = {
            statement: denied(conn, statement)
            for statement in (
                "SELECT * FROM audit.manifests",
                "SELECT * FROM etl.verifier_runs",
                "SELECT * FROM audit.access_events",
                "INSERT INTO etl.verifier_runs (verifier_run_id) VALUES (gen_random_uuid())",
                "SELECT audit.manifest_entry_hash(NULL::audit.manifests)",
                "SELECT audit.attach_access_event_partition('2032-01-01')",
            )
        }
    assert heads == [("entra:contoso:signins", 5), ("toy:demo", 2)]
    assert run == ("ok", {s: h for s, h in report.chain_heads.items()})
    assert refused == dict.fromkeys(refused, "denied")
    # it cannot run the verifier, which reads the rows themselves
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        verify_warehouse(warehouse.dsn(warehouse.auditor))


def test_the_owner_can_rewrite_a_chain_consistently_and_only_a_published_head_shows_it(
    warehouse: Warehouse, loaded: dict[str, Any]
) -> None:
    """What README "Tamper evidence" says the chain cannot do: the owner (no superuser needed)
    deletes an event, takes it out of its batch's entry and rehashes that entry and every later
    one; the verifier then passes, and only a head published before (the recorded run's) shows
    that the chain is no longer the one it was."""
    source = SIGNINS.source_id
    published = loaded["report"].chain_heads[source]
    first_batch = loaded["first"].batch_id
    with psycopg.connect(warehouse.dsn(warehouse.owner), autocommit=True) as conn:
        (fingerprint,) = conn.execute(
            "SELECT audit.event_fingerprint(e) FROM audit.access_events e WHERE event_id = 'e3'"
        ).fetchone()
        conn.execute("DELETE FROM audit.access_events WHERE event_id = 'e3'")
        conn.execute("ALTER TABLE audit.manifests DISABLE TRIGGER manifests_append_only")
        (entry_no,) = conn.execute(
            "UPDATE audit.manifests m SET row_count = row_count - 1, lanes = ARRAY("
            "SELECT m.lanes[i] - audit.fingerprint_lane(%s, i - 1) FROM generate_series(1, 4) i)"
            " WHERE batch_id = %s RETURNING entry_no",
            (fingerprint, first_batch),
        ).fetchone()
        for number in range(entry_no, published["entry_no"] + 1):
            conn.execute(
                "UPDATE audit.manifests m SET prev_hash = (SELECT entry_hash FROM audit.manifests p"
                " WHERE p.source_id = m.source_id AND p.entry_no = m.entry_no - 1)"
                " WHERE source_id = %s AND entry_no = %s",
                (source, number),
            )
            conn.execute(
                "UPDATE audit.manifests m SET entry_hash = audit.manifest_entry_hash(m)"
                " WHERE source_id = %s AND entry_no = %s",
                (source, number),
            )
        conn.execute("ALTER TABLE audit.manifests ENABLE TRIGGER manifests_append_only")
    target = warehouse.dsn(warehouse.loader)
    assert verify_warehouse(target).ok  # a consistent rewrite: the chain alone cannot tell
    head = (published["entry_no"], published["entry_hash"])
    report = verify_warehouse(target, expected_heads={source: head})
    assert [(f.kind, f.entry_no) for f in report.findings] == [
        ("published_head_changed", published["entry_no"])
    ]


def _exists(conn: psycopg.Connection, relation: str) -> bool:
    return conn.execute("SELECT to_regclass(%s) IS NOT NULL", (relation,)).fetchone()[0]


def _first_column(conn: psycopg.Connection, relation: str) -> str:
    return conn.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum = 1",
        (relation,),
    ).fetchone()[0]
