"""Validation of normalised access events (and of raw records) with Great Expectations.

The suites are files in the repo (:mod:`access_warehouse.quality.suites`): the shared one for
every kind's events, a kind's additions, a kind's raw-record suite. Rows that break an
expectation of severity ``error`` are held back for quarantine with the ids of every
expectation they broke; ``warning`` expectations are only counted. The expectations a kind adds
in code (``Feed.expectations``) are errors too.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

from access_warehouse.contract import NORMALISED_COLUMNS
from access_warehouse.quality.gx import ephemeral_context, import_gx
from access_warehouse.quality.suites import (
    SHARED_SUITE,
    SuiteSpec,
    event_suite,
    gx_suite,
    raw_suite,
)
from access_warehouse.sources.base import ExpectationFactory

ROW_ID = "_row_no"
_FRAME_COLUMNS = [column for column in NORMALISED_COLUMNS if column != "properties"]


@dataclass
class ExpectationOutcome:
    expectation: str  # the GX type, e.g. expect_column_values_to_not_be_null
    column: str | None
    success: bool
    unexpected_count: int
    details: dict[str, Any] = field(default_factory=dict)
    id: str = ""  # the suite file's id, e.g. required.event_id
    severity: str = "error"
    evaluated: int = 0
    suite: str = ""

    @property
    def unexpected_percent(self) -> float | None:
        if not self.evaluated:
            return None
        return round(100.0 * self.unexpected_count / self.evaluated, 4)


@dataclass
class ValidationOutcome:
    """What one chunk's validation found; outcomes add up across the chunks of a batch."""

    evaluated: int = 0
    #: row number in the chunk -> reasons (error expectations only)
    failed_rows: dict[int, list[str]] = field(default_factory=dict)
    expectations: dict[tuple[str, str, str | None], ExpectationOutcome] = field(
        default_factory=dict
    )

    @property
    def success(self) -> bool:
        """True when no error expectation failed (warnings do not fail a validation)."""
        return all(o.success for o in self.expectations.values() if o.severity == "error")

    @property
    def warnings(self) -> int:
        return sum(1 for o in self.expectations.values() if o.severity != "error" and not o.success)

    def merge(self, other: ValidationOutcome) -> None:
        self.evaluated += other.evaluated
        for key, outcome in other.expectations.items():
            mine = self.expectations.get(key)
            if mine is None:
                self.expectations[key] = ExpectationOutcome(**vars(outcome))
            else:
                mine.success = mine.success and outcome.success
                mine.unexpected_count += outcome.unexpected_count
                mine.evaluated += outcome.evaluated
                seen = mine.details.setdefault("partial_unexpected_list", [])
                for value in outcome.details.get("partial_unexpected_list", []):
                    if len(seen) < 20 and value not in seen:
                        seen.append(value)


def suite_name(record_kind: str) -> str:
    """The name a kind's event validation is recorded under: the shared suite, the kind's
    file and its code expectations together (``access_events.entra_signins``)."""
    return f"{SHARED_SUITE}.{record_kind}"


def _code_expectations(gx: Any, extra: ExpectationFactory | None) -> list[Any]:
    built = []
    for expectation in extra(gx) if extra else ():
        column = getattr(expectation, "column", None)
        expectation.meta = {"id": f"kind.{column}", "severity": "error"}
        built.append(expectation)
    return built


class _GxValidator:
    """A GX context, a pandas asset and a suite, built once per batch, validating frames."""

    def __init__(self, build_suite: Callable[[], Any], asset_name: str) -> None:
        self._context = ephemeral_context()  # before the suite: GX builds it in a context
        asset = self._context.data_sources.add_pandas(asset_name).add_dataframe_asset("chunk")
        self._batch_definition = asset.add_batch_definition_whole_dataframe("whole_chunk")
        suite = build_suite()
        self.suite_name = suite.name
        self.suite = self._context.suites.add(suite)

    def validate_frame(self, frame: pd.DataFrame) -> ValidationOutcome:
        frame[ROW_ID] = range(len(frame))
        batch = self._batch_definition.get_batch(batch_parameters={"dataframe": frame})
        result = batch.validate(
            self.suite,
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
            meta = config.meta or {}
            details = item.result or {}
            name = config.type
            expectation_id = meta.get("id") or f"{name}({column})"
            severity = meta.get("severity", "error")
            if item.exception_info and item.exception_info.get("raised_exception"):
                raise RuntimeError(
                    f"expectation {expectation_id} ({name} on {column}) could not run: "
                    f"{item.exception_info.get('exception_message')}"
                )
            outcome.expectations[(self.suite_name, expectation_id, column)] = ExpectationOutcome(
                expectation=name,
                column=column,
                success=bool(item.success),
                unexpected_count=int(details.get("unexpected_count") or 0),
                details={
                    "partial_unexpected_list": [
                        _json_value(value) for value in details.get("partial_unexpected_list", [])
                    ][:20]
                }
                if details.get("partial_unexpected_list")
                else {},
                id=expectation_id,
                severity=severity,
                evaluated=int(details.get("element_count") or len(frame)),
                suite=self.suite_name,
            )
            if severity != "error":
                continue
            for entry in details.get("unexpected_index_list") or []:
                row_no = entry[ROW_ID] if isinstance(entry, dict) else entry
                reason = f"{expectation_id}: {name}({column})"
                if "reason" in meta:  # e.g. the window an event fell outside of
                    reason = f"{reason} {meta['reason']}"
                failed[int(row_no)].append(reason)
        outcome.failed_rows = dict(failed)
        return outcome


def _json_value(value: Any) -> Any:
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, float) and value != value:  # NaN: a missing value in the frame
        return None
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime | pd.Timestamp):
        return value.isoformat()
    return str(value)


class AccessEventValidator:
    """The batch's event suite (the repo's files for its kind, its window bound in), built
    once, then chunk after chunk."""

    def __init__(
        self,
        record_kind: str,
        extra: ExpectationFactory | None = None,
        window: tuple[datetime, datetime] | None = None,
    ) -> None:
        gx = import_gx()
        spec: SuiteSpec = event_suite(record_kind)
        self.name = suite_name(record_kind)

        def build() -> Any:
            suite = gx_suite(gx, spec, window, name=self.name)
            for expectation in _code_expectations(gx, extra):
                suite.add_expectation(expectation)
            return suite

        self._validator = _GxValidator(build, "access_events")

    @property
    def suite(self) -> Any:
        """The GX suite this validator runs (for Data Docs)."""
        return self._validator.suite

    def validate(self, events: list[dict[str, Any]]) -> ValidationOutcome:
        # properties are dicts: GX has no business with them, hashing them is slow, and a frame
        # holding them kept each chunk's records alive until a full garbage collection.
        frame = pd.DataFrame.from_records(events, columns=_FRAME_COLUMNS).assign(properties=True)
        return self._validator.validate_frame(frame)


class RawRecordValidator:
    """A kind's raw suite over its landed records (the fields its ``columns`` name)."""

    def __init__(self, spec: SuiteSpec, window: tuple[datetime, datetime] | None = None) -> None:
        self.name = spec.name
        self._columns = spec.columns
        self._validator = _GxValidator(lambda: gx_suite(import_gx(), spec, window), "raw_records")

    @classmethod
    def for_kind(
        cls, record_kind: str, window: tuple[datetime, datetime] | None = None
    ) -> RawRecordValidator | None:
        spec = raw_suite(record_kind)
        return cls(spec, window) if spec is not None else None

    @property
    def suite(self) -> Any:
        """The GX suite this validator runs (for Data Docs)."""
        return self._validator.suite

    def validate(self, records: list[dict[str, Any]]) -> ValidationOutcome:
        rows = [{column: _field(record, column) for column in self._columns} for record in records]
        frame = pd.DataFrame.from_records(rows, columns=list(self._columns))
        return self._validator.validate_frame(frame)


def _field(record: dict[str, Any], path: str) -> str | None:
    """A dotted field of a record as text (raw checks are about what the source wrote: a
    column of mixed JSON types would make GX's regex and set checks misjudge the numbers)."""
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=str)
