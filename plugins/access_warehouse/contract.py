"""The access-event contract: one row of ``audit.access_events`` (see README, "Contracts")."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime
from typing import Any

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


class NormalisationError(ValueError):
    """A source record that cannot become an access event; the reason goes to quarantine."""


def _json_default(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def content_hash(event: dict[str, Any]) -> str:
    """SHA-256 over the normalised columns, so an unchanged event is recognised on rerun."""
    canonical = json.dumps(
        [event.get(column) for column in NORMALISED_COLUMNS],
        sort_keys=True,
        separators=(",", ":"),
        default=_json_default,
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()
