"""The bodies of the DAGs' tasks: thin adapters from an Airflow task context to package functions.

Kept out of ``dags/`` so DAG files stay cheap to parse (nothing heavy is imported until a task
runs) and so tests can call the same code.
"""

from __future__ import annotations

import logging
from typing import Any

from access_warehouse.config import load_sources

log = logging.getLogger(__name__)

WAREHOUSE_CONN_ID = "warehouse"


def migrate_warehouse() -> list[str]:
    from access_warehouse.warehouse import apply_migrations, dsn_from_airflow

    applied = apply_migrations(dsn_from_airflow(WAREHOUSE_CONN_ID))
    log.info("migrations applied: %s", applied or "none (schema up to date)")
    return applied


def extract_entra(tenant_name: str, feed: str, context: dict[str, Any]) -> dict[str, Any]:
    from access_warehouse.entra import extract_feed, feed_config
    from access_warehouse.warehouse import dsn_from_airflow
    from access_warehouse.windows import resolve_window

    tenant = load_sources().tenant(tenant_name)
    window = resolve_window(
        interval_start=context.get("data_interval_start"),
        interval_end=context.get("data_interval_end"),
        params=context.get("params"),
        lookback=feed_config(tenant, feed).lookback,
    )
    summary = extract_feed(
        dsn_from_airflow(WAREHOUSE_CONN_ID),
        tenant,
        feed,
        window,
        dag_id=context["dag"].dag_id,
        run_id=context.get("run_id"),
    )
    return summary.as_xcom()


def load_entra(
    tenant_name: str, feed: str, extracted: dict[str, Any], context: dict[str, Any]
) -> dict[str, Any]:
    from access_warehouse.entra import load_feed
    from access_warehouse.warehouse import dsn_from_airflow

    tenant = load_sources().tenant(tenant_name)
    summary = load_feed(
        dsn_from_airflow(WAREHOUSE_CONN_ID),
        tenant,
        feed,
        extracted["batch_id"],
        dag_id=context["dag"].dag_id,
        run_id=context.get("run_id"),
    )
    return summary.as_xcom()
