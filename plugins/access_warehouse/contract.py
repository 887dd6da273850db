"""The access-event contract: one row of ``audit.access_events`` (see README, "Contracts")."""

from __future__ import annotations

import hashlib
import uuid
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


class NormalisationError(ValueError):
    """A source record that cannot become an access event; the reason goes to quarantine."""


def content_hash(event: dict[str, Any]) -> str:
    """SHA-256 over the normalised columns, so an unchanged event is recognised on rerun.

    orjson (sorted keys, datetimes as RFC 3339) because this runs on every event of every load.
    """
    canonical = orjson.dumps(
        [event.get(column) for column in NORMALISED_COLUMNS], option=orjson.OPT_SORT_KEYS
    )
    return hashlib.sha256(canonical).hexdigest()
