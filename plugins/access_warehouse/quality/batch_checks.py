"""Checks over a whole batch: they fail the window (nothing of it loads) and say which check
and by how much, or, named in the policy's ``warn_only``, only warn. See
:class:`access_warehouse.quality.policy.QualityPolicy` for what each one catches."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from access_warehouse.quality.policy import QualityPolicy
from access_warehouse.warehouse import execute


@dataclass(frozen=True)
class BatchCheck:
    """The result of one batch-level check."""

    name: str
    success: bool
    severity: str  # error: fails the window; warning: recorded only
    observed: dict[str, Any]
    message: str


class BatchChecksFailed(RuntimeError):
    """A batch-level check failed: nothing of the window loaded."""

    def __init__(
        self, source_id: str, failed: list[BatchCheck], record: dict[str, Any] | None = None
    ) -> None:
        self.failed = failed
        #: what ``record_validation`` writes for the failed window
        self.record = record or {}
        super().__init__(
            f"{source_id}: batch-level check failed, nothing of this window loaded: "
            + "; ".join(f"{check.name}: {check.message}" for check in failed)
            + " (thresholds: the source's `quality:` block in sources.yaml)"
        )


def run_batch_checks(
    conn: psycopg.Connection,
    policy: QualityPolicy,
    *,
    source_id: str,
    window: tuple[datetime, datetime] | None,
    extracted: int,
    quarantined: int,
    newest_event: datetime | None,
) -> list[BatchCheck]:
    """Every check that applies to the batch, passed or not."""
    checks: list[BatchCheck] = []

    def add(name: str, success: bool, observed: dict[str, Any], message: str) -> None:
        severity = "warning" if name in policy.warn_only else "error"
        checks.append(BatchCheck(name, success, severity, observed, message))

    if policy.max_quarantine_share is not None and extracted >= policy.min_records_for_share:
        share = quarantined / extracted
        add(
            "quarantine_share",
            share <= policy.max_quarantine_share,
            {"quarantined": quarantined, "extracted": extracted, "share": round(share, 4)},
            f"{quarantined} of {extracted} records quarantined ({share:.1%}), more than the "
            f"{policy.max_quarantine_share:.1%} allowed",
        )
    if window is None:
        return checks
    start, end = window
    hours = (end - start).total_seconds() / 3600.0
    history = execute(
        conn,
        "quality/trailing_windows.sql",
        {"source_id": source_id, "window_start": start, "history": policy.volume_history},
    ).fetchall()
    rates = [count / span for count, span in history if span and span > 0]
    if len(rates) >= policy.min_history and hours > 0:
        recent = rates[: policy.min_history]
        if policy.expect_events and all(rate > 0 for rate in recent):
            add(
                "no_events",
                extracted > 0,
                {"extracted": extracted, "previous_windows_with_records": len(recent)},
                f"no record at all in this window, where each of the last {len(recent)} "
                "windows had some (a stalled feed, a lost permission, a filter gone wrong?)",
            )
        median = statistics.median(rates)
        rate = extracted / hours
        if median > 0 and extracted > 0:
            ratio = rate / median
            low, high = policy.min_volume_ratio, policy.max_volume_ratio
            ok = (low is None or ratio >= low) and (high is None or ratio <= high)
            add(
                "volume",
                ok,
                {
                    "records_per_hour": round(rate, 3),
                    "trailing_median_per_hour": round(median, 3),
                    "ratio": round(ratio, 4),
                    "windows_compared": len(rates),
                },
                f"{rate:.1f} records per hour is {ratio:.2f} times the median {median:.1f} of "
                f"the last {len(rates)} windows (allowed {low} to {high} times)",
            )
    if policy.max_event_age_minutes is not None and newest_event is not None:
        age_minutes = (end - newest_event).total_seconds() / 60.0
        add(
            "freshness",
            age_minutes <= policy.max_event_age_minutes,
            {"newest_event": newest_event.isoformat(), "age_minutes": round(age_minutes, 1)},
            f"the newest event is {age_minutes:.0f} minutes older than the window's end "
            f"(allowed {policy.max_event_age_minutes})",
        )
    return checks
