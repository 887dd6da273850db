"""The ``warehouse_verify`` DAG: recompute every source's manifest chain from the stored rows,
daily; the run fails on any mismatch. ``dags/verify.py`` calls :func:`build_verify_dag`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import CronDataIntervalTimetable, dag, get_current_context, task

from access_warehouse.airflow_adapters import tasks, verify_tasks

DAG_ID = "warehouse_verify"
#: After the daily loads (00:00 UTC) have had their time; UTC.
SCHEDULE = "0 6 * * *"

DOC = """
### Tamper evidence: verify the manifest chains (`audit.manifests`)

Every committed load, quarantine re-processing and retention purge appends an entry to its
source's manifest chain (rows written, SHA-256 over them, what it took from earlier batches,
the previous entry's hash). This DAG recomputes every chain from the rows stored now:

* an entry whose fields no longer give its hash (`manifest_changed`), a gap in a chain
  (`manifest_deleted`), an entry that does not point at the one before (`chain_broken`), a load
  `audit.batches` records without an entry (`manifest_missing`);
* per batch, the rows carrying its id against what its entry wrote minus what later entries
  took over or purged: `added`, `deleted` or `changed`, naming the **first** batch and window
  per source that the chain does not explain.

Any finding **fails the run** (the verification task is not retried: a mismatch does not go
away). Each run is recorded in `etl.verifier_runs` (auditors: `auditor.verifier_runs`) with the
chain heads; publishing a head outside the warehouse (a ticket, an evidence pack, a write-once
store) is what makes a rewrite by the database owner detectable. Same check from a shell:
`python -m access_warehouse.cli verify-warehouse --dsn DSN [--source ID]`.
"""


def build_verify_dag() -> Any:
    @dag(
        dag_id=DAG_ID,
        schedule=CronDataIntervalTimetable(SCHEDULE, timezone="UTC"),
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        catchup=False,
        max_active_runs=1,
        default_args={
            "owner": "access-warehouse",
            "retries": 2,
            "retry_delay": timedelta(minutes=1),
        },
        tags=["integrity", "auditor"],
        doc_md=DOC,
    )
    def warehouse_verify() -> None:
        @task(retries=3, doc_md="Apply pending `include/sql/migrations` (idempotent).")
        def migrate_warehouse() -> list[str]:
            return tasks.migrate_warehouse()

        @task(
            retries=0,
            execution_timeout=timedelta(hours=4),
            doc_md="Recompute every source's manifest chain from the rows; fails naming each "
            "finding. Returns the run id, counts, chain heads and findings.",
        )
        def verify() -> dict:
            return verify_tasks.verify(get_current_context())

        migrate_warehouse() >> verify()

    return warehouse_verify()
