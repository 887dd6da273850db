"""Writing what validation found: ``dq.validation_runs`` and ``dq.expectation_results``.

One validation run per suite that ran on the batch (the kind's event suite, its raw suite),
one row per expectation (``expectation`` is the suite file's id, ``details.type`` the GX
expectation), and the batch-level checks as rows of level ``batch`` of the event suite's run,
so that a SQL user can chart every check of every source over time.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from access_warehouse.quality.access_events import ValidationOutcome, suite_name
from access_warehouse.quality.batch_checks import BatchCheck
from access_warehouse.warehouse import execute, sql


def _status(outcomes: list[ValidationOutcome], checks: list[BatchCheck], failed_rows: int) -> str:
    if any(not check.success and check.severity == "error" for check in checks):
        return "failed"
    if failed_rows or any(not outcome.success for outcome in outcomes):
        return "quarantined"
    warned = any(outcome.warnings for outcome in outcomes) or any(
        not check.success for check in checks
    )
    return "warned" if warned else "passed"


def record_validation(
    conn: psycopg.Connection,
    *,
    batch_id: uuid.UUID,
    source_id: str,
    record_kind: str,
    events: ValidationOutcome | None,
    raw: ValidationOutcome | None,
    raw_suite: str | None,
    checks: list[BatchCheck],
    failed_rows: int,
    window: tuple[datetime, datetime] | None,
    dag_id: str | None,
    run_id: str | None,
    status: str | None,
) -> list[uuid.UUID]:
    """The batch's validation runs and their results, in the given transaction (the load's, or
    a transaction of its own for a window whose batch-level checks failed: ``status``
    ``failed``). Nothing is written for a batch that gave nothing to validate and no check."""
    runs: list[tuple[str, ValidationOutcome | None, list[BatchCheck]]] = [
        (suite_name(record_kind), events, checks)
    ]
    if raw is not None and raw_suite:
        runs.append((raw_suite, raw, []))
    present = [outcome for _, outcome, _ in runs if outcome is not None]
    overall = status or _status(present, checks, failed_rows)
    written = []
    for name, outcome, batch_checks in runs:
        if outcome is None and not batch_checks:
            continue
        validation_id = uuid.uuid4()
        outcome = outcome or ValidationOutcome()
        execute(
            conn,
            "quality/insert_validation_run.sql",
            {
                "validation_id": validation_id,
                "batch_id": batch_id,
                "source_id": source_id,
                "suite_name": name,
                "success": outcome.success
                and not any(not c.success and c.severity == "error" for c in batch_checks),
                "evaluated": outcome.evaluated,
                "failed_rows": failed_rows,
                "dag_id": dag_id,
                "run_id": run_id,
                "window_start": window[0] if window else None,
                "window_end": window[1] if window else None,
                "status": overall,
                "warnings": outcome.warnings
                + sum(1 for c in batch_checks if not c.success and c.severity != "error"),
            },
        )
        rows: list[dict[str, Any]] = [
            {
                "validation_id": validation_id,
                "expectation": item.id or f"{item.expectation}({item.column})",
                "column_name": item.column,
                "success": item.success,
                "unexpected_count": item.unexpected_count,
                "details": Jsonb({"type": item.expectation, **item.details}),
                "suite_name": name,
                "level": "row",
                "severity": item.severity,
                "evaluated": item.evaluated,
                "unexpected_percent": item.unexpected_percent,
                "observed_value": Jsonb(item.details.get("partial_unexpected_list", [])),
            }
            for item in outcome.expectations.values()
        ]
        rows += [
            {
                "validation_id": validation_id,
                "expectation": check.name,
                "column_name": None,
                "success": check.success,
                "unexpected_count": None,
                "details": Jsonb({"message": check.message}),
                "suite_name": name,
                "level": "batch",
                "severity": check.severity,
                "evaluated": None,
                "unexpected_percent": None,
                "observed_value": Jsonb(check.observed),
            }
            for check in batch_checks
        ]
        with conn.cursor() as cursor:
            cursor.executemany(sql("quality/insert_expectation_result.sql"), rows)
        written.append(validation_id)
    return written
