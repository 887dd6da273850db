"""The demo's reporting step: an ``access_reporting`` run over the demo's days with an evidence
pack, then a few lines of what auditors read (MFA coverage, failed sign-ins and bursts,
privileged changes, dormant accounts) and where the pack is."""

from __future__ import annotations

import os
import time
from datetime import date
from pathlib import Path
from typing import Any

from access_warehouse.warehouse import connect, execute


def run_reporting(first_day: date, last_day: date) -> tuple[str, dict[str, Any]]:
    """One ``access_reporting`` run (``dag.test()``) rebuilding the days and writing the pack
    of the same period; returns its state and the build task's summary."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    if bag.import_errors:
        raise RuntimeError(f"DAG import errors: {bag.import_errors}")
    run = bag.dags["access_reporting"].test(
        run_conf={
            "start_day": first_day.isoformat(),
            "end_day": last_day.isoformat(),
            "evidence_pack": True,
            "review_start": first_day.isoformat(),
            "review_end": last_day.isoformat(),
        }
    )
    state = str(getattr(run.state, "value", run.state))
    results = {ti.task_id: ti.xcom_pull(task_ids=ti.task_id) for ti in run.get_task_instances()}
    return state, results


def report_lines(dsn: str, first_day: date, last_day: date) -> list[str]:
    """What the demo prints of the reporting tables for the period."""
    from devtools.demo import _table

    period = {"first_day": first_day, "last_day": last_day}
    with connect(dsn) as conn:
        mfa = execute(conn, "reports/mfa_coverage_days.sql", period).fetchall()
        failures = execute(conn, "reports/burst_summary.sql", period).fetchall()
        changes = execute(conn, "reports/privileged_summary.sql", period).fetchall()
        dormant = execute(conn, "reports/dormant_summary.sql").fetchall()
    return [
        "MFA coverage of successful sign-ins, all resources (reporting.mfa_coverage):",
        _table(
            mfa,
            ["day", "people", "w/ MFA", "w/o MFA", "unknown", "sign-ins", "MFA %", "evaluable"],
            [10, 6, 6, 7, 7, 8, 5, 40],
        ),
        "",
        "failed sign-ins and bursts (reporting.failed_signins, failed_signin_bursts):",
        _table(failures, ["what", "count", "lockouts"], [18, 7, 8]),
        "",
        "privileged changes (reporting.privileged_changes):",
        _table(changes, ["change type", "changes", "latest"], [28, 7, 70]),
        "",
        "accounts by population and status (reporting.dormant_accounts):",
        _table(dormant, ["population", "status", "accounts", "examples"], [18, 15, 8, 70]),
    ]


def reporting_step(dsn: str, first_day: date, last_day: date, airflow_log: Path) -> list[str]:
    """Run the reporting DAG (its task logs go to ``airflow_log``) and print the results;
    returns the run states."""
    from access_warehouse.reporting.evidence import verify_evidence_pack
    from devtools.demo import output_to_file

    print(
        "13/15 reporting for auditors: access_reporting over the demo's days, with an "
        "evidence pack of the period",
        flush=True,
    )
    started = time.monotonic()
    with output_to_file(airflow_log):
        state, results = run_reporting(first_day, last_day)
    built = results.get("build") or {}
    pack = results.get("evidence_pack") or {}
    print(
        f"    access_reporting {first_day}..{last_day}: {state} in "
        f"{time.monotonic() - started:.1f} s; build {built.get('build_id')} rebuilt "
        f"{len(built.get('rebuilt_days') or [])} days; rows: "
        + ", ".join(f"{table} {rows}" for table, rows in sorted((built.get("rows") or {}).items())),
        flush=True,
    )
    print("\n".join(report_lines(dsn, first_day, last_day)))
    if pack:
        folder = Path(pack["directory"])
        verified = verify_evidence_pack(folder, dsn)
        print(
            f"\nevidence pack of {first_day}..{last_day}: {folder}"
            f"\n    {len(pack['files'])} CSV files + manifest.json, manifest sha256 "
            f"{pack['manifest_sha256'][:16]}..., every day evaluable: {pack['all_evaluable']}"
            f"\n    python -m access_warehouse.cli evidence-verify {folder} --dsn DSN: "
            + ("OK" if verified.ok else f"{len(verified.problems)} problems")
        )
    from access_warehouse.quality.data_docs import index_path

    print(f"Data Docs (the validations behind these tables): {index_path()}")
    print(
        "  e.g.  SELECT * FROM auditor.dormant_accounts;"
        "\n        SELECT * FROM auditor.privileged_changes ORDER BY occurred_at DESC;"
        "\n  example queries for auditors: include/sql/auditor/*.sql (README 'For auditors')"
    )
    return [state]
