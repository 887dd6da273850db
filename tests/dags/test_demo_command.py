"""README command 1, end to end in its own process: `python -m devtools.demo` (`make demo`)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from access_warehouse.paths import PROJECT_ROOT
from devtools.embedded import stop_embedded_warehouse

ROW = re.compile(
    r"^(\d{4}-\d{2}-\d{2} 00:00)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s", re.M
)


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    stop_embedded_warehouse(tmp_path)


def demo(data_dir: Path) -> str:
    # the demo's own Airflow home and Data Docs folder (the tests' settings left out)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AIRFLOW") and key != "ACCESS_WAREHOUSE_DATA_DOCS"
    }
    env["PYTHONPATH"] = os.pathsep.join([str(PROJECT_ROOT / "plugins"), str(PROJECT_ROOT)])
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "devtools.demo",
            "--data-dir",
            str(data_dir),
            "--days",
            "2",
            "--signins-per-day",
            "300",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def _assert_database_step(output: str) -> None:
    """The database source: its rows beside the Entra ones, one person across both, the
    password of the workload in no table, the setup login excluded and counted."""
    step = output.split("6/15 database source", 1)[1].split("7/15 HTTP and file sources", 1)[0]
    batches = re.findall(r"^(\{.*?\}|\(nothing new\))\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)", step, re.M)
    assert batches[0][1:] == ("9", "7", "0", "2"), batches  # 2 rows by the excluded setup login
    assert all(row[0] == "(nothing new)" and row[1] == "0" for row in batches[1:]), batches
    people = re.findall(r"^(\S+@contoso\.onmicrosoft\.com)\s+False\s+(\d+)\s+(\d+)", step, re.M)
    assert len(people) == 2 and all(int(entra) > 0 and int(db) > 0 for _, entra, db in people)
    assert "found in no table of the warehouse" in step and "postgresql://crm:[REDACTED]@" in step
    assert re.search(r"^svc_billing\s+\['app-db/svc_billing'\]", step, re.M), "a counted stub"
    # one stub: the same login failing at the portal and at the server
    assert re.search(
        r"^intruder\s+\['app-db/intruder'\]\s+"
        r"\['generic_sql:billing_portal', 'postgres_csvlog:app_db_log'\]\s+0",
        step,
        re.M,
    )
    # generic_sql: the portal's local 09:02:11 (Europe/Berlin) on the day before the run, in UTC
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    local = datetime.combine(yesterday, time(9, 2, 11), ZoneInfo("Europe/Berlin"))
    # postgres_csvlog on the embedded server's own log: connections, the intruder's failures
    log_part = step.split("db_audit_app_db_log (postgres_csvlog", 1)[1]
    extracted, loaded, quarantined, excluded = map(
        int, re.search(r"^(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+\{", log_part, re.M).groups()
    )
    assert extracted == loaded + quarantined + excluded and loaded > 0 and excluded > 0
    assert re.search(r"^\S+\s+intruder\s+-\s+failure", log_part, re.M)
    portal = re.findall(
        r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\s+(\S+)\s+(\S+)\s+(success|failure)", step, re.M
    )
    assert len(portal) == 5, portal
    assert portal[0][0] == f"{local.astimezone(UTC):%Y-%m-%d %H:%M:%S}"
    assert [row[3] for row in portal] == ["success", "failure", "success", "failure", "failure"]
    assert portal[3][1:3] == ("intruder", "-")


def test_demo_prints_intervals_and_a_rerun_changes_nothing(data_dir: Path) -> None:
    first_output = demo(data_dir)
    first = ROW.findall(first_output)
    assert len(first) == 2
    for _day, extracted, loaded, quarantined, inserted, updated, unchanged in first:
        assert int(extracted) == int(loaded) + int(quarantined) > 0
        assert int(inserted) + int(updated) + int(unchanged) == int(loaded)
    assert int(first[0][4]) == int(first[0][2]), "the first interval is all new"

    _assert_database_step(first_output)
    output = demo(data_dir)
    again = ROW.findall(output)
    assert [row[0] for row in again] == [row[0] for row in first]
    assert all(row[4] == "0" and row[5] == "0" for row in again), "a rerun changes no row"
    assert "psql" in output and "auditor.sign_ins" in output
    assert re.search(r"source kinds registered: .*\bentra\b", output)
    assert re.search(r"entra_signins\s+entra:contoso:signins\s+time window", output)
    assert (data_dir / "demo-airflow.log").stat().st_size > 0
    _assert_database_step(output)  # the rerun: nothing new, the same one person
    _assert_files_step(first_output, rerun=False)
    _assert_files_step(output, rerun=True)
    _assert_other_databases_step(first_output, rerun=False)
    _assert_other_databases_step(output, rerun=True)
    _assert_quality_step(first_output)
    _assert_reporting_step(first_output)
    _assert_reporting_step(output)
    _assert_retention_and_verification(first_output)
    _assert_retention_and_verification(output)


def _assert_retention_and_verification(output: str) -> None:
    """The retention status of every table family, a dry run that would purge, and a verifier
    run that finds every chain intact."""
    retention = output.split("14/15 retention", 1)[1].split("15/15 ", 1)[0]
    assert "reporting.retention_status" in retention or "access_events" in retention, retention
    verification = output.split("15/15 tamper evidence", 1)[1]
    assert "verify-warehouse --dsn DSN: OK (exit 0)" in verification, verification[-2000:]


def _assert_reporting_step(output: str) -> None:
    """access_reporting over the demo's days: MFA coverage per day with people counted, and an
    evidence pack that verifies against the warehouse."""
    step = output.split("13/15 reporting", 1)[1].split("\n14/15 ", 1)[0]
    assert re.search(r"access_reporting \S+: success", step), step[:2000]
    days = re.findall(r"^(\d{4}-\d\d-\d\d)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)", step, re.M)
    assert len(days) >= 2, step[:3000]  # the two intervals (and today, if it had sign-ins)
    for _day, people, with_mfa, without, unknown, sign_ins in days[:2]:
        assert int(people) == int(with_mfa) + int(without) + int(unknown) > 0
        assert int(sign_ins) >= int(people)
    assert re.search(r"evidence-verify \S+ --dsn DSN: OK$", step, re.M), step[-2000:]
    statuses = re.findall(
        r"^entra:\S+\s+(active|dormant|never_signed_in|new_account|not_evaluable)\s+(\d+)",
        step,
        re.M,
    )
    assert statuses and sum(int(count) for _, count in statuses) > 50, step[-3000:]


def _assert_quality_step(output: str) -> None:
    """The daily summary lists every loading source's days, the expectations that did not
    hold are named with what was observed, and the Data Docs index exists."""
    step = re.split(r"\n1[2-5]/15 ", output.split("11/15 data quality", 1)[1])[0]
    days = re.findall(
        r"^(?:\d{4}-\d\d-\d\d)?\s+(\S+:\S+)\s+\d+\s+\d+\s+\d+\s+\d+\s+\d+\s+\d+\s+(\w+)$",
        step,
        re.M,
    )
    sources = {source for source, _ in days}
    assert {"entra:contoso:signins", "postgres_audit_trigger:appdb", "ecs_jsonl:engflow"} <= sources
    assert all(status in ("complete", "not_reconciled") for _, status in days), days
    assert "expectations that did not hold" in step
    index = re.search(r"^Data Docs: (\S+index\.html)$", step, re.M)
    assert index and Path(index.group(1)).is_file(), step[-2000:]


def _assert_other_databases_step(output: str, *, rerun: bool) -> None:
    """MariaDB's general log and server_audit files under the people's workload, ClickHouse's
    query log in chdb, SQL Server's documented rows: each loads, counts reconcile, the people
    are the Entra people, root is excluded, the administrator's password is nowhere."""
    step = output.split("10/15 ", 1)[1].split("11/15 ", 1)[0]
    loads = _step_loads(step)
    assert set(loads) == {
        "db_audit_crm_general_log",
        "db_audit_crm_server_audit",
        "db_audit_events",
        "db_audit_erp",
    }, step[:3000]
    for extracted, loaded, quarantined, excluded, *_ in loads.values():
        assert extracted == loaded + quarantined + excluded and loaded > 0
    for dag in ("db_audit_crm_general_log", "db_audit_crm_server_audit"):
        assert loads[dag][3] > 0 and "'login:root'" in step  # the administrator, excluded
        assert rerun or loads[dag][4] > 0, (dag, loads[dag])  # the first run inserts
    if rerun:  # the same windows again: MariaDB's and SQL Server's events are unchanged
        for dag in ("db_audit_crm_general_log", "db_audit_crm_server_audit", "db_audit_erp"):
            assert loads[dag][4] == 0 and loads[dag][5] == loads[dag][1], (dag, loads[dag])
    else:
        assert loads["db_audit_erp"][4] == loads["db_audit_erp"][1]
    assert re.search(r"^\s+\S+\s+default\s+database\s+SELECT\s+failure", step, re.M)
    across = re.findall(r"^(\S+@contoso\.onmicrosoft\.com)\s+(\d+)\s+(\d+)\s+(\S+)", step, re.M)
    assert len(across) == 2 and all(int(signins) > 0 for _, signins, _, _ in across), step
    assert "Report-S3cret-7d41': found in no table of the warehouse" in step


def _loads(output: str) -> dict[str, tuple[int, ...]]:
    """DAG id -> (extracted, loaded, quarantined, excluded, inserted, unchanged) of step 8."""
    return _step_loads(output.split("8/15 ", 1)[1].split("9/15 ", 1)[0])


def _step_loads(step: str) -> dict[str, tuple[int, ...]]:
    found = re.findall(
        r"^  (\S+) \(\S+\): extracted (\d+) = loaded (\d+) \+ quarantined (\d+) \+ excluded"
        r" (\d+).*; inserted (\d+), unchanged (\d+)$",
        step,
        re.M,
    )
    return {dag: tuple(map(int, counts)) for dag, *counts in found}


def _assert_files_step(output: str, *, rerun: bool) -> None:
    """Cloudflare through its simulator, one file of each file kind: every file loaded once,
    the export's sign-ins are the Graph feed's events, bad lines and exclusions counted."""
    loads = _loads(output)
    assert set(loads) == {
        "cloudflare_access_contoso",
        "ecs_jsonl_engflow",
        "cloudflare_logpush_http_intranet",
        "azure_monitor_export_contoso_archive_signins",
        "mission_control_json_github",
    }
    for extracted, loaded, quarantined, excluded, *_ in loads.values():
        assert extracted == loaded + quarantined + excluded
    cloudflare = loads["cloudflare_access_contoso"]
    assert cloudflare[0] > 0 and cloudflare[4] == (0 if rerun else cloudflare[1])
    files = [dag for dag in loads if dag != "cloudflare_access_contoso"]
    if rerun:  # each file is in the manifest: nothing is read again
        assert all(loads[dag][0] == 0 for dag in files), loads
        return
    assert loads["ecs_jsonl_engflow"][2:4] == (1, 2)  # a line cut in two; category:process
    export = loads["azure_monitor_export_contoso_archive_signins"]
    assert export[0] > 0 and export[4] == 0 and export[5] == export[1]  # Graph loaded them
