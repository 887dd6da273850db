"""Writing what validation found: ``dq.validation_runs`` and ``dq.expectation_results``."""

from __future__ import annotations

import uuid

import psycopg
from psycopg.types.json import Jsonb

from access_warehouse.quality.access_events import ValidationOutcome
from access_warehouse.warehouse import execute, sql


def record_validation(
    conn: psycopg.Connection,
    *,
    batch_id: uuid.UUID,
    source_id: str,
    suite_name: str,
    outcome: ValidationOutcome | None,
    failed_rows: int,
) -> uuid.UUID | None:
    """One validation run of a batch and one row per expectation, in the load's transaction.

    ``outcome`` is None when nothing reached validation (an empty window, or every record
    rejected before it); nothing is written then.
    """
    if outcome is None:
        return None
    validation_id = uuid.uuid4()
    execute(
        conn,
        "quality/insert_validation_run.sql",
        {
            "validation_id": validation_id,
            "batch_id": batch_id,
            "source_id": source_id,
            "suite_name": suite_name,
            "success": outcome.success,
            "evaluated": outcome.evaluated,
            "failed_rows": failed_rows,
        },
    )
    with conn.cursor() as cursor:
        cursor.executemany(
            sql("quality/insert_expectation_result.sql"),
            [
                {
                    "validation_id": validation_id,
                    "expectation": item.expectation,
                    "column_name": item.column,
                    "success": item.success,
                    "unexpected_count": item.unexpected_count,
                    "details": Jsonb(item.details),
                }
                for item in outcome.expectations.values()
            ],
        )
    return validation_id
