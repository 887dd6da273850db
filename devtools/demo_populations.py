"""The demo's population step: who exists, beside who appears in the logs.

:func:`populations_step` snapshots every population of ``include/config/populations.yaml``
(the simulated Entra tenant's directory, the embedded Postgres's roles, this machine's MariaDB
accounts) with the same function the ``access_populations`` DAG calls, and returns lines to
print: accounts per population, guests, disabled, and who never signed in according to the
directory's own ``signInActivity``.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

_MSGRAPH_ENV = "AIRFLOW_CONN_MSGRAPH_DEFAULT"


def _grant_mariadb_reader(conn_id: str) -> str | None:
    """The MariaDB reader of the demo gets what ``mysql_logins`` documents (SELECT on
    mysql.user and mysql.global_priv); None, or why not."""
    from access_warehouse.airflow_adapters.connections import (
        ConnectionNotDefined,
        airflow_connection,
    )
    from devtools import demo_mariadb

    try:
        reader = airflow_connection(conn_id).login
    except ConnectionNotDefined:
        return f"connection {conn_id!r} is not defined (no MariaDB in this demo)"
    server, why_not = demo_mariadb.server()
    if server is None:
        return why_not
    with server.connect() as conn:
        cursor = conn.cursor()
        for table in ("mysql.user", "mysql.global_priv"):
            cursor.execute(f"GRANT SELECT ON {table} TO %s@'%%'", (reader,))
    return None


def _line(row: tuple[Any, ...]) -> str:
    (population_id, kind, accounts, guests, disabled, roles, never, gone, status, _taken) = row[:10]
    activity, error = row[10], row[11]
    if status is None:
        return f"    {population_id:<18} not snapshotted"
    if status == "failed" and not accounts:
        return f"    {population_id:<18} snapshot failed: {error}"
    parts = [f"{accounts} accounts"]
    if kind == "entra_users":
        parts.append(f"{guests} guests")
    else:
        parts.append(f"{accounts - roles} logins, {roles} roles")
    parts.append(f"{disabled} disabled")
    if kind == "entra_users":
        parts.append(
            f"{never} never signed in (signInActivity)"
            if activity
            else "no signInActivity (no P1/P2 licence): only the events say who signs in"
        )
    if gone:
        parts.append(f"{gone} gone since an earlier snapshot")
    if status == "failed":
        parts.append(f"latest snapshot failed: {error}")
    return f"    {population_id:<18} " + ", ".join(parts)


def populations_step(dsn: str, data_dir: Path, *, signins_per_day: int = 2000) -> list[str]:
    """Snapshot the demo's populations into the warehouse at ``dsn``; lines to print.

    Runs after the demo's source steps: ``appdb_audit`` (step 5) and, with MariaDB,
    ``crm_mariadb`` (step 9) are Airflow connections by then. The Graph simulator of step 2 has
    stopped, so this starts one again over the same tenant (same seed: the same users as the
    sign-ins loaded) under ``data_dir`` and points ``msgraph_default`` at it for the snapshot.
    A population that cannot be read is a line saying why (its failed snapshot is recorded).
    """
    from access_warehouse.config import load_sources
    from access_warehouse.populations.config import load_populations
    from access_warehouse.populations.snapshot import snapshot_population
    from access_warehouse.warehouse import connect, execute
    from devtools.demo import start_simulator_process
    from devtools.local_env import msgraph_connection

    sources = load_sources()
    config = load_populations(sources=sources)
    tenant = next(s for s in sources.sources if s.kind == "entra" and getattr(s, "default", False))
    notes: dict[str, str] = {}  # why a population shows no snapshot
    process, sim = start_simulator_process(
        data_dir, signins_per_day=signins_per_day, tenant_id=tenant.tenant_id
    )
    previous = os.environ.get(_MSGRAPH_ENV)
    os.environ[_MSGRAPH_ENV] = msgraph_connection(
        urlparse(sim["base_url"]).netloc, sim["tenant_id"], sim["client_id"], sim["client_secret"]
    )
    try:
        for population in config.enabled():
            if population.kind == "mysql_logins":
                why_not = _grant_mariadb_reader(population.conn_id)
                if why_not:
                    notes[population.population_id] = f"skipped: {why_not}"
                    continue
            try:
                snapshot_population(dsn, population, dag_id="demo")
            except Exception as exc:  # recorded as a failed snapshot; the others still run
                notes[population.population_id] = f"failed: {type(exc).__name__}: {exc}"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        if previous is None:
            os.environ.pop(_MSGRAPH_ENV, None)
        else:
            os.environ[_MSGRAPH_ENV] = previous
    with connect(dsn) as conn:
        summary = {row[0]: row for row in execute(conn, "reports/population_summary.sql")}
    lines = ["populations (include/config/populations.yaml): who exists, not only who is in logs"]
    for population in config.enabled():
        population_id = population.population_id
        row = summary.get(population_id)
        note = notes.get(population_id) or (None if row else "not snapshotted")
        lines.append(f"    {population_id:<18} {note}" if note else _line(row))
    lines += [
        "  e.g.  SELECT * FROM audit.population_accounts WHERE valid_to IS NULL;",
        "        SELECT * FROM audit.population_snapshots ORDER BY taken_at DESC;",
    ]
    return lines
