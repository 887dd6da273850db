"""Task bodies of ``access_reporting``: which days to rebuild, from the run's Asset events or
its params, and the evidence pack on request (package functions do the work)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date
from typing import Any

from access_warehouse.airflow_adapters.connections import warehouse_dsn

log = logging.getLogger(__name__)


def days_from_asset_events(events: Mapping[Any, Any] | None) -> list[str]:
    """The union of the ``days`` every triggering Asset event's extra names (ISO dates)."""
    days: set[str] = set()
    for asset in events or {}:
        for event in events[asset]:  # type: ignore[index]
            extra = getattr(event, "extra", None) or {}
            days.update(str(day) for day in extra.get("days") or ())
    return sorted(days)


def days_to_build(context: Mapping[str, Any]) -> tuple[list[date], str]:
    """The days a run rebuilds and why: its ``start_day``/``end_day`` params, else the days its
    triggering Asset events name, else (a manual run without a range) the last complete day."""
    from access_warehouse.reporting.build import (
        ReportingError,
        days_between,
        latest_complete_day,
        parse_days,
    )

    params = context.get("params") or {}
    start, end = params.get("start_day"), params.get("end_day")
    if start or end:
        if not (start and end):
            raise ReportingError("set both start_day and end_day (or neither)")
        return days_between(*parse_days([start]), *parse_days([end])), "params"
    events = context.get("triggering_asset_events")
    if events:
        return parse_days(days_from_asset_events(events)), "asset"
    return [latest_complete_day()], "manual"


def build(context: Mapping[str, Any]) -> dict[str, Any]:
    from access_warehouse.reporting.build import build_reports, parse_days

    days, trigger = days_to_build(context)
    as_of = (context.get("params") or {}).get("as_of")
    log.info("rebuilding %d days (%s): %s", len(days), trigger, ", ".join(map(str, days)))
    summary = build_reports(
        warehouse_dsn(),
        days,
        as_of=parse_days([as_of])[0] if as_of else None,
        trigger=trigger,
        dag_id=context["dag"].dag_id,
        run_id=context.get("run_id"),
    )
    return summary.as_xcom()


def evidence_pack(built: dict[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
    """With the ``evidence_pack`` param on, write the pack of ``review_start``..``review_end``."""
    from airflow.sdk.exceptions import AirflowSkipException

    from access_warehouse.reporting.build import ReportingError, parse_days
    from access_warehouse.reporting.evidence import default_pack_dir, write_evidence_pack

    params = context.get("params") or {}
    if not params.get("evidence_pack"):
        raise AirflowSkipException("evidence_pack is off for this run")
    if not (params.get("review_start") and params.get("review_end")):
        raise ReportingError("an evidence pack needs review_start and review_end")
    (start,), (end,) = parse_days([params["review_start"]]), parse_days([params["review_end"]])
    pack = write_evidence_pack(
        warehouse_dsn(),
        start,
        end,
        default_pack_dir(start, end),
        dag_id=context["dag"].dag_id,
        run_id=context.get("run_id"),
    )
    log.info(
        "evidence pack of %s..%s (after build %s) in %s, manifest sha256 %s",
        start,
        end,
        built["build_id"],
        pack.directory,
        pack.manifest_sha256,
    )
    return pack.as_xcom()
