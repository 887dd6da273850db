"""What every normaliser shares: the guard each one runs under, text cleaning, timestamps.

Pure Python (no pandas, no dateutil); these run on every field of every record.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from access_warehouse.contract import NormalisationError, check_event
from access_warehouse.sources.base import Normaliser

__all__ = ["clean_text", "normalise_record", "parse_utc", "record_key"]

#: The key of a record that stands for a file's line that was not a JSON object: the shared
#: guard quarantines it with its file and line number (``sources/files.py`` lands it).
FILE_ERROR = "_file_error"

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


def normalise_record(normalise: Normaliser, record: Any, source_id: str) -> list[dict[str, Any]]:
    """Run one kind's normaliser on one raw record under the checks every source shares.

    Returns the record's events (a normaliser may give one or a list). Raises
    ``NormalisationError`` (the record is quarantined with its message) for a record that is not
    a JSON object, for any error the normaliser raises on it (a record of an unexpected shape
    must never stop the load), and for output that breaks the contract (see
    :func:`access_warehouse.contract.check_event`). An empty ``source_id`` is the caller's
    error: ``ValueError``.
    """
    if not source_id or type(source_id) is not str:
        raise ValueError(f"source_id must be a non-empty string, got {source_id!r}")
    if type(record) is not dict:
        raise NormalisationError(f"record is not a JSON object but {type(record).__name__}")
    if FILE_ERROR in record:  # a file source's line that was no JSON object (files.py)
        raise NormalisationError(
            f"{record.get('file')} line {record.get('line')}: {record[FILE_ERROR]}"
        )
    try:
        result = normalise(record, source_id)
    except (NormalisationError, MemoryError):
        raise  # running out of memory is the process's fault, not the record's
    except Exception as exc:  # RecursionError, OverflowError, ... included
        raise NormalisationError(
            f"unexpected record shape: {type(exc).__name__}: {str(exc)[:300]}"
        ) from exc
    events = result if type(result) is list else [result]
    if not events:
        raise NormalisationError("the normaliser gave no event for this record")
    for event in events:
        check_event(event, source_id)
        # UTC whatever zone the normaliser used: the content hash covers the time's text, and
        # the verifier recomputes it from the stored instant (README "Tamper evidence")
        if event["occurred_at"].tzinfo is not UTC:
            event["occurred_at"] = event["occurred_at"].astimezone(UTC)
    return events


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
