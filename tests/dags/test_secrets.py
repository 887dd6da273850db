"""Secrets never reach a log, an error, XCom, landing, quarantine or any table: real DAG runs
whose tokens expire mid-window (the 401 path), one with a wrong client secret, and a warehouse
connection with a password; then every place they could land is searched."""

from __future__ import annotations

import json
import secrets
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pgserver
import pytest
from dag_runs import load_dags, run, use_config, use_graph

from devtools.graph_simulator.server import FaultConfig, GraphSimulator, SimClock
from devtools.graph_simulator.tenant import TenantConfig

DAY = datetime(2026, 11, 10, tzinfo=UTC)
CLIENT_SECRET = f"client-secret-{secrets.token_hex(8)}"
DB_PASSWORD = f"db-password-{secrets.token_hex(8)}"
WRONG_SECRET = f"wrong-secret-{secrets.token_hex(8)}"

SOURCES = """
sources:
  - kind: entra
    name: contoso
    tenant_id: contoso
    conn_id: msgraph_default
    signins:
      page_size: 20
      max_attempts: 6
      max_requests_per_10s: null  # many small pages: pacing would only slow the test
    directory_audits:
      enabled: false
"""


@pytest.fixture
def graph(tmp_path: Path) -> Iterator[GraphSimulator]:
    tenant = TenantConfig(tenant_id="contoso", signins_per_day=400, client_secret=CLIENT_SECRET)
    # tokens live 60 simulated seconds and the simulated clock runs 600x fast, while the client
    # trusts the token's real-time expiry: requests meet 401s and the extract renews its token
    faults = FaultConfig(throttle=False, token_lifetime_s=60)
    clock = SimClock(DAY + timedelta(days=1, hours=2), frozen=True)
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(0.05):
            clock.advance(30)

    ticker = threading.Thread(target=tick, daemon=True)
    with GraphSimulator(tenant, faults, cert_dir=tmp_path / "cert", clock=clock) as simulator:
        ticker.start()
        yield simulator
        stop.set()


@pytest.mark.robustness("Secrets and tokens in logs, XCom and tables")
def test_no_secret_or_token_is_written_anywhere(
    graph: GraphSimulator,
    warehouse_dsn: str,
    pg_server: str,
    airflow_db: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("DEBUG")
    use_config(tmp_path, monkeypatch, SOURCES)
    database = warehouse_dsn.split("dbname=")[1].split()[0]
    monkeypatch.setenv(
        "AIRFLOW_CONN_WAREHOUSE",
        json.dumps(
            {
                "conn_type": "postgres",
                "host": pg_server,
                "schema": database,
                "login": "postgres",
                "password": DB_PASSWORD,  # trust auth ignores it; our code must not echo it
            }
        ),
    )
    use_graph(monkeypatch, graph, "contoso")
    dag = load_dags()["entra_signins"]
    assert run(dag, DAY) == "success"
    assert graph.stats["unauthorized"] > 0, "the 401 path was taken"
    use_graph(monkeypatch, graph, "contoso", secret=WRONG_SECRET)
    assert run(load_dags()["entra_signins"], DAY) == "failed"

    output = capfd.readouterr()
    tokens = list(graph._tokens)
    assert len(tokens) >= 2
    psql_dump = Path(pgserver.__file__).parent / "pginstall" / "bin" / "pg_dump"
    warehouse = subprocess.run(
        [str(psql_dump), "-h", pg_server, "-U", "postgres", database],
        check=True,
        capture_output=True,
    ).stdout
    airflow_files = [p for p in airflow_db.rglob("*") if p.is_file()]
    places = {
        "task output": (output.out + output.err + caplog.text).encode(),
        "warehouse (every table, landing and quarantine included)": warehouse,
        **{f"airflow {p.relative_to(airflow_db)}": p.read_bytes() for p in airflow_files},
    }
    assert b"AADSTS7000215" in places["task output"], "the wrong secret's error was logged"
    assert b"page 3" in places["task output"], "the task logs are what is searched"
    assert any(name.endswith(".db") for name in places), "Airflow's metadata (XCom) is searched"
    for name, data in places.items():
        for secret in (CLIENT_SECRET, WRONG_SECRET, DB_PASSWORD, *tokens):
            assert secret.encode() not in data, f"a secret or token in {name}"
