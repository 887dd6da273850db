"""The ``access_reporting`` DAG: the reporting tables for the days loads touched, on demand for
a range, and access-review evidence packs. ``dags/reporting.py`` calls :func:`build_reporting_dag`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import Param, dag, get_current_context, task

from access_warehouse.airflow_adapters import reporting_tasks, tasks
from access_warehouse.airflow_adapters.assets import ACCESS_EVENTS, POPULATIONS

DAG_ID = "access_reporting"

DOC = """
### Reporting tables for auditors (`reporting.*`, read through `auditor.*`)

Runs whenever a load updates `warehouse://audit/access_events` (the Asset event's extra names
the UTC days the load touched) or a population snapshot updates `warehouse://audit/populations`,
and on demand for a range of days. One build, one transaction (one build at a time):

* `reporting.source_days`: per source and day, whether loaded, reconciled windows cover the
  whole day; otherwise why not (`not_extracted`, `partially_extracted`, `extract_failed`,
  `failed_checks`, `not_reconciled`, `beyond_source_retention`). A row for a day a source
  does not cover is **not evaluable**: its counts are NULL or lower bounds, never a zero.
* Rebuilt for the touched days only (and days whose coverage changed): `daily_access`,
  `mfa_coverage`, `failed_signins`, `failed_signin_bursts` (password spraying, brute force;
  thresholds in `include/config/reporting.yaml`), `privileged_changes`. Rebuilding a day gives
  the same rows; every row carries the `build_id` that wrote it (`reporting.builds`).
* As of the latest complete UTC day (or the `as_of` param): `access_review` (per person and
  resource) and `dormant_accounts` (per account of every population snapshot, including
  accounts that never signed in).

**Manual runs**: set `start_day` and `end_day` to rebuild a range (both empty: the last
complete day). **Evidence pack**: turn `evidence_pack` on with `review_start`/`review_end` to
freeze the population and access of a review period as CSV files plus a manifest with SHA-256
hashes (`python -m access_warehouse.cli evidence-verify DIR` checks it later).
"""


def _params() -> dict[str, Param]:
    day = ["null", "string"]
    return {
        "start_day": Param(
            None, type=day, format="date", description="Manual runs: first day to rebuild (UTC)"
        ),
        "end_day": Param(
            None, type=day, format="date", description="Manual runs: last day to rebuild (UTC)"
        ),
        "as_of": Param(
            None,
            type=day,
            format="date",
            description="Day the access review and dormant accounts are computed as of "
            "(default: the latest complete UTC day)",
        ),
        "evidence_pack": Param(
            False,
            type="boolean",
            title="Write an evidence pack",
            description="After the build, freeze the review period below as CSV files plus a "
            "signed-off manifest (SHA-256 of every file, the batch-chain head)",
        ),
        "review_start": Param(
            None, type=day, format="date", description="Evidence pack: first day of the period"
        ),
        "review_end": Param(
            None, type=day, format="date", description="Evidence pack: last day of the period"
        ),
    }


def _config_doc() -> str:
    """The thresholds in force, read (and so validated) when the DAG parses."""
    from access_warehouse.reporting.config import load_reporting_config

    config = load_reporting_config()
    rules = config.failed_signins
    return (
        f"\n**In force** (`include/config/reporting.yaml`): dormant after "
        f"{config.dormant_after_days} days without a successful access; review windows "
        f"{config.review_windows_days[0]} and {config.review_windows_days[1]} days; bursts "
        f"within {rules.window_minutes} minutes: spraying from "
        f"{rules.spraying_min_principals} principals, brute force from "
        f"{rules.brute_force_min_failures} failures; lockout codes "
        f"{', '.join(rules.lockout_error_codes) or 'none'}.\n"
    )


def build_reporting_dag() -> Any:
    @dag(
        dag_id=DAG_ID,
        schedule=(ACCESS_EVENTS | POPULATIONS),
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        catchup=False,
        max_active_runs=1,
        default_args={
            "owner": "access-warehouse",
            "retries": 2,
            "retry_delay": timedelta(minutes=1),
        },
        params=_params(),
        tags=["reporting", "auditor"],
        doc_md=DOC + _config_doc(),
    )
    def access_reporting() -> None:
        @task(retries=3, doc_md="Apply pending `include/sql/migrations` (idempotent).")
        def migrate_warehouse() -> list[str]:
            return tasks.migrate_warehouse()

        @task(
            execution_timeout=timedelta(hours=2),
            doc_md="Rebuild the reporting tables for the touched days (or the requested range) "
            "and the as-of tables; returns the build id, days and rows written.",
        )
        def build() -> dict:
            return reporting_tasks.build(get_current_context())

        @task(
            doc_md="With `evidence_pack` on: write the evidence pack of the review period; "
            "skipped otherwise. Returns its folder and manifest hash."
        )
        def evidence_pack(built: dict) -> dict:
            return reporting_tasks.evidence_pack(built, get_current_context())

        built = build()
        migrate_warehouse() >> built
        evidence_pack(built)

    return access_reporting()
