"""Validation of normalised access events with a Great Expectations suite.

Rows that break a row-level expectation are held back for quarantine with the names of the
expectations they broke; the rest go on to resolution. Every feed is validated by the shared
suite (the contract's required columns and enums) plus the expectations its source kind adds
(``Feed.expectations``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from access_warehouse.contract import ACTOR_TYPES, NORMALISED_COLUMNS, OUTCOMES, REQUIRED_COLUMNS
from access_warehouse.quality.gx import ephemeral_context, import_gx
from access_warehouse.sources.base import ExpectationFactory

SUITE_NAME = "access_events.required_columns"


def suite_name(record_kind: str, has_extra: bool) -> str:
    """The shared suite's name, or ``access_events.<record kind>`` when the kind adds to it."""
    return f"access_events.{record_kind}" if has_extra else SUITE_NAME


ROW_ID = "_row_no"
_FRAME_COLUMNS = [column for column in NORMALISED_COLUMNS if column != "properties"]


@dataclass
class ExpectationOutcome:
    expectation: str
    column: str | None
    success: bool
    unexpected_count: int
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class ValidationOutcome:
    """What one chunk's validation found; outcomes add up across the chunks of a batch."""

    evaluated: int = 0
    #: row number in the chunk -> reasons
    failed_rows: dict[int, list[str]] = field(default_factory=dict)
    expectations: dict[tuple[str, str | None], ExpectationOutcome] = field(default_factory=dict)

    @property
    def success(self) -> bool:
        return all(outcome.success for outcome in self.expectations.values())

    def merge(self, other: ValidationOutcome) -> None:
        self.evaluated += other.evaluated
        for key, outcome in other.expectations.items():
            mine = self.expectations.get(key)
            if mine is None:
                self.expectations[key] = ExpectationOutcome(**vars(outcome))
            else:
                mine.success = mine.success and outcome.success
                mine.unexpected_count += outcome.unexpected_count


def build_suite(gx: Any, name: str = SUITE_NAME, extra: ExpectationFactory | None = None) -> Any:
    """The shared suite (every contract column exists, required ones are set, enums hold) plus
    the ``extra`` expectations of a source kind."""
    expectations = gx.expectations
    suite = gx.ExpectationSuite(name=name)
    for column in NORMALISED_COLUMNS:
        suite.add_expectation(expectations.ExpectColumnToExist(column=column))
    for column in REQUIRED_COLUMNS:
        suite.add_expectation(expectations.ExpectColumnValuesToNotBeNull(column=column))
    suite.add_expectation(
        expectations.ExpectColumnValuesToBeInSet(column="outcome", value_set=sorted(OUTCOMES))
    )
    suite.add_expectation(
        expectations.ExpectColumnValuesToBeInSet(column="actor_type", value_set=sorted(ACTOR_TYPES))
    )
    for expectation in extra(gx) if extra else ():
        suite.add_expectation(expectation)
    return suite


class AccessEventValidator:
    """Builds the GX context and suite once, then validates chunk after chunk."""

    def __init__(self, name: str = SUITE_NAME, extra: ExpectationFactory | None = None) -> None:
        gx = import_gx()
        self.name = name
        self._context = ephemeral_context()
        asset = self._context.data_sources.add_pandas("access_events").add_dataframe_asset("chunk")
        self._batch_definition = asset.add_batch_definition_whole_dataframe("whole_chunk")
        self._suite = self._context.suites.add(build_suite(gx, name, extra))

    def validate(self, events: list[dict[str, Any]]) -> ValidationOutcome:
        # properties are dicts: GX has no business with them, hashing them is slow, and a frame
        # holding them kept each chunk's records alive until a full garbage collection.
        frame = pd.DataFrame.from_records(events, columns=_FRAME_COLUMNS).assign(properties=True)
        frame[ROW_ID] = range(len(frame))
        batch = self._batch_definition.get_batch(batch_parameters={"dataframe": frame})
        result = batch.validate(
            self._suite,
            result_format={
                "result_format": "COMPLETE",
                "unexpected_index_column_names": [ROW_ID],
                "return_unexpected_index_query": False,
            },
        )
        outcome = ValidationOutcome(evaluated=len(frame))
        failed: dict[int, list[str]] = defaultdict(list)
        for item in result.results:
            config = item.expectation_config
            column = config.kwargs.get("column")
            details = item.result or {}
            unexpected = details.get("unexpected_index_list") or []
            name = config.type
            outcome.expectations[(name, column)] = ExpectationOutcome(
                expectation=name,
                column=column,
                success=bool(item.success),
                unexpected_count=int(details.get("unexpected_count") or 0),
                details={
                    key: details[key]
                    for key in ("unexpected_percent", "partial_unexpected_list")
                    if key in details
                },
            )
            if item.exception_info and item.exception_info.get("raised_exception"):
                raise RuntimeError(
                    f"expectation {name} on {column} could not run: "
                    f"{item.exception_info.get('exception_message')}"
                )
            for entry in unexpected:
                row_no = entry[ROW_ID] if isinstance(entry, dict) else entry
                failed[int(row_no)].append(f"{name}({column})")
        outcome.failed_rows = dict(failed)
        return outcome
