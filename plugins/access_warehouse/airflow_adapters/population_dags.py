"""The ``access_populations`` DAG: who exists, snapshotted daily, one task per population.

``dags/populations.py`` calls :func:`build_population_dag`; the populations, their task ids
and the schedule come from ``include/config/populations.yaml``. Each snapshot task updates
:data:`POPULATIONS`, which ``access_reporting`` schedules on.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pendulum
from airflow.sdk import CronDataIntervalTimetable, dag, get_current_context, task

from access_warehouse.airflow_adapters import tasks
from access_warehouse.airflow_adapters.assets import POPULATIONS
from access_warehouse.populations.base import PopulationConfig
from access_warehouse.populations.config import PopulationsConfig, load_populations

__all__ = ["DAG_ID", "POPULATIONS", "build_population_dag", "due"]

DAG_ID = "access_populations"

DOC = """
### Population snapshots: who exists -> `audit.population_accounts`

An account that never signs in never appears in a log, and Entra's last-sign-in fields count
interactive attempts only (failed ones too). So every run snapshots each configured population
(`include/config/populations.yaml`): an Entra tenant's directory (Graph `/users`, with
`signInActivity` where the licence allows) and database servers' logins (`pg_roles`,
`mysql.user`). Schedule `{schedule}` UTC; one task per population, so one that fails (a server
down, a connection missing) neither stops nor delays the others.

* **History**: one row per version of an account (`valid_from`, `valid_to`). A change (name,
  mail, enabled, type, aliases, properties) ends the version and starts a new one; an account
  missing from a complete snapshot gets a `deleted = true` version, and one listed again later
  a new live one. Sign-in activity is refreshed in place on the current version.
* **A snapshot is one transaction**; a read that fails writes a `failed` row in
  `audit.population_snapshots` with the error and changes no account row (the task fails).
* Every attempt is a row of `audit.population_snapshots`: counts (accounts, added, changed,
  removed), what was asked (the Graph request, the SQL) and what the source said (pages,
  `sign_in_activity_available`).
* Each task updates the Asset `warehouse://audit/populations`: `access_reporting` recomputes
  dormant accounts and the access review from it.

Populations: {populations}

From a shell: `python -m access_warehouse.cli snapshot-populations [--population ID] --dsn DSN`.
"""


def due(
    population: PopulationConfig,
    start: datetime | None,
    end: datetime | None,
    *,
    manual: bool = False,
) -> bool:
    """Whether ``population`` is due in the data interval ``[start, end)``: always for a manual
    run, without its own ``schedule`` or without an interval, else when its cron fires in it."""
    if manual or population.schedule is None or start is None or end is None:
        return True
    from croniter import croniter  # ships with Airflow

    fire = croniter(population.schedule, start - timedelta(microseconds=1)).get_next(datetime)
    return fire < end


def snapshot_task(population_id: str, context: dict[str, Any]) -> dict[str, Any]:
    """Snapshot one population (skipped when a scheduled run's interval holds no time of its
    own ``schedule``); the Asset event's extra names the population and the snapshot."""
    from airflow.sdk.exceptions import AirflowSkipException

    from access_warehouse.airflow_adapters.connections import warehouse_dsn
    from access_warehouse.populations.snapshot import snapshot_population

    population = load_populations().population(population_id)
    dag_run = context.get("dag_run")
    manual = str(getattr(getattr(dag_run, "run_type", None), "value", "")) == "manual"
    start, end = context.get("data_interval_start"), context.get("data_interval_end")
    if not due(population, start, end, manual=manual):
        raise AirflowSkipException(
            f"{population_id} is due at {population.schedule!r}: not in [{start}, {end})"
        )
    summary = snapshot_population(
        warehouse_dsn(),
        population,
        dag_id=context["dag"].dag_id,
        run_id=context.get("run_id"),
    )
    outlet_events = context.get("outlet_events")
    if outlet_events is not None:
        outlet_events[POPULATIONS].extra.update(
            population_id=population_id,
            snapshot_id=summary.snapshot_id,
            taken_at=summary.taken_at.isoformat(),
        )
    return summary.as_xcom()


def _task_doc(population: PopulationConfig) -> str:
    when = (
        f" (when `{population.schedule}` fires in a scheduled run's interval)"
        if population.schedule
        else ""
    )
    return (
        f"Snapshot population `{population.population_id}` (kind `{population.kind}`){when}: "
        f"{population.describe()} Returns the snapshot's counts."
    )


def build_population_dag(config: PopulationsConfig | None = None) -> Any:
    """The ``access_populations`` DAG: migrate -> one snapshot task per enabled population."""
    config = config or load_populations()
    populations = config.enabled()
    listed = ", ".join(f"`{p.population_id}` ({p.kind})" for p in populations) or "none configured"

    @dag(
        dag_id=DAG_ID,
        schedule=CronDataIntervalTimetable(config.schedule, timezone="UTC"),
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        catchup=False,
        max_active_runs=1,
        default_args={
            "owner": "access-warehouse",
            "retries": 2,
            "retry_delay": timedelta(minutes=1),
        },
        tags=["populations", "reporting"],
        doc_md=DOC.format(schedule=config.schedule, populations=listed),
    )
    def access_populations() -> None:
        @task(retries=3, doc_md="Apply pending `include/sql/migrations` (idempotent).")
        def migrate_warehouse() -> list[str]:
            return tasks.migrate_warehouse()

        @task(outlets=[POPULATIONS])
        def snapshot(population_id: str) -> dict[str, Any]:
            return snapshot_task(population_id, get_current_context())

        migrated = migrate_warehouse()
        for population in populations:
            configured = snapshot.override(task_id=population.task_id, doc_md=_task_doc(population))
            migrated >> configured(population.population_id)

    return access_populations()
