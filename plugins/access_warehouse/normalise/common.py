"""Helpers shared by the normalisers: text cleaning and Graph timestamp parsing.

Pure Python (no pandas, no dateutil); these run on every field of every record.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from access_warehouse.contract import NormalisationError

__all__ = ["clean_text", "parse_utc"]

_EXCESS_FRACTION = re.compile(r"(\.\d{6})\d+")


def clean_text(value: Any) -> str | None:
    """A text column value: strings as given, empty/blank -> None, numbers as text."""
    if type(value) is str:
        return None if not value or value.isspace() else value
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def parse_utc(value: Any, field: str) -> datetime:
    """A Graph timestamp (the record's ``field``) as a timezone-aware UTC ``datetime``.

    Accepts ``2026-11-20T10:15:30Z``, 7+ fractional digits (truncated to microseconds), a
    lower-case ``z``, any offset (converted to UTC) and no offset (taken as UTC). Missing,
    non-string, date-only or unparsable values raise :class:`NormalisationError` naming
    ``field`` and quoting the bad value.
    """
    if value is None or value == "":
        raise NormalisationError(f"missing {field}")
    if type(value) is not str:
        raise NormalisationError(f"bad {field} {value!r}: not a string")
    if "T" not in value and " " not in value:
        raise NormalisationError(f"bad {field} {value!r}: no time of day")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        # Older parsers reject more than 6 fractional digits; also accept a lower-case 'z'.
        fixed = _EXCESS_FRACTION.sub(r"\1", value.strip())
        if fixed[-1:] == "z":
            fixed = fixed[:-1] + "Z"
        try:
            parsed = datetime.fromisoformat(fixed)
        except ValueError:
            raise NormalisationError(f"bad {field} {value!r}: not ISO 8601") from None
    tz = parsed.tzinfo
    if tz is None:
        return parsed.replace(tzinfo=UTC)
    if tz is not UTC:
        return parsed.astimezone(UTC)
    return parsed


RecordNormaliser = Callable[[dict, str], Any]


def record_normaliser(normalise: RecordNormaliser) -> RecordNormaliser:
    """Wrap a per-record normaliser with the checks every source shares.

    ``source_id`` must be a non-empty string (a caller error, raised as ``ValueError``). A record
    of an unexpected shape never escapes as ``TypeError``/``AttributeError``/...: it becomes a
    ``NormalisationError`` so that it is quarantined, not lost.
    """

    @functools.wraps(normalise)
    def checked(record: dict, source_id: str) -> Any:
        if not source_id or type(source_id) is not str:
            raise ValueError(f"source_id must be a non-empty string, got {source_id!r}")
        try:
            return normalise(record, source_id)
        except NormalisationError:
            raise
        except (TypeError, AttributeError, ValueError, KeyError) as exc:
            raise NormalisationError(
                f"unexpected record shape: {type(exc).__name__}: {exc}"
            ) from exc

    return checked


def normalise_batch(
    normalise: RecordNormaliser, records: Iterable[dict], source_id: str
) -> tuple[list[dict], list[tuple[dict, str]]]:
    """``(events, rejected)`` for a chunk: the events of every record that normalises (a record
    may give one event or a list of them), in input order, and ``(record, reason)`` for every
    record that does not. Every record ends up in exactly one of the two."""
    events: list[dict] = []
    rejected: list[tuple[dict, str]] = []
    for record in records:
        try:
            result = normalise(record, source_id)
        except NormalisationError as exc:
            rejected.append((record, str(exc)))
            continue
        if isinstance(result, list):
            events.extend(result)
        else:
            events.append(result)
    return events, rejected


def record_key(record: Any, time_field: str) -> tuple[str, datetime]:
    """The source's own id and UTC time of a record, the two things every event needs.

    Raises ``NormalisationError`` for a record that is not a JSON object, has no usable id, or
    has no parsable ``time_field``.
    """
    if type(record) is not dict:
        raise NormalisationError(f"record is not a JSON object but {type(record).__name__}")
    record_id = record.get("id")
    if type(record_id) is not str:
        record_id = clean_text(record_id)
    if not record_id or record_id.isspace():
        raise NormalisationError("missing id")
    return record_id, parse_utc(record.get(time_field), time_field)
