"""The access-event contract: one row of ``audit.access_events`` (see README, "Contracts")."""

from __future__ import annotations

import hashlib
import socket
import uuid
from datetime import datetime
from typing import Any

import orjson

#: Columns a normaliser fills, in ``audit.access_events`` order.
NORMALISED_COLUMNS: tuple[str, ...] = (
    "source_id",
    "event_id",
    "occurred_at",
    "category",
    "action",
    "outcome",
    "actor_external_id",
    "actor_name",
    "actor_principal_name",
    "actor_type",
    "target_external_id",
    "target_name",
    "target_type",
    "mfa",
    "source_ip",
    "country",
    "city",
    "user_agent",
    "client_app",
    "auth_method",
    "error_code",
    "failure_reason",
    "properties",
)

#: Columns the load step adds: resolved ids and lineage.
RESOLVED_COLUMNS: tuple[str, ...] = ("external_user_id", "config_id")
LINEAGE_COLUMNS: tuple[str, ...] = ("batch_id", "ingested_at", "content_hash")

OUTCOMES: frozenset[str] = frozenset({"success", "failure", "unknown"})
ACTOR_TYPES: frozenset[str] = frozenset(
    {"user", "service_principal", "managed_identity", "database_role", "unknown"}
)

#: Namespace of every deterministic id in the warehouse (users, config items, sources). Changing
#: it would re-key the whole warehouse: never do.
ID_NAMESPACE = uuid.UUID("9b7e3c52-5d0f-4f8e-9a51-2f0c6d1b7a34")

#: Columns that must never be null; rows that break this go to quarantine.
REQUIRED_COLUMNS: tuple[str, ...] = (
    "source_id",
    "event_id",
    "occurred_at",
    "category",
    "action",
    "outcome",
    "actor_type",
)


#: Columns that key a row or an index entry (a btree entry holds about 2.7 kB): longer values
#: are quarantined rather than let a load fail.
KEY_COLUMNS: tuple[str, ...] = (
    "event_id",
    "actor_external_id",
    "actor_principal_name",
    "target_external_id",
    "target_name",
)
KEY_MAX_CHARS = 512
_KEY_COLUMN_SET = frozenset(KEY_COLUMNS)

_NORMALISED_KEYS = frozenset(NORMALISED_COLUMNS)
_TEXT_COLUMNS = tuple(
    column
    for column in NORMALISED_COLUMNS
    if column not in ("source_id", "occurred_at", "mfa", "properties")
)


def _is_ip_address(value: str) -> bool:
    """An IPv4 or IPv6 address as Postgres ``inet`` reads it: ``inet_pton``, which is C (the
    ``ipaddress`` module cost 20 µs an event) and, like Postgres, refuses IPv6 zone ids and
    IPv4 parts with leading zeros."""
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in value else socket.AF_INET, value)
    except (OSError, ValueError):  # ValueError: an embedded NUL, refused before this anyway
        return False
    return True


class NormalisationError(ValueError):
    """A source record that cannot become an access event; the reason goes to quarantine."""


def check_event(event: Any, source_id: str) -> None:
    """Raise ``NormalisationError`` unless ``event`` has exactly the contract's columns with
    values Postgres can store: text or None (no NUL; keys at most KEY_MAX_CHARS), a
    timezone-aware ``occurred_at``, ``mfa`` true/false/None, ``properties`` a dict, this
    ``source_id``, and a ``source_ip`` that is an IPv4 or IPv6 address."""
    if type(event) is not dict or event.keys() != _NORMALISED_KEYS:
        keys = set(event) if isinstance(event, dict) else set()
        raise NormalisationError(
            "the normaliser broke the contract: missing columns "
            f"{sorted(_NORMALISED_KEYS - keys)}, unknown columns {sorted(keys - _NORMALISED_KEYS)}"
        )
    if event["source_id"] != source_id:
        raise NormalisationError(f"the normaliser set source_id {event['source_id']!r}")
    occurred_at = event["occurred_at"]
    if not isinstance(occurred_at, datetime) or occurred_at.utcoffset() is None:
        raise NormalisationError(f"occurred_at {occurred_at!r} is not a timezone-aware datetime")
    if type(event["mfa"]) not in (bool, type(None)):
        raise NormalisationError(f"mfa {event['mfa']!r} is not true, false or null")
    if type(event["properties"]) is not dict:
        raise NormalisationError("properties is not a JSON object")
    for column in _TEXT_COLUMNS:
        value = event[column]
        if value is None:
            continue
        if type(value) is not str:
            raise NormalisationError(f"{column} is {type(value).__name__}, not text")
        if "\x00" in value:
            raise NormalisationError(f"{column} contains a NUL character")
        if len(value) > KEY_MAX_CHARS and column in _KEY_COLUMN_SET:
            raise NormalisationError(
                f"{column} is {len(value)} characters long; at most {KEY_MAX_CHARS} are stored"
            )
    source_ip = event["source_ip"]
    if source_ip is not None and not _is_ip_address(source_ip):
        raise NormalisationError(f"source_ip {source_ip[:100]!r} is not an IPv4 or IPv6 address")


def content_hash(event: dict[str, Any], properties_json: bytes | None = None) -> str:
    """SHA-256 over the normalised columns, so an unchanged event is recognised on rerun.

    orjson (sorted keys, datetimes as RFC 3339) because this runs on every event of every load.
    ``properties_json``, the event's properties already dumped with sorted keys, is spliced in
    rather than dumped a second time: the bytes hashed are the same either way.
    """
    if properties_json is None:
        canonical = orjson.dumps(
            [event.get(column) for column in NORMALISED_COLUMNS], option=orjson.OPT_SORT_KEYS
        )
    else:
        head = orjson.dumps(
            [event.get(column) for column in NORMALISED_COLUMNS[:-1]], option=orjson.OPT_SORT_KEYS
        )
        canonical = b"".join((head[:-1], b",", properties_json, b"]"))
    return hashlib.sha256(canonical).hexdigest()
