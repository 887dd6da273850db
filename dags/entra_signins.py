"""Entra ID sign-in logs: one DAG per tenant in include/config/sources.yaml."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Asset, CronDataIntervalTimetable, Param, dag, get_current_context, task

from access_warehouse import airflow_tasks
from access_warehouse.config import EntraTenantConfig, load_sources

ACCESS_EVENTS = Asset("warehouse://audit/access_events")

DOC = """
### Entra ID sign-ins → `audit.access_events`

Each run extracts **[data interval start - lookback, data interval end)** of Microsoft Graph
`auditLogs/signIns` for tenant **{tenant}** (connection `{conn_id}`, API `{api_version}`,
lookback {lookback} min, schedule `{schedule}` UTC), lands it raw in `landing.records`,
normalises it to the access-event contract, validates it with the GX suite
`access_events.required_columns` (failures go to `dq.quarantine` with reasons), resolves people
and applications, and upserts `audit.access_events` and `audit.access_logs` in one transaction.

* **Reruns are safe**: events upsert on `(source_id, event_id)`; a rerun changes no row.
* **Manual runs** have no data interval: set `window_start`/`window_end` (ISO 8601, UTC) in the
  trigger form, or leave them empty to take the last complete UTC day.
* Every run adds a row to `audit.batches`: extracted = loaded + quarantined.
* Throttling (429 `Retry-After`), 5xx and dropped connections are retried; a token that expires
  mid-window is renewed. A run that still fails leaves `audit` untouched and its landing batch
  marked `failed`; the retry starts a fresh batch.
"""


def build_dag(tenant: EntraTenantConfig):
    feed = tenant.signins

    @dag(
        dag_id=tenant.dag_id("signins"),
        schedule=CronDataIntervalTimetable(feed.schedule, timezone="UTC"),
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        catchup=False,
        max_active_runs=3,
        default_args={"retries": 2, "retry_delay": timedelta(seconds=30)},
        params={
            "window_start": Param(
                None, type=["null", "string"], description="ISO 8601 UTC; manual runs only"
            ),
            "window_end": Param(
                None, type=["null", "string"], description="ISO 8601 UTC; manual runs only"
            ),
        },
        tags=["entra", "sign-ins", f"tenant:{tenant.name}"],
        doc_md=DOC.format(
            tenant=tenant.name,
            conn_id=tenant.conn_id,
            api_version=feed.api_version,
            lookback=feed.lookback_minutes,
            schedule=feed.schedule,
        ),
    )
    def entra_signins() -> None:
        @task(retries=3, doc_md="Apply pending `include/sql/migrations` (idempotent).")
        def migrate_warehouse() -> list[str]:
            return airflow_tasks.migrate_warehouse()

        @task(doc_md="Page through Graph into a new `landing` batch; returns its id and counts.")
        def extract() -> dict:
            return airflow_tasks.extract_entra(tenant.name, "signins", get_current_context())

        @task(
            outlets=[ACCESS_EVENTS], doc_md="Normalise, validate, resolve, upsert: one transaction."
        )
        def load(extracted: dict) -> dict:
            return airflow_tasks.load_entra(
                tenant.name, "signins", extracted, get_current_context()
            )

        extracted = extract()
        migrate_warehouse() >> extracted
        load(extracted)

    return entra_signins()


for _tenant in load_sources().entra_tenants:
    if _tenant.signins.enabled:
        globals()[_tenant.dag_id("signins")] = build_dag(_tenant)
