"""Source kind ``ecs_jsonl``: Elastic Common Schema audit logs as JSON lines files.

Files are found, read, checked and landed by the shared file layer
(:mod:`access_warehouse.sources.files`); this module maps one ECS document to the access-event
contract. ``doc.md`` is the kind's documentation (mapping table, natural key, settings).

Only pydantic, orjson and the standard library at import time: DAG files import the kinds.
"""

from __future__ import annotations

import hashlib
import socket
from functools import partial
from pathlib import Path
from typing import Any, Literal

import orjson
from pydantic import field_validator

from access_warehouse.contract import NORMALISED_COLUMNS, NormalisationError
from access_warehouse.normalise import clean_text, parse_utc
from access_warehouse.sources.base import Exclusion, Normaliser, SourceKind
from access_warehouse.sources.files import FileSource
from access_warehouse.sources.registry import register_kind

KIND = "ecs_jsonl"
_DOC = Path(__file__).with_name("doc.md").read_text()

#: ECS ``event.category`` allowed values (ECS reference, "ECS categorization field:
#: event.category").
ECS_CATEGORIES: frozenset[str] = frozenset(
    {
        "api",
        "authentication",
        "configuration",
        "database",
        "driver",
        "email",
        "file",
        "host",
        "iam",
        "intrusion_detection",
        "library",
        "malware",
        "network",
        "package",
        "process",
        "registry",
        "session",
        "threat",
        "vulnerability",
        "web",
    }
)
#: Short names accepted in ``exclude_categories``.
CATEGORY_ALIASES = {"auth": "authentication"}
OUTCOMES = frozenset({"success", "failure", "unknown"})
#: The prefix of an ``event_id`` computed for a document without ``event.id``.
HASH_PREFIX = "sha256:"

#: Target fields, first present wins: (ECS field, target type).
TARGET_FIELDS: tuple[tuple[str, str], ...] = (
    ("url.full", "url"),
    ("url.original", "url"),
    ("file.path", "file"),
    ("service.name", "application"),
)


class EcsJsonlSource(FileSource):
    """ECS documents, one per line, in the files ``path`` matches."""

    kind: Literal["ecs_jsonl"]
    #: ECS categories whose events are not loaded (counted per rule ``category:<name>``);
    #: compared case-insensitively, ``auth`` stands for ``authentication``.
    exclude_categories: tuple[str, ...] = ()

    @field_validator("exclude_categories")
    @classmethod
    def _known_categories(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        out = []
        for value in values:
            name = value.strip().lower()
            name = CATEGORY_ALIASES.get(name, name)
            if name not in ECS_CATEGORIES:
                raise ValueError(
                    f"{value!r} is not an ECS event.category; use one of "
                    f"{', '.join(sorted(ECS_CATEGORIES))}"
                )
            out.append(name)
        return tuple(dict.fromkeys(out))

    def normaliser(self) -> Normaliser:
        return partial(normalise_ecs)

    def kind_doc(self) -> str:
        excluded = ", ".join(self.exclude_categories) or "none"
        return f"Excluded categories: {excluded}.\n\n{_DOC}"

    def title(self) -> str:
        return f"ECS audit log files ({self.name})"

    def exclusion(self) -> Exclusion | None:
        excluded = frozenset(self.exclude_categories)
        if not excluded:
            return None

        def excluded_by(record: dict[str, Any]) -> str | None:
            category = ecs_category(field(record, "event.category")[0])
            return f"category:{category}" if category in excluded else None

        return excluded_by


# --- reading ECS documents -----------------------------------------------------------------

_MISSING = object()


def field(record: Any, name: str) -> tuple[Any, tuple[str, ...] | None]:
    """The value of the ECS field ``name`` and the keys it was found under: nested objects
    (``{"event": {"id": ..}}``), dotted keys (``{"event.id": ..}``) or a mix of both."""
    return _find(record, tuple(name.split(".")))


def _find(value: Any, parts: tuple[str, ...]) -> tuple[Any, tuple[str, ...] | None]:
    if not parts:
        return value, ()
    if type(value) is not dict:
        return None, None
    for cut in range(len(parts), 0, -1):
        key = ".".join(parts[:cut])
        if key in value:
            found, keys = _find(value[key], parts[cut:])
            if keys is not None and found is not None:
                return found, (key, *keys)
    return None, None


def _without(value: dict[str, Any], paths: list[tuple[str, ...]]) -> dict[str, Any]:
    """A copy of ``value`` without the fields at ``paths``; objects left empty are dropped."""
    heads: dict[str, list[tuple[str, ...]]] = {}
    for path in paths:
        heads.setdefault(path[0], []).append(path[1:])
    out: dict[str, Any] = {}
    for key, item in value.items():
        rests = heads.get(key)
        if rests is None:
            out[key] = item
        elif () in rests:
            continue
        elif type(item) is dict:
            kept = _without(item, rests)
            if kept:
                out[key] = kept
        else:
            out[key] = item
    return out


def _strings(value: Any) -> list[str]:
    values = value if type(value) is list else [value]
    return [item for item in values if type(item) is str and item and not item.isspace()]


def ecs_category(value: Any) -> str | None:
    """The first ``event.category`` value that is an ECS category (lower-cased), or None."""
    for item in _strings(value):
        name = item.strip().lower()
        if name in ECS_CATEGORIES:
            return name
    return None


def _ip(value: Any) -> str | None:
    text = clean_text(value)
    if text is None or type(value) is not str:
        return None
    text = text.strip()
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in text else socket.AF_INET, text)
    except (OSError, ValueError):
        return None  # kept in properties
    return text


def record_hash(record: dict[str, Any]) -> str:
    """The event id of a document without ``event.id``: SHA-256 of its canonical JSON (keys
    sorted, no whitespace), so the same document always gets the same id."""
    return (
        HASH_PREFIX + hashlib.sha256(orjson.dumps(record, option=orjson.OPT_SORT_KEYS)).hexdigest()
    )


def normalise_ecs(record: dict[str, Any], source_id: str) -> dict[str, Any]:
    """One ECS document -> one access event (see doc.md, "Mapping")."""
    used: list[tuple[str, ...]] = []

    def text(name: str) -> str | None:
        """The field as text, marked used (left out of properties) only when it is usable."""
        value, keys = field(record, name)
        value = clean_text(value)
        if value is not None and keys is not None:
            used.append(keys)
        return value

    event_id = text("event.id")
    if event_id is None:
        event_id = record_hash(record)
    timestamp, keys = field(record, "@timestamp")
    if timestamp is None:
        raise NormalisationError("missing @timestamp")
    occurred_at = parse_utc(timestamp, "@timestamp")
    used.append(keys or ("@timestamp",))

    categories, keys = field(record, "event.category")
    given = _strings(categories)
    category = ecs_category(categories) or (given[0].strip().lower() if given else "unknown")
    if given and keys is not None:
        used.append(keys)
    action = text("event.action")
    if action is None:
        action = next(iter(_strings(field(record, "event.type")[0])), None) or "unknown"
    outcome_value, keys = field(record, "event.outcome")
    outcome = outcome_value.strip().lower() if type(outcome_value) is str else None
    if outcome in OUTCOMES and keys is not None:
        used.append(keys)
    else:
        outcome = "unknown"  # absent, or a value ECS does not define: kept in properties

    email = text("user.email")
    login = text("user.name")
    user_id = text("user.id")
    full_name = text("user.full_name")
    principal = email or login

    target_external_id = target_type = None
    for name, kind in TARGET_FIELDS:
        value = text(name)
        if value is not None:
            target_external_id, target_type = value, kind
            break

    source_ip = None
    for name in ("source.ip", "client.ip"):
        value, keys = field(record, name)
        source_ip = _ip(value)
        if source_ip is not None and keys is not None:
            used.append(keys)
            break

    event = dict.fromkeys(NORMALISED_COLUMNS)
    event.update(
        source_id=source_id,
        event_id=event_id,
        occurred_at=occurred_at,
        category=category,
        action=action,
        outcome=outcome,
        actor_external_id=user_id,
        actor_name=full_name or (login if email else None),
        actor_principal_name=principal,
        actor_type="user" if principal or user_id else "unknown",
        target_external_id=target_external_id,
        target_name=target_external_id,
        target_type=target_type,
        mfa=None,
        source_ip=source_ip,
        country=text("source.geo.country_iso_code") or text("client.geo.country_iso_code"),
        city=text("source.geo.city_name") or text("client.geo.city_name"),
        user_agent=text("user_agent.original"),
        error_code=text("error.code"),
        failure_reason=text("error.message") or text("event.reason"),
    )
    event["properties"] = _without(record, used)
    return event


register_kind(
    SourceKind(
        name=KIND,
        config=EcsJsonlSource,
        summary="Elastic Common Schema audit logs as JSON lines files (EngFlow and others)",
        doc=_DOC,
        example={
            "name": "engflow",
            "path": "/var/log/engflow/audit/*.jsonl*",
            "exclude_categories": ["process"],
        },
    )
)
