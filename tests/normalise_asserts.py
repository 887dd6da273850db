"""What the normaliser unit tests of every feed check alike: fixture records, the contract's shape
of an event, inputs left untouched, the shared guard's split and its ``source_id`` check."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from access_warehouse.contract import (
    ACTOR_TYPES,
    NORMALISED_COLUMNS,
    OUTCOMES,
    REQUIRED_COLUMNS,
    NormalisationError,
)
from access_warehouse.normalise import normalise_record

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def fixture_paths(record_kind: str) -> list[Path]:
    """The raw-record fixtures of a record kind (``<case>.json``, not ``<case>.expected.json``)."""
    return sorted(
        p for p in (FIXTURES / record_kind).glob("*.json") if not p.name.endswith(".expected.json")
    )


def load_fixture(record_kind: str, name: str) -> dict:
    """A fresh copy of the raw record ``fixtures/<record_kind>/<name>.json``."""
    return json.loads((FIXTURES / record_kind / f"{name}.json").read_text())


def valid_fixtures(record_kind: str) -> list[str]:
    """The names of a record kind's fixtures, but for the ``invalid_*`` ones."""
    return [p.stem for p in fixture_paths(record_kind) if not p.stem.startswith("invalid")]


def split(
    normalise: Callable[[dict, str], Any], records: Iterable[Any], source_id: str
) -> tuple[list[dict], list[tuple[Any, str]]]:
    """``(events, rejected)`` of records run through the shared guard, as the load does."""
    events: list[dict] = []
    rejected: list[tuple[Any, str]] = []
    for record in records:
        try:
            events.extend(normalise_record(normalise, record, source_id))
        except NormalisationError as exc:
            rejected.append((record, str(exc)))
    return events, rejected


def assert_contract_shape(event: dict, raw_keys: Iterable[str]) -> None:
    """Exactly the contract's columns, the required ones filled, known enum values, a UTC time,
    and JSON-serialisable properties that repeat none of ``raw_keys`` (fields put in columns)."""
    assert tuple(event) == NORMALISED_COLUMNS
    for column in REQUIRED_COLUMNS:
        assert event[column] is not None, column
    assert event["outcome"] in OUTCOMES
    assert event["actor_type"] in ACTOR_TYPES
    assert event["occurred_at"].tzinfo is not None
    assert event["occurred_at"].utcoffset() == timedelta(0)
    json.dumps(event["properties"])  # must stay JSON-serialisable
    for key in raw_keys:
        assert key not in event["properties"]


def assert_input_untouched(
    normalise: Callable[[dict, str], Any], record: dict, source_id: str
) -> None:
    before = copy.deepcopy(record)
    normalise(record, source_id)
    assert record == before


def assert_rejected_in_order(
    events: Sequence[dict],
    rejected: Sequence[tuple[Any, str]],
    missing_id: dict,
    bad_time: dict,
) -> None:
    """A batch's split: the two invalid fixtures rejected in input order, each with its reason
    (the bad time quoted), and every event in the contract's columns."""
    assert len(rejected) == 2
    assert rejected[0][0] is missing_id
    assert rejected[0][1] == "missing id"
    assert rejected[1][0] is bad_time
    assert "20/11/2026 10:15" in rejected[1][1]
    assert all(tuple(e) == NORMALISED_COLUMNS for e in events)


def assert_source_id_required(normalise: Callable[[dict, str], Any], record: dict) -> None:
    """An empty ``source_id`` is the caller's error, raised by the guard, not a record to
    reject."""
    for source_id in ("", None):
        with pytest.raises(ValueError, match="source_id") as raised:
            normalise_record(normalise, record, source_id)  # type: ignore[arg-type]
        assert not isinstance(raised.value, NormalisationError)
