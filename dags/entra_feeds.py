"""Entra ID audit-log feeds: one DAG per (tenant, feed) in include/config/sources.yaml.

``entra_signins`` and ``entra_directory_audits`` for the default tenant; the same with a
``_<tenant>`` suffix for every other tenant, so each tenant's runs are independent.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Asset, CronDataIntervalTimetable, Param, dag, get_current_context, task

from access_warehouse import airflow_tasks
from access_warehouse.config import EntraTenantConfig, load_sources

ACCESS_EVENTS = Asset("warehouse://audit/access_events")

FEED_DOCS = {
    "signins": (
        "sign-ins",
        "Microsoft Graph `auditLogs/signIns` (on `beta`, one stream per sign-in event type: "
        "interactive, non-interactive, service principal, managed identity). `mfa` is NULL "
        "for v1.0 records, never a guessed false.",
    ),
    "directory_audits": (
        "directory audits",
        "Microsoft Graph `auditLogs/directoryAudits` (`$filter` on `activityDateTime`): one "
        "event per target resource (`event_id` = `<id>:<n>`), category `iam`. Configured "
        "category/activity exclusions are counted per rule in the batch row.",
    ),
}

DOC = """
### Entra ID {title} -> `audit.access_events`

Tenant **{tenant}** (connection `{conn_id}`, API `{api_version}`, schedule `{schedule}` UTC,
lookback {lookback} min). {what}

Each run extracts **[data interval start - lookback, data interval end)**, lands it raw in
`landing.records`, normalises it to the access-event contract, validates it with the GX suite
`access_events.required_columns` (failures go to `dq.quarantine` with reasons), resolves people
and config items, and upserts `audit.access_events` and `audit.access_logs` in one transaction.

* **Reruns are safe**: events upsert on their natural key; a rerun changes no row.
* **Manual runs** have no data interval: set `window_start`/`window_end` (ISO 8601, UTC) in the
  trigger form, or leave them empty to take the last complete UTC day.
* Every run adds a row to `audit.batches`: extracted = loaded + quarantined + excluded.
* Throttling (429 `Retry-After`), 5xx and dropped connections are retried; a token that expires
  mid-window is renewed. A run that still fails leaves `audit` untouched and its landing batch
  marked `failed`; the retry starts a fresh batch.
"""


def build_dag(tenant: EntraTenantConfig, feed: str):
    config = getattr(tenant, feed)
    title, what = FEED_DOCS[feed]

    @dag(
        dag_id=tenant.dag_id(feed),
        schedule=CronDataIntervalTimetable(config.schedule, timezone="UTC"),
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
        tags=["entra", title, f"tenant:{tenant.name}"],
        doc_md=DOC.format(
            title=title,
            what=what,
            tenant=tenant.name,
            conn_id=tenant.conn_id,
            api_version=config.api_version,
            lookback=config.lookback_minutes,
            schedule=config.schedule,
        ),
    )
    def entra_feed() -> None:
        @task(retries=3, doc_md="Apply pending `include/sql/migrations` (idempotent).")
        def migrate_warehouse() -> list[str]:
            return airflow_tasks.migrate_warehouse()

        @task(doc_md="Page through Graph into a new `landing` batch; returns its id and counts.")
        def extract() -> dict:
            return airflow_tasks.extract_entra(tenant.name, feed, get_current_context())

        @task(
            outlets=[ACCESS_EVENTS], doc_md="Normalise, validate, resolve, upsert: one transaction."
        )
        def load(extracted: dict) -> dict:
            return airflow_tasks.load_entra(tenant.name, feed, extracted, get_current_context())

        extracted = extract()
        migrate_warehouse() >> extracted
        load(extracted)

    return entra_feed()


for _tenant in load_sources().entra_tenants:
    for _feed in FEED_DOCS:
        if getattr(_tenant, _feed).enabled:
            globals()[_tenant.dag_id(_feed)] = build_dag(_tenant, _feed)
