"""The ``access_retention`` DAG: the retention policies and legal holds of
``include/config/retention.yaml``, enforced daily. ``dags/retention.py`` calls
:func:`build_retention_dag`; the work is
:func:`access_warehouse.retention.enforce.enforce_retention`.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pendulum
from airflow.sdk import CronDataIntervalTimetable, Param, dag, get_current_context, task

from access_warehouse.airflow_adapters import tasks
from access_warehouse.retention.config import FAMILIES, RetentionConfig, load_retention_config

log = logging.getLogger(__name__)

DAG_ID = "access_retention"

DOC = """
### Retention: policies per table family, legal holds, every purge recorded

Daily (`{schedule}` UTC), as of the end of the run's data interval (or the `as_of` param):

* `audit.access_events` loses **whole monthly partitions** (detached and dropped, never
  row-by-row deletes): a month goes once every source with rows in it is past its own policy
  and no legal hold in force covers it for one of them; otherwise it stays whole and the
  record says why. Its successful accesses stay counted in `audit.access_logs`; each source's
  purge goes into its manifest chain in the same transaction (the verifier reads it as a purge).
* The other tables lose their rows older than the policy in bounded statements
  (`batch_rows` per `DELETE`), held rows excepted; landing batches never loaded stay.
* **Every purge is one transaction with its row in `etl.retention_runs`**: table, partition,
  source, range, rows, rows kept past the policy and why, the policy, dry run or not.
* `reporting.retention_status`: per table and source, the policy, the oldest row kept, from
  when the data is complete, the holds in force, the next purge date; for landing, which
  batches can still be replayed (a purged landing batch cannot).

**Dry run**: trigger with `dry_run` on to record (`dry_run = true`) and log what would go,
removing nothing. `as_of` shows what a later date would remove.

From a shell: `python -m access_warehouse.cli retention --dsn DSN [--dry-run] [--now ISO]`.
"""


def _params() -> dict[str, Param]:
    return {
        "dry_run": Param(
            False,
            type="boolean",
            title="Dry run",
            description="Record and log what would be removed; remove nothing",
        ),
        "as_of": Param(
            None,
            type=["null", "string"],
            format="date-time",
            description="The time the policies count back from (default: the end of the run's "
            "data interval, or now)",
        ),
    }


def _config_doc(config: RetentionConfig) -> str:
    """The policies and holds in force, read (and so validated) when the DAG parses."""
    lines = ["\n**In force** (`include/config/retention.yaml`):\n"]
    for family in FAMILIES:
        policy = config.policies.family(family)
        overrides = ", ".join(f"`{source}` {keep}" for source, keep in policy.by_source.items())
        lines.append(f"* {family}: {policy.keep}" + (f" ({overrides})" if overrides else ""))
    holds = [
        f"* hold `{hold.id}`: {hold.from_:%Y-%m-%d} .. {hold.to:%Y-%m-%d}, "
        f"{', '.join(hold.sources) or 'every source'}: {hold.reason} (set by {hold.set_by}"
        + (f", released {hold.released_at:%Y-%m-%d}" if hold.released_at else "")
        + ")"
        for hold in config.legal_holds
    ]
    lines += holds or ["* no legal hold in the config (see `etl.legal_holds` too)"]
    return "\n".join(lines) + "\n"


def enforce_task(context: dict[str, Any]) -> dict[str, Any]:
    """Enforce the policies as of the run's time; returns the summary (small: no rows)."""
    from access_warehouse.airflow_adapters.connections import warehouse_dsn
    from access_warehouse.retention.enforce import enforce_retention

    params = context.get("params") or {}
    as_of = params.get("as_of")
    if as_of:
        now = datetime.fromisoformat(str(as_of).replace("Z", "+00:00"))
        now = now if now.tzinfo else now.replace(tzinfo=UTC)
    else:
        # a scheduled run speaks for its interval's end (a rerun of it removes the same);
        # a manual run has none: now
        end = context.get("data_interval_end")
        now = datetime.fromtimestamp(end.timestamp(), UTC) if end else datetime.now(UTC)
    dry_run = bool(params.get("dry_run"))
    log.info("retention as of %s%s", now, " (dry run: nothing is removed)" if dry_run else "")
    summary = enforce_retention(
        warehouse_dsn(),
        load_retention_config(),
        now=now,
        dry_run=dry_run,
        dag_id=context["dag"].dag_id,
        run_id=context.get("run_id"),
    )
    return summary.as_xcom()


def build_retention_dag(config: RetentionConfig | None = None) -> Any:
    """The ``access_retention`` DAG: migrate -> enforce."""
    config = config or load_retention_config()

    @dag(
        dag_id=DAG_ID,
        schedule=CronDataIntervalTimetable(config.schedule, timezone="UTC"),
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        catchup=False,
        max_active_runs=1,
        default_args={
            "owner": "access-warehouse",
            "retries": 1,
            "retry_delay": timedelta(minutes=10),
        },
        params=_params(),
        tags=["retention", "compliance"],
        doc_md=DOC.format(schedule=config.schedule) + _config_doc(config),
    )
    def access_retention() -> None:
        @task(retries=3, doc_md="Apply pending `include/sql/migrations` (idempotent).")
        def migrate_warehouse() -> list[str]:
            return tasks.migrate_warehouse()

        @task(
            execution_timeout=timedelta(hours=6),
            doc_md="Purge what the policies say, keep what holds say, one transaction per "
            "purge with its record in `etl.retention_runs`; refresh "
            "`reporting.retention_status`. Logs each purge and one summary line; returns the "
            "summary (tables, rows, partitions dropped and kept).",
        )
        def enforce_retention() -> dict[str, Any]:
            return enforce_task(get_current_context())

        migrate_warehouse() >> enforce_retention()

    return access_retention()
