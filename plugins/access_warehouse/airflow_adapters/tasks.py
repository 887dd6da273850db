"""The bodies of the DAGs' tasks: thin adapters from an Airflow task context to package functions.

Kept out of ``dags/`` so DAG files stay cheap to parse (nothing heavy is imported until a task
runs) and so tests can call the same code. Tasks look their feed up again by source id, so
what crosses XCom is a batch id and counts, never rows.
"""

from __future__ import annotations

import logging
from typing import Any

from access_warehouse.airflow_adapters.connections import warehouse_dsn
from access_warehouse.config import load_sources

log = logging.getLogger(__name__)


def migrate_warehouse() -> list[str]:
    from access_warehouse.warehouse import apply_migrations

    applied = apply_migrations(warehouse_dsn())
    log.info("migrations applied: %s", applied or "none (schema up to date)")
    return applied


def extract(source_id: str, context: dict[str, Any]) -> dict[str, Any]:
    """Land the run's window (or everything after the feed's bookmark)."""
    from access_warehouse.extract import extract as extract_feed
    from access_warehouse.sources.base import TimeWindow
    from access_warehouse.windows import resolve_window

    feed = load_sources().feed(source_id, dag_id=context["dag"].dag_id)
    window = None
    if isinstance(feed.selection, TimeWindow):
        window = resolve_window(
            interval_start=context.get("data_interval_start"),
            interval_end=context.get("data_interval_end"),
            params=context.get("params"),
            lookback=feed.selection.lookback,
        )
    summary = extract_feed(
        warehouse_dsn(),
        feed,
        window=window,
        dag_id=context["dag"].dag_id,
        run_id=context.get("run_id"),
    )
    return summary.as_xcom()


def load(source_id: str, extracted: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    """Normalise, validate, resolve and upsert the batch the extract task landed; the Asset
    event says which days the load touched, for ``access_reporting``."""
    from access_warehouse.load import load_batch

    summary = load_batch(
        warehouse_dsn(),
        extracted["batch_id"],
        load_sources().feed(source_id, dag_id=context["dag"].dag_id),
        dag_id=context["dag"].dag_id,
        run_id=context.get("run_id"),
    )
    announce_touched_days(context, source_id, summary.touched_days)
    return summary.as_xcom()


def announce_touched_days(context: dict[str, Any], source_id: str, days: list[str]) -> None:
    """Put the days a load touched into the extra of its ``ACCESS_EVENTS`` Asset event."""
    from access_warehouse.airflow_adapters.assets import ACCESS_EVENTS

    outlet_events = context.get("outlet_events")
    if outlet_events is None:  # called outside a task with that outlet
        return
    extra = outlet_events[ACCESS_EVENTS].extra
    extra["source_id"] = source_id
    extra["days"] = sorted(set(extra.get("days", [])) | set(days))
    log.info("reports to rebuild: %d days (%s)", len(extra["days"]), ", ".join(extra["days"]))


def reprocess_quarantine(
    source_id: str, loaded: dict[str, Any], context: dict[str, Any]
) -> dict[str, Any]:
    """With the run's ``reprocess_quarantine`` param on, re-process the source's open quarantine
    (leaving out what this run's own load just quarantined); the task is skipped otherwise."""
    from airflow.sdk.exceptions import AirflowSkipException

    from access_warehouse.quality.reprocess import reprocess_quarantine as reprocess

    if not (context.get("params") or {}).get("reprocess_quarantine"):
        raise AirflowSkipException("reprocess_quarantine is off for this run")
    summary = reprocess(
        warehouse_dsn(),
        load_sources().feed(source_id, dag_id=context["dag"].dag_id),
        except_batch_id=loaded["batch_id"],
        dag_id=context["dag"].dag_id,
        run_id=context.get("run_id"),
    )
    announce_touched_days(context, source_id, summary.touched_days)
    log.info(
        "re-processed quarantine of %s: %d selected, %d released (%d excluded), %d kept",
        source_id,
        summary.selected,
        summary.released,
        summary.excluded,
        summary.kept,
    )
    return summary.as_xcom()
