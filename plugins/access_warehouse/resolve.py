"""Deterministic ids for people, config items and sources (the same input gives the same UUID).

The per-row work here only derives candidate ids and normalised aliases; matching them against
known aliases and the editable mapping table is set-based SQL (``include/sql/load/resolve_*``).
"""

from __future__ import annotations

import functools
import uuid
from typing import Any

from access_warehouse.contract import ID_NAMESPACE

#: What kind of identifier an actor's external id is, by actor type.
ACTOR_ID_ALIAS_KIND = {
    "user": "object_id",
    "service_principal": "service_principal_id",
    "managed_identity": "service_principal_id",
    "database_role": "login",
}


def normalise_alias(value: Any) -> str | None:
    """``lower(btrim())``, the one normal form of every alias; empty becomes None."""
    if value is None:
        return None
    text = str(value).strip().lower()
    return text or None


@functools.lru_cache(maxsize=65_536)  # people and resources recur across a batch
def _uuid5(key: str) -> uuid.UUID:
    return uuid.uuid5(ID_NAMESPACE, key)


def source_uuid(source_id: str) -> uuid.UUID:
    """The UUID of a source (``audit.access_logs.scraper_id``)."""
    return uuid.uuid5(ID_NAMESPACE, f"source:{source_id}")


def actor_identity(event: dict[str, Any]) -> tuple[str | None, str | None, str | None, uuid.UUID]:
    """(id alias, its kind, principal-name alias, candidate person id) of an event's actor.

    The candidate id is what a new person gets when no alias or mapping matches; an actor with no
    identifier at all is the source's one "unknown actor", counted like any other.
    """
    alias_id = normalise_alias(event.get("actor_external_id"))
    alias_name = normalise_alias(event.get("actor_principal_name"))
    alias_kind = ACTOR_ID_ALIAS_KIND.get(event.get("actor_type") or "", "external_id")
    key = alias_id or alias_name or f"unknown:{event.get('source_id')}"
    return alias_id, alias_kind if alias_id else None, alias_name, _uuid5(key)


def config_item_id(target_type: str | None, external_id: Any, name: Any) -> uuid.UUID | None:
    """The config item of a target: keyed by type and normalised external id (or name)."""
    key = normalise_alias(external_id) or normalise_alias(name)
    if not target_type or key is None:
        return None
    return _uuid5(f"{target_type}:{key}")


#: Target types whose external id is an object path ``server/database/schema/object``
#: (:func:`access_warehouse.sources.database.object_path`): each gets its ancestors as config
#: items, typed by depth, so "who read billing.invoices on db-prod" is a walk up the tree.
PATH_TARGET_TYPES: frozenset[str] = frozenset(
    {
        "database_server",
        "database",
        "schema",
        "table",
        "view",
        "materialized_view",
        "foreign_table",
        "sequence",
        "function",
        "procedure",
        "index",
        "type",
        "object",
    }
)
#: The type of an object path's ancestors by depth (1: the server).
PATH_LEVEL_TYPES: tuple[str, ...] = ("database_server", "database", "schema")

#: (id, type, external_id, name, parent_id) of one config item.
ConfigItemRow = tuple[uuid.UUID, str, str, str, uuid.UUID | None]


@functools.lru_cache(maxsize=65_536)
def config_item_chain(
    target_type: str | None, external_id: str | None, name: str | None
) -> tuple[ConfigItemRow, ...]:
    """The config items an object-path target implies: its ancestors and itself, each with its
    parent's id, root first. Empty for other targets (they have no parents)."""
    if target_type not in PATH_TARGET_TYPES or not external_id:
        return ()
    segments = normalise_alias(external_id).split("/")
    shown = external_id.strip().split("/")
    rows: list[ConfigItemRow] = []
    parent: uuid.UUID | None = None
    for depth in range(1, len(segments) + 1):
        path = "/".join(segments[:depth])
        if depth == len(segments):
            kind, label = target_type, name or _unescape(shown[-1])
        else:
            kind = PATH_LEVEL_TYPES[min(depth, len(PATH_LEVEL_TYPES)) - 1]
            label = _unescape(shown[depth - 1])
        item = _uuid5(f"{kind}:{path}")
        rows.append((item, kind, path, label, parent))
        parent = item
    return tuple(rows)


def _unescape(segment: str) -> str:
    return segment.replace("%2F", "/").replace("%2f", "/").replace("%25", "%")
