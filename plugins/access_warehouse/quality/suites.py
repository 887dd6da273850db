"""The validation suites kept in the repo (``include/quality/suites/``), reviewed like code.

``access_events.json`` validates every normalised event of every kind; a kind may add a suite
``<record_kind>.json`` whose expectations join the shared ones (the same ``id`` replaces a
shared expectation, e.g. SQLSTATE error codes for the Postgres kinds), and a raw suite
``raw/<record_kind>.json`` over the kind's raw records (``columns``: the top-level or dotted
fields it looks at). Each expectation is a GX Core expectation written as
``{"id", "type", "kwargs", "severity", "comment"}``: ``type`` the GX snake-case name
(``expect_column_values_to_not_be_null``), ``severity`` ``error`` (default: a failing row is
quarantined with the expectation's id) or ``warning`` (counted in ``dq.expectation_results``,
the row loads: vendor enums that grow, such as ``unknownFutureValue`` and later members).
``$window_start`` / ``$window_end`` in kwargs are the batch's extraction window; an
expectation naming them is left out for a batch without one (bookmark and file feeds).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from access_warehouse.paths import PROJECT_ROOT

SUITES_DIR = PROJECT_ROOT / "include" / "quality" / "suites"
SHARED_SUITE = "access_events"
SEVERITIES = frozenset({"error", "warning"})
_PLACEHOLDERS = ("$window_start", "$window_end")


class SuiteError(ValueError):
    """A suite file is malformed; says which file and which expectation."""


@dataclass(frozen=True)
class ExpectationSpec:
    """One expectation of a suite file."""

    id: str
    type: str
    kwargs: dict[str, Any]
    severity: str = "error"
    comment: str = ""

    @property
    def column(self) -> str | None:
        return self.kwargs.get("column")

    def needs_window(self) -> bool:
        return any(value in _PLACEHOLDERS for value in self.kwargs.values())

    def bound(self, window: tuple[datetime, datetime] | None) -> dict[str, Any]:
        """kwargs with the window's bounds in place of its placeholders."""
        if not self.needs_window():
            return dict(self.kwargs)
        assert window is not None
        values = {"$window_start": window[0], "$window_end": window[1]}
        return {key: values.get(value, value) for key, value in self.kwargs.items()}


@dataclass(frozen=True)
class SuiteSpec:
    """A suite file: its name, the files it came from and its expectations in order."""

    name: str
    files: tuple[str, ...]
    expectations: tuple[ExpectationSpec, ...]
    #: raw suites: the record fields put in the frame (dotted paths reach into objects)
    columns: tuple[str, ...] = field(default_factory=tuple)

    def for_window(self, window: tuple[datetime, datetime] | None) -> tuple[ExpectationSpec, ...]:
        return tuple(spec for spec in self.expectations if window or not spec.needs_window())


def _gx_class_name(snake: str) -> str:
    return "".join(part.capitalize() for part in snake.split("_"))


def _read(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise SuiteError(f"{path}: not JSON: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("expectations"), list):
        raise SuiteError(f"{path}: a suite is an object with a list 'expectations'")
    return document


def _specs(path: Path, document: dict[str, Any]) -> list[ExpectationSpec]:
    from access_warehouse.quality.gx import import_gx

    expectations = import_gx().expectations
    specs = []
    for number, item in enumerate(document["expectations"], start=1):
        where = f"{path.name} expectation {number}"
        if not isinstance(item, dict) or not {"id", "type", "kwargs"} <= set(item):
            raise SuiteError(f"{where}: needs 'id', 'type' and 'kwargs'")
        severity = item.get("severity", "error")
        if severity not in SEVERITIES:
            raise SuiteError(f"{where} ({item['id']}): severity {severity!r} is not error/warning")
        if not hasattr(expectations, _gx_class_name(item["type"])):
            raise SuiteError(f"{where} ({item['id']}): GX has no expectation {item['type']!r}")
        specs.append(
            ExpectationSpec(
                id=str(item["id"]),
                type=str(item["type"]),
                kwargs=dict(item["kwargs"]),
                severity=severity,
                comment=str(item.get("comment", "")),
            )
        )
    ids = [spec.id for spec in specs]
    if len(ids) != len(set(ids)):
        raise SuiteError(f"{path.name}: expectation ids repeat: {sorted(ids)}")
    return specs


@cache
def event_suite(record_kind: str, folder: Path = SUITES_DIR) -> SuiteSpec:
    """The shared suite with ``<record_kind>.json``'s expectations added (same id: replaced)."""
    shared_path = folder / f"{SHARED_SUITE}.json"
    specs = {spec.id: spec for spec in _specs(shared_path, _read(shared_path))}
    files = [shared_path.name]
    kind_path = folder / f"{record_kind}.json"
    name = SHARED_SUITE
    if kind_path.exists():
        for spec in _specs(kind_path, _read(kind_path)):
            specs[spec.id] = spec
        files.append(kind_path.name)
        name = f"{SHARED_SUITE}.{record_kind}"
    return SuiteSpec(name=name, files=tuple(files), expectations=tuple(specs.values()))


@cache
def raw_suite(record_kind: str, folder: Path = SUITES_DIR) -> SuiteSpec | None:
    """The kind's raw suite ``raw/<record_kind>.json``, or None."""
    path = folder / "raw" / f"{record_kind}.json"
    if not path.exists():
        return None
    document = _read(path)
    columns = document.get("columns")
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise SuiteError(f"{path}: a raw suite lists the record fields it reads in 'columns'")
    specs = _specs(path, document)
    for spec in specs:
        if spec.column is not None and spec.column not in columns:
            raise SuiteError(f"{path.name} ({spec.id}): column {spec.column!r} not in 'columns'")
    return SuiteSpec(
        name=f"raw.{record_kind}",
        files=(f"raw/{path.name}",),
        expectations=tuple(specs),
        columns=tuple(columns),
    )


def gx_suite(
    gx: Any, suite: SuiteSpec, window: tuple[datetime, datetime] | None, name: str | None = None
) -> Any:
    """The GX ``ExpectationSuite`` of ``suite`` for a batch with ``window`` (GX needs an active
    context to build it); each expectation carries its id and severity in ``meta``."""
    built = gx.ExpectationSuite(name=name or suite.name)
    for spec in suite.for_window(window):
        expectation_class = getattr(gx.expectations, _gx_class_name(spec.type))
        meta = {"id": spec.id, "severity": spec.severity}
        if spec.needs_window() and window is not None:
            meta["reason"] = f"outside [{window[0].isoformat()}, {window[1].isoformat()})"
        built.add_expectation(expectation_class(**spec.bound(window), meta=meta))
    return built
