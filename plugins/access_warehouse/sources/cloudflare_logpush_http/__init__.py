"""Source kind ``cloudflare_logpush_http``: Cloudflare Logpush ``http_requests`` files.

Logpush writes gzip JSON-lines files (one HTTP request per line) to a bucket or folder; the
shared file layer (:mod:`access_warehouse.sources.files`) finds, checks and lands them, this
module maps one request to the access-event contract. ``doc.md`` is the kind's documentation.

Only pydantic and the standard library at import time: DAG files import the kinds to parse.
"""

from __future__ import annotations

import math
import socket
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from access_warehouse.contract import NORMALISED_COLUMNS, NormalisationError
from access_warehouse.normalise import clean_text, parse_utc
from access_warehouse.sources.base import Exclusion, Normaliser, SourceKind
from access_warehouse.sources.files import FileSource
from access_warehouse.sources.registry import register_kind

KIND = "cloudflare_logpush_http"
CATEGORY = "web"
TARGET_TYPE = "url"
#: The rule requests without an identity header are excluded under (``exclude_anonymous``).
ANONYMOUS_RULE = "actor:anonymous"
DEFAULT_IDENTITY_HEADERS = ("cf-access-user", "cf-access-authenticated-user-email")
_DOC = Path(__file__).with_name("doc.md").read_text()


class CloudflareLogpushHttpSource(FileSource):
    """Logpush ``http_requests`` files (gzip JSON lines) under ``path``."""

    kind: Literal["cloudflare_logpush_http"]
    #: Request headers (case-insensitive, in the job's ``RequestHeaders`` custom fields) that
    #: carry the Access user's e-mail; the first present wins.
    identity_headers: tuple[str, ...] = Field(DEFAULT_IDENTITY_HEADERS, min_length=1)
    #: Drop requests without an identity header (counted under rule ``actor:anonymous``)
    #: instead of loading them with the unknown actor.
    exclude_anonymous: bool = False

    @field_validator("identity_headers")
    @classmethod
    def _header_names(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        names = []
        for value in values:
            name = value.strip().lower()
            if not name or any(char.isspace() or char == ":" for char in name):
                raise ValueError(f"{value!r} is not an HTTP header name")
            names.append(name)
        return tuple(dict.fromkeys(names))

    def normaliser(self) -> Normaliser:
        return partial(normalise_logpush_http, self.identity_headers)

    def kind_doc(self) -> str:
        anonymous = "excluded (rule `actor:anonymous`)" if self.exclude_anonymous else "kept"
        return (
            f"Identity headers: {', '.join(f'`{h}`' for h in self.identity_headers)}; "
            f"requests without one: {anonymous}.\n\n{_DOC}"
        )

    def title(self) -> str:
        return f"Cloudflare Logpush HTTP requests ({self.name})"

    def exclusion(self) -> Exclusion | None:
        if not self.exclude_anonymous:
            return None
        headers = self.identity_headers

        def excluded_by(record: dict[str, Any]) -> str | None:
            return None if identity(record, headers) else ANONYMOUS_RULE

        return excluded_by


def identity(record: dict[str, Any], headers: tuple[str, ...]) -> str | None:
    """The Access user's e-mail from the record's ``RequestHeaders`` (names compared
    case-insensitively), or None."""
    sent = record.get("RequestHeaders")
    if type(sent) is not dict or not sent:
        return None
    by_name = {str(name).strip().lower(): value for name, value in sent.items()}
    for header in headers:
        value = by_name.get(header)
        if type(value) is list:  # a header sent more than once
            value = next((item for item in value if clean_text(item)), None)
        text = clean_text(value) if type(value) is str else None
        if text is not None:
            return text.strip()
    return None


def edge_time(value: Any) -> datetime:
    """``EdgeStartTimestamp`` as the job's ``timestamp_format`` writes it: RFC 3339 text
    (``rfc3339``), or a number of seconds (``unix``) or nanoseconds (``unixnano``, the
    default) since the epoch; milli- and microseconds are told apart by magnitude too."""
    if type(value) is str and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    if type(value) is str:
        return parse_utc(value, "EdgeStartTimestamp")
    if type(value) not in (int, float) or (type(value) is float and not math.isfinite(value)):
        if value is None:
            raise NormalisationError("missing EdgeStartTimestamp")
        raise NormalisationError(f"bad EdgeStartTimestamp {value!r}: not a time")
    magnitude = abs(value)
    if magnitude >= 1e17:
        seconds, fraction = divmod(int(value), 1_000_000_000)
        micros = fraction // 1000
    elif magnitude >= 1e14:
        seconds, micros = divmod(int(value), 1_000_000)
    elif magnitude >= 1e11:
        seconds, millis = divmod(int(value), 1000)
        micros = millis * 1000
    else:
        seconds, micros = int(value // 1), round((value % 1) * 1_000_000)
    try:
        return datetime.fromtimestamp(seconds, UTC).replace(microsecond=min(micros, 999_999))
    except (OverflowError, OSError, ValueError):
        raise NormalisationError(f"bad EdgeStartTimestamp {value!r}: out of range") from None


def outcome_of(status: Any) -> str:
    """``EdgeResponseStatus`` -> outcome: 100-399 ``success``, 401 and 403 ``failure`` (Access
    or the origin refused the user), anything else (other 4xx, 5xx, 0, absent) ``unknown``:
    the request failed, but not as an access decision about the user."""
    if type(status) is str and status.strip().isdigit():
        status = int(status)
    if type(status) is not int:
        return "unknown"
    if 100 <= status < 400:
        return "success"
    if status in (401, 403):
        return "failure"
    return "unknown"


def _ip(value: Any) -> str | None:
    if type(value) is not str or not value.strip():
        return None
    text = value.strip()
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in text else socket.AF_INET, text)
    except (OSError, ValueError):
        return None
    return text


def _text(record: dict[str, Any], key: str) -> str | None:
    value = record.get(key)
    return clean_text(value) if type(value) is str else None


def normalise_logpush_http(
    headers: tuple[str, ...], record: dict[str, Any], source_id: str
) -> dict[str, Any]:
    """One ``http_requests`` record -> one access event (see doc.md, "Mapping")."""
    ray_id = clean_text(record.get("RayID"))
    if ray_id is None:
        raise NormalisationError("missing RayID")
    occurred_at = edge_time(record.get("EdgeStartTimestamp"))
    email = identity(record, headers)
    host = _text(record, "ClientRequestHost")
    path = _text(record, "ClientRequestPath")
    target = f"{host.strip().lower() if host else ''}{path or ''}" or None
    status = record.get("EdgeResponseStatus")
    outcome = outcome_of(status)
    country = _text(record, "ClientCountry")
    source_ip = _ip(record.get("ClientIP"))
    method = _text(record, "ClientRequestMethod")
    user_agent = _text(record, "ClientRequestUserAgent")
    used = {"RayID", "EdgeStartTimestamp"}  # a value not used stays in properties as it came
    for key, value in (
        ("ClientRequestMethod", method),
        ("ClientIP", source_ip),
        ("ClientRequestUserAgent", user_agent),
        ("ClientCountry", country),
        ("ClientRequestHost", host),
        ("ClientRequestPath", path),
    ):
        if value is not None:
            used.add(key)
    event = dict.fromkeys(NORMALISED_COLUMNS)
    event.update(
        source_id=source_id,
        event_id=ray_id,
        occurred_at=occurred_at,
        category=CATEGORY,
        action=method or "unknown",
        outcome=outcome,
        actor_principal_name=email,
        actor_type="user" if email else "unknown",
        target_external_id=target,
        target_name=target,
        target_type=TARGET_TYPE if target else None,
        mfa=None,
        source_ip=source_ip,
        country=country.strip().upper() if country else None,
        user_agent=user_agent,
        error_code=str(status) if outcome != "success" and clean_text(status) else None,
        properties={key: value for key, value in record.items() if key not in used},
    )
    return event


register_kind(
    SourceKind(
        name=KIND,
        config=CloudflareLogpushHttpSource,
        summary="Cloudflare Logpush http_requests files (gzip JSON lines), Access identity",
        doc=_DOC,
        example={"name": "zone_example", "path": "/data/logpush/http_requests/**/*.log.gz"},
    )
)
