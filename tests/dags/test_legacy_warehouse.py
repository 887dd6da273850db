"""The warehouse the code before the source registry left behind (commit 858e425), rerun by the
current code over the same windows: no row changes, and the batch chain goes on.

``tests/fixtures/legacy_warehouse/`` holds the dump and the script that made it.
"""

from __future__ import annotations

import gzip
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pgserver
import psycopg
import pytest
from dag_runs import load_dags, run, use_config, use_graph, use_warehouse
from fixtures.legacy_warehouse.make_dump import DAY, DAYS, simulated_tenants
from warehouse_asserts import audit_snapshot, new_database

from access_warehouse.warehouse import apply_migrations
from devtools.graph_simulator.server import FaultConfig, GraphSimulator, SimClock

DUMP = Path(__file__).parents[1] / "fixtures" / "legacy_warehouse" / "warehouse.sql.gz"

SOURCES = """
sources:
  - kind: entra
    name: contoso
    tenant_id: contoso
    conn_id: msgraph_default
    default: true
  - kind: entra
    name: fabrikam
    tenant_id: fabrikam
    conn_id: msgraph_fabrikam
    directory_audits:
      exclude_categories: [Policy]
"""


@pytest.fixture
def legacy_dsn(pg_server: str, migrated_template: str) -> Iterator[str]:
    """A database restored from the legacy dump (the auditor role exists in the cluster)."""
    psql = Path(pgserver.__file__).parent / "pginstall" / "bin" / "psql"
    with new_database(pg_server) as dsn:
        subprocess.run(
            [str(psql), "-q", "-v", "ON_ERROR_STOP=1", dsn],
            input=gzip.decompress(DUMP.read_bytes()),
            check=True,
            capture_output=True,
        )
        yield dsn


@pytest.fixture
def graph(tmp_path: Path) -> Iterator[GraphSimulator]:
    clock = SimClock(DAY + timedelta(days=DAYS, minutes=50), frozen=True)
    with GraphSimulator(
        simulated_tenants(), FaultConfig(), cert_dir=tmp_path / "cert", clock=clock
    ) as sim:
        yield sim


def batch_rows(dsn: str) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT source_id, window_start, window_end, extracted, loaded, quarantined,"
            " excluded, inserted, updated, unchanged, prev_hash, batch_hash"
            " FROM audit.batches ORDER BY sequence_no"
        ).fetchall()


def test_the_new_code_reruns_the_legacy_warehouse_without_changing_a_row(
    legacy_dsn: str,
    graph: GraphSimulator,
    pg_server: str,
    airflow_db: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before_batches = batch_rows(legacy_dsn)
    assert len(before_batches) == 2 * 2 * DAYS
    applied = apply_migrations(legacy_dsn)
    assert "0004_sources_bookmarks_raw_landing" in applied
    before = audit_snapshot(legacy_dsn)
    assert len(before["access_events"]) > 500

    use_config(tmp_path, monkeypatch, SOURCES)
    use_warehouse(monkeypatch, pg_server, legacy_dsn)
    use_graph(monkeypatch, graph, "contoso")
    use_graph(monkeypatch, graph, "fabrikam", conn_id="msgraph_fabrikam")
    dags = load_dags()
    for day in range(DAYS):
        for dag_id in (
            "entra_signins",
            "entra_directory_audits",
            "entra_signins_fabrikam",
            "entra_directory_audits_fabrikam",
        ):
            assert run(dags[dag_id], DAY + timedelta(days=day)) == "success", dag_id

    assert audit_snapshot(legacy_dsn) == before
    after_batches = batch_rows(legacy_dsn)
    assert after_batches[: len(before_batches)] == before_batches
    new = after_batches[len(before_batches) :]
    old_counts = {(r[0], r[1], r[2]): r[3:7] for r in before_batches}
    assert {(r[0], r[1], r[2]): r[3:7] for r in new} == old_counts
    assert all((row[7], row[8]) == (0, 0) and row[9] > 0 for row in new)
    assert new[0][10] == before_batches[-1][11], "the batch chain goes on from the legacy rows"
