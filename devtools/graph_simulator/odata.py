"""The slice of OData that Graph's ``auditLogs/signIns`` and ``auditLogs/directoryAudits`` take:
``$filter`` and ``$skiptoken``.

The filter grammar is the subset ETL clients send: ``and``-joined comparisons of the feed's time
field (``createdDateTime`` / ``activityDateTime``) and, for sign-ins (beta),
``signInEventTypes/any(t: t eq '...')`` clauses, for directory audits ``category eq '...'``
clauses, each optionally ``or``-joined in parentheses. Keywords are case-insensitive, whitespace
is free, datetimes are unquoted ISO 8601.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from .directory_audits import CATEGORIES
from .tenant import DIRECTORY_AUDITS, FEEDS, KIND_BY_EVENT_TYPE, SIGNINS
from .users import USERS


class ODataError(ValueError):
    """A query Graph would answer with 400 Bad Request."""


@dataclass(frozen=True)
class SignInFilter:
    """A parsed ``$filter``: ``lo <= createdDateTime < hi`` (epoch seconds) and event types."""

    lo: int | None = None
    hi: int | None = None
    event_types: frozenset[str] | None = None


@dataclass(frozen=True)
class DirectoryAuditFilter:
    """A parsed directory-audits ``$filter``: ``lo <= activityDateTime < hi`` (epoch seconds)
    and categories (None = all; empty = contradictory clauses, nothing matches)."""

    lo: int | None = None
    hi: int | None = None
    categories: frozenset[str] | None = None


_TIME_FIELDS = {SIGNINS: "createdDateTime", DIRECTORY_AUDITS: "activityDateTime"}
_ENTITY_TYPES = {
    SIGNINS: "microsoft.graph.signIn",
    DIRECTORY_AUDITS: "microsoft.graph.directoryAudit",
}
_DATETIME_CLAUSES = {
    feed: re.compile(rf"{field}\s+(ge|gt|le|lt)\s+'?([0-9][^'\s]*)'?", re.I)
    for feed, field in _TIME_FIELDS.items()
}
_DATETIME_CLAUSE = _DATETIME_CLAUSES[SIGNINS]
_CATEGORY_CLAUSE = re.compile(r"category\s+eq\s+'([^']*)'", re.I)
_CANONICAL_CATEGORY = {name.lower(): name for name in CATEGORIES}
_EVENT_TYPE_CLAUSE = re.compile(
    r"signineventtypes\s*/\s*any\s*\(\s*(\w+)\s*:\s*(\w+)\s+eq\s+'([^']*)'\s*\)", re.I
)
_CANONICAL_EVENT_TYPE = {name.lower(): name for name in KIND_BY_EVENT_TYPE}


def _split_top_level(text: str, keyword: str) -> list[str]:
    """Split on ``keyword`` (``and``/``or``) outside parentheses and quotes."""
    separator = re.compile(rf"\s+{keyword}(?=[\s(])\s*", re.I)
    parts: list[str] = []
    depth, start, i, quoted = 0, 0, 0, False
    while i < len(text):
        char = text[i]
        if char == "'":
            quoted = not quoted
        elif quoted:
            pass
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise ODataError("Invalid filter clause: unbalanced parentheses.")
        elif depth == 0 and char.isspace():
            match = separator.match(text, i)
            if match:
                parts.append(text[start:i])
                i = start = match.end()
                continue
        i += 1
    if depth or quoted:
        raise ODataError("Invalid filter clause: unbalanced parentheses or quotes.")
    parts.append(text[start:])
    return [part.strip() for part in parts]


def _strip_parens(text: str) -> str:
    """Remove parentheses that wrap the whole clause: ``((a))`` -> ``a``."""
    while text.startswith("(") and text.endswith(")"):
        depth = 0
        for i, char in enumerate(text):
            depth += char == "("
            depth -= char == ")"
            if depth == 0 and i < len(text) - 1:
                return text  # the first parenthesis closes before the end: not a wrapper
        text = text[1:-1].strip()
    return text


def parse_datetime(value: str) -> float:
    """Epoch seconds of an OData datetime literal; naive values are UTC, as Graph treats them."""
    # An unencoded '+' in a query string arrives as a space: restore a "+hh:mm" offset.
    value = re.sub(r" (\d\d:?\d\d)$", r"+\1", value.strip())
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ODataError(
            f"Invalid filter clause: '{value}' is not a valid DateTimeOffset."
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _parse_conjunction(
    text: str, feed: str, other: Callable[[str], None]
) -> tuple[int | None, int | None]:
    """The ``and``-joined clauses of a filter: time bounds as an integer half-open range;
    every other clause goes to ``other`` (which raises :class:`ODataError` if it is wrong)."""
    lows: list[int] = []
    highs: list[int] = []
    pattern = _DATETIME_CLAUSES[feed]
    for clause in _split_top_level(text.strip(), "and"):
        clause = _strip_parens(clause)
        match = pattern.fullmatch(clause)
        if match:
            op, when = match.group(1).lower(), parse_datetime(match.group(2))
            # Records carry whole seconds: turn every bound into an integer half-open range.
            if op == "ge":
                lows.append(math.ceil(when))
            elif op == "gt":
                lows.append(math.floor(when) + 1)
            elif op == "lt":
                highs.append(math.ceil(when))
            else:
                highs.append(math.floor(when) + 1)
            continue
        other(clause)
    return (max(lows) if lows else None, min(highs) if highs else None)


def _unknown_property(clause: str, feed: str) -> ODataError:
    """Graph's answer to a clause on a property the resource does not have."""
    name = re.match(r"\s*([A-Za-z_][\w/]*)", clause)
    if name:
        for other_feed, field in _TIME_FIELDS.items():
            if other_feed != feed and name.group(1).lower() == field.lower():
                return ODataError(
                    f"Invalid filter clause: Could not find a property named '{field}' on type "
                    f"'{_ENTITY_TYPES[feed]}'."
                )
    return ODataError(f"Invalid filter clause: {clause}")


def parse_filter(text: str | None, version: str) -> SignInFilter:
    """Parse a sign-ins ``$filter``; raise :class:`ODataError` for anything unsupported."""
    if text is None or not text.strip():
        return SignInFilter()
    event_types: frozenset[str] | None = None

    def other(clause: str) -> None:
        nonlocal event_types
        types = _parse_event_types(clause, version)
        event_types = types if event_types is None else event_types & types

    lo, hi = _parse_conjunction(text, SIGNINS, other)
    return SignInFilter(lo=lo, hi=hi, event_types=event_types)


def parse_directory_audit_filter(text: str | None) -> DirectoryAuditFilter:
    """Parse a directory-audits ``$filter`` (both versions take the same); raise
    :class:`ODataError` for anything unsupported."""
    if text is None or not text.strip():
        return DirectoryAuditFilter()
    categories: frozenset[str] | None = None

    def other(clause: str) -> None:
        nonlocal categories
        names: set[str] = set()
        for part in _split_top_level(clause, "or"):
            match = _CATEGORY_CLAUSE.fullmatch(_strip_parens(part))
            if not match:
                raise _unknown_property(_strip_parens(part), DIRECTORY_AUDITS)
            # An unknown category is no error: Graph just has no such records.
            names.add(_CANONICAL_CATEGORY.get(match.group(1).lower(), match.group(1)))
        found = frozenset(names)
        categories = found if categories is None else categories & found

    lo, hi = _parse_conjunction(text, DIRECTORY_AUDITS, other)
    return DirectoryAuditFilter(lo=lo, hi=hi, categories=categories)


def _parse_event_types(clause: str, version: str) -> frozenset[str]:
    names: set[str] = set()
    for part in _split_top_level(clause, "or"):
        match = _EVENT_TYPE_CLAUSE.fullmatch(_strip_parens(part))
        if not match or match.group(1) != match.group(2):
            raise _unknown_property(clause, SIGNINS)
        if version == "v1.0":
            raise ODataError(
                "Invalid filter clause: Could not find a property named 'signInEventTypes' on "
                "type 'microsoft.graph.signIn'."
            )
        name = _CANONICAL_EVENT_TYPE.get(match.group(3).lower())
        if name is None:
            raise ODataError(
                f"Invalid filter clause: '{match.group(3)}' is not a valid signInEventTypes value."
            )
        names.add(name)
    return frozenset(names)


@dataclass(frozen=True)
class Cursor:
    """What a ``$skiptoken`` pins: the feed, the query and the snapshot time, so pages stay
    stable. ``selectors`` are the sign-in event types or the directory-audit categories
    (empty: all categories), or for ``users`` the ``$select``-ed properties (``lo``/``hi``
    unused)."""

    tenant_id: str
    version: str
    lo: int
    hi: int
    selectors: tuple[str, ...]
    snapshot: int  # epoch seconds of the first page: later arrivals stay out of this listing
    late_arrival: bool
    offset: int
    feed: str = SIGNINS

    def encode(self) -> str:
        payload = [
            self.feed,
            self.tenant_id,
            self.version,
            self.lo,
            self.hi,
            list(self.selectors),
            self.snapshot,
            self.late_arrival,
            self.offset,
        ]
        raw = json.dumps(payload, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            feed, tenant, version, lo, hi, selectors, snapshot, late, offset = json.loads(raw)
            cursor = cls(
                str(tenant), str(version), int(lo), int(hi), tuple(str(s) for s in selectors),
                int(snapshot), bool(late), int(offset), str(feed),
            )  # fmt: skip
        except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
            raise ODataError("Invalid $skiptoken value.") from None
        if cursor.offset < 0 or cursor.feed not in (*FEEDS, USERS):
            raise ODataError("Invalid $skiptoken value.")
        if cursor.feed == SIGNINS and not set(cursor.selectors) <= KIND_BY_EVENT_TYPE.keys():
            raise ODataError("Invalid $skiptoken value.")
        return cursor
