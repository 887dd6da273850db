"""The demo (README command 1, ``make demo``): the whole product on the embedded defaults.

``python -m devtools.demo``: embedded Postgres, the Graph simulator in its own process, the
registered source kinds and configured feeds, and real Airflow DAG runs (``dag.test()``) of
``entra_signins`` (or ``--feed directory_audits``) for the last N daily intervals, then a
per-interval table.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlparse

from access_warehouse.paths import PROJECT_ROOT
from devtools.embedded import DEFAULT_DATA_DIR, start_embedded_warehouse

#: What the demo's own processes import: the package and these devtools.
PYTHONPATH = (PROJECT_ROOT / "plugins", PROJECT_ROOT)

AUDITOR_VIEWS = {"signins": "sign_ins", "directory_audits": "directory_changes"}

SUMMARY_COLUMNS = (
    ("interval (UTC)", 16),
    ("extracted", 9),
    ("loaded", 7),
    ("quarant.", 8),
    ("inserted", 8),
    ("updated", 7),
    ("unchanged", 9),
    ("users", 6),
    ("apps", 5),
    ("MFA known %", 11),
    ("MFA true %", 10),
    ("429s", 5),
    ("retried", 7),
    ("paced s", 7),
)

#: The faults the demo's simulator serves (besides Graph's 5 requests per 10 s, which the
#: extract paces itself to): a 429 on the demo's first request, with a decimal Retry-After as
#: Microsoft documents it, and one page cut short that the extract must retry, not skip.
DEMO_FAULTS = [
    "--retry-after-decimal",
    "--throttle-first",
    "1",
    "--page-fault",
    "truncated",
    "--page-fault-on-page",
    "5",
]


def start_simulator_process(
    data_dir: Path, *, signins_per_day: int, tenant_id: str, extra_args: list[str] | None = None
) -> tuple[subprocess.Popen, dict[str, Any]]:
    """Run the Graph simulator in its own process; return it and its state (URL, credentials)."""
    state_file = data_dir / "simulator.json"
    state_file.unlink(missing_ok=True)
    log_file = (data_dir / "simulator.log").open("ab")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "devtools.graph_simulator",
            "--port",
            "0",
            "--tenant-id",
            tenant_id,
            "--signins-per-day",
            str(signins_per_day),
            "--cert-dir",
            str(data_dir / "simulator-cert"),
            "--state-file",
            str(state_file),
            *(extra_args or []),
        ],
        stdout=log_file,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(str(p) for p in PYTHONPATH)},
    )
    deadline = time.monotonic() + 60
    while not state_file.exists() or not state_file.read_text().strip():
        if process.poll() is not None:
            raise RuntimeError(f"the Graph simulator exited early; see {data_dir}/simulator.log")
        if time.monotonic() > deadline:
            process.terminate()
            raise RuntimeError("the Graph simulator did not start within 60 s")
        time.sleep(0.1)
    return process, json.loads(state_file.read_text())


def prepare_airflow(data_dir: Path, dsn_pgdata: Path, sim: dict[str, Any]) -> None:
    """Point this process's Airflow at the project, the warehouse and the simulator."""
    from devtools.local_env import airflow_env, msgraph_connection, warehouse_connection

    os.environ.update(
        airflow_env(
            data_dir,
            {
                "warehouse": warehouse_connection(dsn_pgdata),
                "msgraph_default": msgraph_connection(
                    urlparse(sim["base_url"]).netloc,
                    sim["tenant_id"],
                    sim["client_id"],
                    sim["client_secret"],
                ),
            },
        )
    )
    airflow = Path(sys.executable).with_name("airflow")
    subprocess.run(
        [str(airflow), "db", "migrate"],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=os.environ,
    )


@contextmanager
def output_to_file(path: Path) -> Iterator[TextIO]:
    """Send everything written to fds 1 and 2 (Airflow's task logs) to ``path``; yield a stream
    to the real terminal for our own progress lines."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved_out, saved_err = os.dup(1), os.dup(2)
    terminal = os.fdopen(os.dup(saved_out), "w", buffering=1)
    with path.open("a") as log_file:
        os.dup2(log_file.fileno(), 1)
        os.dup2(log_file.fileno(), 2)
        try:
            yield terminal
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved_out, 1)
            os.dup2(saved_err, 2)
            os.close(saved_out)
            os.close(saved_err)
            terminal.close()


def run_dag_intervals(
    dag_id: str, interval_starts: list[datetime], progress: TextIO = sys.stdout
) -> list[str]:
    """Run ``dag_id`` once per daily interval through ``dag.test()``; return the run states.

    ``dag.test()`` infers a manual run's data interval as the one ending at its logical date.
    """
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    if bag.import_errors:
        raise RuntimeError(f"DAG import errors: {bag.import_errors}")
    dag = bag.dags[dag_id]
    states = []
    for interval_start in interval_starts:
        started = time.monotonic()
        run = dag.test(logical_date=interval_start + timedelta(days=1))
        state = str(getattr(run.state, "value", run.state))
        print(
            f"    {dag_id} {interval_start:%Y-%m-%d}: {state} in "
            f"{time.monotonic() - started:.1f} s",
            file=progress,
            flush=True,
        )
        states.append(state)
    return states


def interval_summary(dsn: str, source_id: str, since: datetime) -> list[tuple]:
    from access_warehouse.warehouse import connect, execute

    with connect(dsn) as conn:
        return execute(
            conn, "reports/interval_summary.sql", {"source_id": source_id, "since": since}
        ).fetchall()


def format_summary(rows: list[tuple]) -> str:
    header = "  ".join(name.rjust(width) for name, width in SUMMARY_COLUMNS)
    lines = [header, "-" * len(header)]
    for row in rows:
        start, _end, *counts, mfa_known, mfa_true, _duration, throttled, retried, paced = row
        cells = [f"{start:%Y-%m-%d %H:%M}", *counts, mfa_known, mfa_true, throttled, retried, paced]
        lines.append(
            "  ".join(
                str("-" if cell is None else cell).rjust(width)
                for cell, (_, width) in zip(cells, SUMMARY_COLUMNS, strict=True)
            )
        )
    return "\n".join(lines)


def psql_hint(pgdata: Path, database: str = "warehouse") -> str:
    import pgserver

    psql = Path(pgserver.__file__).parent / "pginstall" / "bin" / "psql"
    return f"{psql} -h {pgdata} -U postgres {database}"


def demo(args: argparse.Namespace) -> int:
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    from access_warehouse.config import load_sources
    from access_warehouse.warehouse import apply_migrations

    data_dir: Path = args.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    # GX Data Docs of every load (access_warehouse.quality.data_docs), under this data folder
    # the demo always shows its Data Docs: in its data folder
    os.environ["ACCESS_WAREHOUSE_DATA_DOCS"] = str(data_dir / "data-docs")
    # evidence packs of access reviews (access_warehouse.reporting.evidence), there too
    os.environ["ACCESS_WAREHOUSE_EVIDENCE"] = str(data_dir / "evidence")
    config = load_sources()
    tenant = next(s for s in config.sources if s.kind == "entra" and getattr(s, "default", False))
    print_sources(config)
    print(f"1/15 embedded warehouse under {data_dir}/pg", flush=True)
    dsn = start_embedded_warehouse(data_dir)
    applied = apply_migrations(dsn)
    print(f"    migrations applied: {', '.join(applied) or 'none (up to date)'}")
    print(
        f"2/15 Graph simulator ({args.signins_per_day} sign-ins/day; faults on: 429 throttling "
        "with decimal Retry-After, one page cut short)",
        flush=True,
    )
    sim_process, sim = start_simulator_process(
        data_dir,
        signins_per_day=args.signins_per_day,
        tenant_id=tenant.tenant_id,
        extra_args=DEMO_FAULTS,
    )
    try:
        print(f"    {sim['base_url']}", flush=True)
        print("3/15 Airflow: metadata DB, then one dag.test() run per interval", flush=True)
        prepare_airflow(data_dir, data_dir / "pg", sim)
        today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        interval_starts = [today - timedelta(days=n) for n in range(args.days, 0, -1)]
        airflow_log = data_dir / "demo-airflow.log"
        print(f"    task logs: {airflow_log}", flush=True)
        with output_to_file(airflow_log) as terminal:
            states = run_dag_intervals(tenant.dag_id(args.feed), interval_starts, terminal)
    finally:
        sim_process.send_signal(signal.SIGTERM)
        sim_process.wait(timeout=30)
    print("4/15 per interval (latest load of each):\n", flush=True)
    print(format_summary(interval_summary(dsn, tenant.source_id(args.feed), interval_starts[0])))
    print(
        "\nextracted = loaded + quarantined (+ excluded) in every row; quarantined records wait in"
        "\ndq.quarantine with their reasons. '429s' and 'retried' are what the source made the"
        "\nextract wait out or ask again (the page cut short is retried, never skipped);"
        "\n'paced s' is how long it held back to stay under Graph's 5 requests per 10 s."
        "\nRun again: nothing is inserted or updated (the 'unchanged' column holds every event)."
        f"\nOpen the warehouse:  {psql_hint(data_dir / 'pg')}"
        f"\n  e.g.  SELECT * FROM auditor.{AUDITOR_VIEWS[args.feed]}"
        " ORDER BY occurred_at DESC LIMIT 20;"
        "\n        SELECT * FROM auditor.batches;"
    )
    from access_warehouse.quality.data_docs import index_path

    print(f"    data docs (GX, the latest validations per source): {index_path()}")
    states += database_step(dsn, data_dir, config, tenant.source_id(args.feed), airflow_log)
    states += files_step(dsn, data_dir, config, tenant, airflow_log)
    states += other_databases_step(dsn, data_dir, config, tenant.source_id(args.feed), airflow_log)
    quality_step(dsn)
    from devtools.demo_populations import populations_step
    from devtools.demo_reporting import reporting_step

    print("12/15 populations: the directory's users and the databases' logins", flush=True)
    with output_to_file(airflow_log) as terminal:
        lines = populations_step(dsn, data_dir, signins_per_day=args.signins_per_day)
        terminal.flush()
    print("\n".join(lines), flush=True)

    # from the first interval to today, which is not over: the reports say it is not evaluable
    first_day, last_day = interval_starts[0].date(), today.date()
    states += reporting_step(dsn, first_day, last_day, airflow_log)
    from devtools.demo_retention import retention_step
    from devtools.demo_verify import verify_step

    print("14/15 retention: the policies in force, the status they leave, a dry run", flush=True)
    with output_to_file(airflow_log):  # the functions' log lines go with the task logs
        lines = retention_step(dsn)
    print("\n".join(lines), flush=True)
    print("15/15 tamper evidence: a verifier run over every source's chain", flush=True)
    with output_to_file(airflow_log):
        lines = verify_step(dsn)
    print("\n".join(lines), flush=True)
    if not any("OK (exit 0)" in line for line in lines):
        states.append("verification failed")
    failed = [state for state in states if state != "success"]
    return 1 if failed else 0


def _table(rows: list[tuple], headers: list[str], widths: list[int]) -> str:
    header = "  ".join(name.ljust(width) for name, width in zip(headers, widths, strict=True))
    lines = [header, "-" * len(header)]
    for row in rows:
        cells = [str("-" if cell is None else cell) for cell in row]
        lines.append(
            "  ".join(
                (cell if len(cell) <= width else cell[: width - 1] + "~").ljust(width)
                for cell, width in zip(cells, widths, strict=True)
            )
        )
    return "\n".join(lines)


def database_step(
    dsn: str, data_dir: Path, config: Any, entra_source_id: str, airflow_log: Path
) -> list[str]:
    """The database source: a scripted workload on an audited database of the embedded
    Postgres by two people who also signed in to Entra, then ``db_audit_<name>`` runs, and the
    rows beside the Entra ones, one person across both."""
    from access_warehouse.warehouse import connect, execute
    from devtools import demo_database

    source = next(s for s in config.sources if s.kind == "postgres_audit_trigger")
    with connect(dsn) as conn:
        people = [
            row[0]
            for row in execute(
                conn, "reports/most_active_people.sql", {"source_id": entra_source_id}
            ).fetchall()
        ]
    logins = [person.split("@")[0] for person in people]
    pgdata = data_dir / "pg"
    print(
        f"5/15 database source {source.dag_id}: audited database {demo_database.DATABASE!r} on the "
        f"embedded Postgres; workload by {', '.join(logins)} (also Entra users), "
        f"{demo_database.SERVICE_LOGIN} and the setup login",
        flush=True,
    )
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    yesterday = today - timedelta(days=1)
    csvlog = next(s for s in config.sources if s.kind == "postgres_csvlog")
    was_on = demo_database.enable_csvlog(pgdata)
    print(
        "    the embedded server's csvlog "
        + ("is on" if was_on else "turned on (ALTER SYSTEM, one restart)")
        + " for "
        + csvlog.dag_id,
        flush=True,
    )
    if demo_database.prepare(pgdata, logins):
        demo_database.run_workload(pgdata, logins)
        demo_database.write_portal_logins(pgdata, logins, yesterday.date())
        ran = "the workload wrote"
    else:
        ran = "from an earlier demo (so the DAG finds nothing new):"
    demo_database.failed_logins(pgdata)
    logged = demo_database.load_csvlog_table(pgdata)
    print(
        f"    {ran} {demo_database.trail_rows(pgdata)} rows in the trail audit.logged_actions;"
        " two runs of the DAG:",
        flush=True,
    )
    os.environ[f"AIRFLOW_CONN_{source.conn_id.upper()}"] = json.dumps(
        {
            "conn_type": "postgres",
            "host": str(pgdata),
            "schema": demo_database.DATABASE,
            "login": demo_database.READER,  # the documented privileges, nothing more
        }
    )
    portal = next(s for s in config.sources if s.kind == "generic_sql")
    with output_to_file(airflow_log) as terminal:
        states = run_dag_intervals(source.dag_id, [yesterday] * 2, terminal)
        states += run_dag_intervals(portal.dag_id, [yesterday], terminal)
        states += run_dag_intervals(csvlog.dag_id, [today], terminal)
    with connect(dsn) as conn:
        batches = execute(
            conn, "reports/source_batches.sql", {"source_id": source.source_id}
        ).fetchall()
        # the workload's people (other runs' people may have database events too)
        across = [
            row
            for row in execute(conn, "reports/people_across_sources.sql").fetchall()
            if row[0] in people
        ]
        sample = execute(
            conn, "reports/database_access_sample.sql", {"source_id": source.source_id, "limit": 8}
        ).fetchall()
        stubs = execute(conn, "reports/stub_users.sql").fetchall()
        csvlog_batches = execute(
            conn, "reports/source_batches.sql", {"source_id": csvlog.source_id}
        ).fetchall()
        csvlog_events = execute(
            conn, "reports/source_events.sql", {"source_id": csvlog.source_id}
        ).fetchall()
        portal_events = execute(
            conn, "reports/source_events.sql", {"source_id": portal.source_id}
        ).fetchall()
        redacted = execute(
            conn, "reports/redacted_statements.sql", {"source_id": source.source_id}
        ).fetchall()
        secret_hits = execute(
            conn, "reports/text_search.sql", {"text": demo_database.WORKLOAD_SECRET}
        ).fetchall()
    print("6/15 database source: batches (the second run found nothing new after the bookmark)\n")
    print(
        _table(
            batches,
            [
                "bookmark to",
                "extracted",
                "loaded",
                "quarant.",
                "excluded",
                "by rule",
                "redacted",
                "new users",
                "stubs",
            ],
            [28, 9, 6, 8, 8, 18, 8, 9, 5],
        )
    )
    print("\none person across Entra and the database (same external_user_id):\n")
    print(
        _table(
            [(*row[:-1], str(row[-1])[:8]) for row in across],
            ["person", "stub", "entra sign-ins", "db events", "db login", "db objects", "id"],
            [38, 5, 14, 9, 14, 40, 8],
        )
    )
    print("\nauditor.database_access (server > database > schema > table):\n")
    print(
        _table(
            [(f"{r[0]:%H:%M:%S}", *r[1:]) for r in sample],
            [
                "time",
                "server",
                "database",
                "object",
                "action",
                "login",
                "person",
                "stub",
                "statement",
            ],
            [8, 7, 8, 20, 6, 14, 36, 5, 60],
        )
    )
    print(
        f"\n{portal.dag_id} (generic_sql: billing.portal_logins mapped in config, local times"
        f" in {portal.timezone}):\n"
    )
    print(
        _table(
            [(f"{r[0]:%Y-%m-%d %H:%M:%S}", *r[1:]) for r in portal_events],
            [
                "occurred_at (UTC)",
                "login",
                "person",
                "outcome",
                "source_ip",
                "stub",
                "action",
                "error",
            ],
            [19, 14, 38, 8, 14, 5, 12, 5],
        )
    )
    print(
        f"\n{csvlog.dag_id} (postgres_csvlog: the server's own csvlog, {logged} new lines COPYed"
        " into postgres_log; no pgaudit in the embedded build, so connections and failed logins,"
        " no objects):\n"
    )
    print(
        _table(
            [row[1:6] for row in csvlog_batches[-1:]],
            ["extracted", "loaded", "quarant.", "excluded", "by rule"],
            [9, 6, 8, 8, 80],
        )
    )
    print()
    shown = [row for row in csvlog_events if row[1] in (*logins, demo_database.REJECTED_LOGIN)]
    print(
        _table(
            [(f"{r[0]:%H:%M:%S}", *r[1:]) for r in shown[-8:]],
            ["time", "login", "person", "outcome", "source_ip", "stub", "action", "error"],
            [8, 14, 38, 8, 10, 5, 12, 5],
        )
    )
    print("\nauditor.stub_users of the database sources (logins no rule or mapping matched):\n")
    print(
        _table(stubs, ["login", "identifiers", "sources", "successful accesses"], [14, 24, 62, 19])
    )
    where = ", ".join(row[0] for row in secret_hits) or "no table"
    print(
        "\nThe workload stored a connection string with the password "
        f"{demo_database.WORKLOAD_SECRET!r}: found in {where} of the warehouse"
        " (landing included); stored as:" + "".join(f"\n    {row[0]}" for row in redacted) + "\n"
        "\n  e.g.  SELECT * FROM auditor.database_access WHERE object_name = 'billing.invoices';"
        "\n        SELECT * FROM auditor.identity_lineage;"
    )
    return states


def files_step(dsn: str, data_dir: Path, config: Any, tenant: Any, airflow_log: Path) -> list[str]:
    """The HTTP and file sources: the Cloudflare Access simulator, and one file of each file
    kind written by the demo (the same people), each loaded by its DAG; then their rows."""
    import uuid

    from access_warehouse.warehouse import connect, execute
    from devtools import demo_files
    from devtools.cloudflare_simulator.process import SimulatorProcess, http_connection_json

    by_kind = {source.kind: source for source in config.sources}
    with connect(dsn) as conn:
        people = [
            row[0]
            for row in execute(
                conn, "reports/most_active_people.sql", {"source_id": tenant.source_id("signins")}
            ).fetchall()
        ]
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    yesterday = today - timedelta(days=1)
    tenant_guid = str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{tenant.tenant_id}.onmicrosoft.com"))
    written = [
        demo_files.write_ecs(data_dir, people, yesterday),
        demo_files.write_logpush(data_dir, people, yesterday),
        demo_files.write_mission_control(data_dir, people, yesterday),
    ]
    export, exported = demo_files.write_azure_monitor(
        data_dir, dsn, tenant.source_id("signins"), tenant_guid, yesterday
    )
    written.append(export)
    os.environ["ACCESS_WAREHOUSE_DATA"] = str(data_dir)  # the config's file paths name it
    print(
        "7/15 HTTP and file sources: the Cloudflare Access simulator, and files the demo wrote "
        f"under {data_dir / demo_files.FOLDER}:",
        flush=True,
    )
    for path in written:
        print(f"    {path.relative_to(data_dir)}", flush=True)
    cloudflare = by_kind["cloudflare_access"]
    dags = [
        cloudflare.feeds()[0],
        *(by_kind[kind].feeds()[0] for kind in ("ecs_jsonl", "cloudflare_logpush_http")),
        by_kind["azure_monitor_export"].feeds()[0],
        by_kind["mission_control_json"].feeds()[0],
    ]
    with SimulatorProcess(
        data_dir / "cloudflare", "--tenant-id", tenant.tenant_id, "--logins-per-day", "200"
    ) as simulator:
        os.environ[f"AIRFLOW_CONN_{cloudflare.conn_id.upper()}"] = http_connection_json(
            simulator.state
        )
        with output_to_file(airflow_log) as terminal:
            states = []
            for feed in dags:
                states += run_dag_intervals(feed.dag_id, [yesterday], terminal)
    print("8/15 what each loaded (latest run), and a few of its rows:\n", flush=True)
    with connect(dsn) as conn:
        for feed in dags:
            batch = execute(conn, "reports/latest_batch.sql", {"dag_id": feed.dag_id}).fetchone()
            sample = execute(
                conn, "reports/source_event_sample.sql", {"source_id": feed.source_id, "limit": 3}
            ).fetchall()
            extracted, loaded, quarantined, excluded, rules, inserted, _updated, unchanged = batch
            print(
                f"  {feed.dag_id} ({feed.source_id}): extracted {extracted} = loaded {loaded}"
                f" + quarantined {quarantined} + excluded {excluded}"
                + (f" {dict(rules)}" if rules else "")
                + f"; inserted {inserted}, unchanged {unchanged}"
            )
            for row in sample:
                at, who, category, action, outcome, target, mfa = row
                print(
                    f"      {at:%Y-%m-%d %H:%M:%S}  {who[:38]:<38}  {category:<14} "
                    f"{(action or '')[:18]:<18} {outcome:<8} {str(target)[:40]:<40} mfa={mfa}"
                )
    print(
        f"\nThe export repeats {exported} sign-ins the Graph feed loaded: they are the same"
        " events (entra:contoso:signins), so the export inserts none of them."
        "\nQuarantined lines wait in dq.quarantine with their file and line number; each file"
        " is in landing.processed_files and a rerun reads none of them again."
    )
    return states


def _print_batch_and_sample(dsn: str, feed: Any, note: str = "", limit: int = 6) -> None:
    from access_warehouse.warehouse import connect, execute

    with connect(dsn) as conn:
        batch = execute(conn, "reports/latest_batch.sql", {"dag_id": feed.dag_id}).fetchone()
        sample = execute(
            conn, "reports/source_event_sample.sql", {"source_id": feed.source_id, "limit": 200}
        ).fetchall()
    title = f"{feed.dag_id} ({feed.source_id})"
    if batch is None:
        print(f"  {title}: no load")
        return
    extracted, loaded, quarantined, excluded, rules, inserted, _updated, unchanged = batch
    print(
        f"  {title}: extracted {extracted} = loaded {loaded} + quarantined {quarantined}"
        f" + excluded {excluded}"
        + (f" {dict(rules)}" if rules else "")
        + f"; inserted {inserted}, unchanged {unchanged}"
    )
    if note:
        print(f"      ({note})")
    people = [row for row in sample if "@" in row[1]] or sample
    for at, who, category, action, outcome, target, _mfa in people[:limit]:
        print(
            f"      {at:%H:%M:%S}  {who[:36]:<36}  {category:<14} {(action or '')[:14]:<14}"
            f" {outcome:<8} {str(target)[:44]}"
        )


def _load_clickhouse_and_sql_server(dsn: str, data_dir: Path, by_kind: dict[str, Any]) -> None:
    """ClickHouse: the kind's own SQL against a real query log, in the embedded engine chdb.
    SQL Server: documented ``fn_get_audit_file`` rows (tests/fixtures/mssql_audit), through
    the shared extract and load."""
    from dataclasses import replace

    from access_warehouse.extract import extract
    from access_warehouse.landing import ExtractWindow
    from access_warehouse.load import load_batch
    from access_warehouse.sources.base import Page
    from devtools import chdb_query_log

    clickhouse = by_kind["clickhouse_query_log"].model_copy(update={"enabled": True})
    mssql = by_kind["mssql_audit"].model_copy(update={"enabled": True})
    session = chdb_query_log.open_session(data_dir / "chdb")
    started = datetime.now(UTC) - timedelta(seconds=1)
    for statement in (
        "CREATE DATABASE IF NOT EXISTS shop",
        "CREATE TABLE IF NOT EXISTS shop.orders (id UInt32, note String) ENGINE = MergeTree"
        " ORDER BY id",
        "INSERT INTO shop.orders VALUES (1, 'net 30, \"gold\"')",
        "SELECT id, note FROM shop.orders WHERE note LIKE '%, %'",
    ):
        session.query(statement)
    try:
        session.query("SELECT * FROM shop.missing")
    except chdb_query_log.chdb_errors():
        pass  # logged as ExceptionBeforeStart: a failure event
    session.query("SYSTEM FLUSH LOGS")
    ch_feed = clickhouse.feeds()[0]
    ch_feed = replace(ch_feed, fetch=chdb_query_log.fetcher(session, clickhouse))
    window = ExtractWindow(started, datetime.now(UTC) + timedelta(seconds=1))
    summary = extract(dsn, ch_feed, window=window, dag_id=ch_feed.dag_id)
    load_batch(dsn, summary.batch_id, ch_feed, dag_id=ch_feed.dag_id)
    session.close()

    # SQL Server: documented fn_get_audit_file rows (tests/fixtures/mssql_audit), shared load
    rows = [
        json.loads(path.read_text())
        for path in sorted((PROJECT_ROOT / "tests/fixtures/mssql_audit").glob("*.json"))
        if not path.name.endswith(".expected.json") and not path.name.startswith("invalid")
    ]
    ms_feed = replace(mssql.feeds()[0], fetch=lambda request: iter([Page(records=rows)]))
    times = sorted(datetime.fromisoformat(row["event_time"]) for row in rows)
    window = ExtractWindow(times[0], times[-1] + timedelta(seconds=1))
    summary = extract(dsn, ms_feed, window=window, dag_id=ms_feed.dag_id)
    load_batch(dsn, summary.batch_id, ms_feed, dag_id=ms_feed.dag_id)


def other_databases_step(
    dsn: str, data_dir: Path, config: Any, entra_source_id: str, airflow_log: Path
) -> list[str]:
    """MySQL-family, ClickHouse and SQL Server audit trails: this machine's MariaDB (general log
    to a table, server_audit to files) under a workload by the same people, each DAG run;
    ClickHouse's query log in the embedded engine chdb through the kind's own SQL; SQL Server's
    documented ``fn_get_audit_file`` rows through the shared load (no SQL Server here)."""
    from access_warehouse.warehouse import connect, execute
    from devtools import demo_mariadb

    by_kind = {source.kind: source for source in config.sources}
    with connect(dsn) as conn:
        people = [
            row[0]
            for row in execute(
                conn, "reports/most_active_people.sql", {"source_id": entra_source_id}
            ).fetchall()
        ]
    logins = [person.split("@")[0] for person in people]
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    states: list[str] = []
    mariadb, why_not = demo_mariadb.server()
    print("9/15 MySQL/MariaDB, ClickHouse and SQL Server audit trails:", flush=True)
    general, audit = by_kind["mysql_general_log"], by_kind["mariadb_server_audit"]
    if mariadb is None:
        print(f"    MariaDB sources skipped: {why_not}", flush=True)
    else:
        folder = demo_mariadb.audit_folder(data_dir)
        os.environ["ACCESS_WAREHOUSE_MARIADB_AUDIT"] = str(folder)  # the config names it
        done = data_dir / "mariadb-workload-done"  # once per data folder: a rerun finds nothing new
        fresh = not done.exists()
        with demo_mariadb.logging_on(mariadb, folder):
            demo_mariadb.prepare(mariadb, logins)
            if fresh:
                demo_mariadb.run_workload(mariadb, logins)
                done.touch()
        print(
            f"    MariaDB at {mariadb.host}:{mariadb.port}: general log to mysql.general_log and"
            f" server_audit to {folder}, on for the workload only; "
            + (
                f"{', '.join(logins)} connected and queried {demo_mariadb.DATABASE}, one wrong"
                f" password, {demo_mariadb.REJECTED_LOGIN} failed twice, root created a login"
                " with a password"
                if fresh
                else "the workload ran in an earlier demo (the DAGs find nothing new)"
            ),
            flush=True,
        )
        for source in (general, audit):
            os.environ[f"AIRFLOW_CONN_{source.conn_id.upper()}"] = mariadb.connection_json()
        with output_to_file(airflow_log) as terminal:
            states += run_dag_intervals(general.dag_id, [today], terminal)
            states += run_dag_intervals(audit.dag_id, [today], terminal)

    with output_to_file(airflow_log):  # the loads' progress goes where the DAGs' does
        _load_clickhouse_and_sql_server(dsn, data_dir, by_kind)
    clickhouse = by_kind["clickhouse_query_log"].model_copy(update={"enabled": True})
    mssql = by_kind["mssql_audit"].model_copy(update={"enabled": True})
    ch_feed, ms_feed = clickhouse.feeds()[0], mssql.feeds()[0]
    print("10/15 what each loaded (latest run), and events of the people:\n", flush=True)
    if mariadb is not None:
        _print_batch_and_sample(dsn, general.feeds()[0])
        _print_batch_and_sample(dsn, audit.feeds()[0])
    _print_batch_and_sample(
        dsn, ch_feed, "no DAG run: the kind's SQL on chdb, the embedded ClickHouse engine"
    )
    _print_batch_and_sample(
        dsn, ms_feed, "no DAG run: documented fn_get_audit_file rows, no SQL Server here"
    )
    with connect(dsn) as conn:
        across = [
            row
            for row in execute(conn, "reports/people_across_sources.sql").fetchall()
            if row[0] in people
        ]
        hits = execute(conn, "reports/text_search.sql", {"text": demo_mariadb.WORKLOAD_SECRET})
        where = ", ".join(row[0] for row in hits.fetchall()) or "no table"
    print("\none person across Entra, the Postgres and the MariaDB sources:\n")
    print(
        _table(
            [(row[0], row[2], row[3], row[4], str(row[-1])[:8]) for row in across],
            ["person", "entra sign-ins", "db events", "db logins", "id"],
            [38, 14, 9, 60, 8],
        )
    )
    print(
        f"\nroot's CREATE USER ... IDENTIFIED BY {demo_mariadb.WORKLOAD_SECRET!r}: found in"
        f" {where} of the warehouse (landing included)."
        "\n  e.g.  SELECT * FROM auditor.database_access WHERE server = 'crm-db';"
    )
    return states


def quality_step(dsn: str) -> None:
    """What validation found across every source of the demo: the daily summary (completeness
    per source and day), the expectations that did not hold, and where Data Docs are."""
    from access_warehouse.quality.completeness import daily_summary, format_daily_summary
    from access_warehouse.quality.data_docs import index_path
    from access_warehouse.warehouse import connect, execute

    days = 8
    print("11/15 data quality: every source's windows, checks and evidence\n", flush=True)
    print(format_daily_summary(daily_summary(dsn, days=days), days))
    with connect(dsn) as conn:
        unmet = execute(conn, "reports/unmet_expectations.sql").fetchall()
    print("\nexpectations that did not hold (dq.expectation_results, latest run of each source):\n")
    print(
        _table(
            unmet,
            ["source", "suite", "expectation", "severity", "level", "unexpected", "observed"],
            [36, 34, 28, 8, 5, 10, 40],
        )
    )
    print(
        f"\nData Docs: {index_path()}"
        "\n  e.g.  SELECT * FROM dq.daily_summary ORDER BY day DESC;"
        "\n        SELECT * FROM dq.completeness WHERE status <> 'complete';"
        "\n  python -m access_warehouse.cli reprocess-quarantine SOURCE_ID --dsn DSN --dry-run"
    )


def print_sources(config: Any) -> None:
    """The registered kinds and the feeds the config gives (each one DAG)."""
    from access_warehouse.sources.registry import registered_kinds

    kinds = ", ".join(registered_kinds())
    print(f"0/15 source kinds registered: {kinds}; feeds in include/config/sources.yaml:")
    for feed in config.feeds():
        print(f"    {feed.dag_id:<28} {feed.source_id:<34} {feed.selection.describe()}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.demo", description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--signins-per-day", type=int, default=2000)
    parser.add_argument(
        "--feed",
        choices=["signins", "directory_audits"],
        default="signins",
        help="which Entra feed's DAG to run (directory audits: 300 per day in the simulator)",
    )
    return demo(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
