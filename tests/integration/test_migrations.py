"""Migrations are immutable and checksummed; view files are repeatable."""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg
import pytest

from access_warehouse import warehouse
from access_warehouse.warehouse import apply_migrations


def columns(dsn: str, view: str) -> list[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = 'auditor' AND table_name = %s ORDER BY ordinal_position",
            (view,),
        ).fetchall()
    return [row[0] for row in rows]


def test_views_are_reapplied_when_a_file_changes_and_only_then(
    warehouse_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert apply_migrations(warehouse_dsn) == []  # the template is up to date
    views = tmp_path / "views"
    shutil.copytree(warehouse.REPEATABLE_DIR, views)
    monkeypatch.setattr(warehouse, "REPEATABLE_DIR", views)
    batches = views / "030_auditor_batches.sql"
    batches.write_text(
        batches.read_text().replace("SELECT source_id,", "SELECT source_id, dag_id AS the_dag,")
    )

    applied = apply_migrations(warehouse_dsn)

    assert applied == [f"views/{path.name}" for path in sorted(views.glob("*.sql"))]
    assert "the_dag" in columns(warehouse_dsn, "batches")  # a view whose columns changed
    assert "who" in columns(warehouse_dsn, "sign_ins")  # the others rebuilt too
    with psycopg.connect(warehouse_dsn) as conn:
        granted = conn.execute(
            "SELECT has_table_privilege('auditor_readonly', 'auditor.batches', 'SELECT')"
        ).fetchone()[0]
    assert granted
    assert apply_migrations(warehouse_dsn) == []


def test_an_applied_migration_may_not_change(
    warehouse_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    migrations = tmp_path / "migrations"
    shutil.copytree(warehouse.MIGRATIONS_DIR, migrations)
    monkeypatch.setattr(warehouse, "MIGRATIONS_DIR", migrations)
    first = sorted(migrations.glob("*.sql"))[0]
    first.write_text(first.read_text() + "\n-- edited\n")
    with pytest.raises(RuntimeError, match=f"migration {first.name} changed after it was applied"):
        apply_migrations(warehouse_dsn)
