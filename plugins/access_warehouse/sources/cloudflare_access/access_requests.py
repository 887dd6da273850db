"""Cloudflare Access authentication logs (``access/logs/access_requests``): paging and mapping.

Fetching
--------

``GET {base}/accounts/{account_id}/access/logs/access_requests`` with ``since`` = window start,
``until`` = window end minus one microsecond (the window is half-open; whether ``until`` is
inclusive is not documented, so no record at the end instant is asked for twice),
``direction=asc``, ``limit`` = ``per_page`` = the page size and ``page`` = 1, 2, ...
Answers are Cloudflare's v4 envelope ``{"success", "errors", "messages", "result",
"result_info"}``. Paging ends on the first page shorter than the page size (an empty one
included); ``result_info.total_count`` is only logged, because it can change while late records
arrive. A 2xx whose body is not JSON, whose
``success`` is not true, whose ``result`` is missing or not a list, or that repeats the previous
page, is retried and then fails the extract. The token goes in ``Authorization: Bearer``.

Mapping rules (one record -> one access event)
----------------------------------------------

- ``event_id`` = ``ray_id`` (the natural key); missing or blank -> quarantined.
- ``occurred_at`` = ``created_at`` as UTC (``2014-01-01T05:20:00.12345Z``); missing or
  unparsable -> quarantined.
- ``category`` = ``authentication``; ``action`` = ``action`` as given (``login``, ...); missing
  -> quarantined.
- ``outcome``: ``allowed`` true -> ``success``, false -> ``failure``, anything else ->
  ``unknown``.
- Actor: ``actor_principal_name`` = ``user_email`` (stored as given; identity resolution
  lower-cases it, so it meets the same person's Entra UPN or mail alias), ``actor_type``
  ``user``; no e-mail -> ``unknown`` actor. ``actor_external_id`` and ``actor_name`` are null:
  the log has no user id or display name.
- Target: the Access application, ``target_type`` ``application``, ``target_external_id`` =
  ``app_uid``, ``target_name`` = ``app_domain``; neither -> no target.
- ``source_ip`` = ``ip_address``, ``country`` = ``country``, ``auth_method`` = ``connection``
  (the IdP: ``onetimepin``, ``saml``, ...). ``mfa`` is null: the log does not say.
- ``properties``: every other field (``app_type``, purpose justification, approvers, unknown
  future fields), plus any mapped field whose value could not go into its column whole (e.g.
  an ``allowed`` that is not a boolean, an object where text belongs), so nothing the source
  said is lost. Empty or blank text in a mapped field is dropped (the column is null).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from access_warehouse.contract import NORMALISED_COLUMNS, NormalisationError
from access_warehouse.normalise import clean_text, parse_utc
from access_warehouse.sources.base import FetchRequest, Page

__all__ = ["CATEGORY", "fetch_pages", "normalise_access_request"]

log = logging.getLogger(__name__)

CATEGORY = "authentication"
TARGET_TYPE = "application"
API_PATH = "/client/v4"

#: Fields whose text goes into a column (dropped from ``properties`` when it did).
_TEXT_FIELDS = (
    "ray_id",
    "created_at",
    "action",
    "user_email",
    "app_uid",
    "app_domain",
    "ip_address",
    "country",
    "connection",
)
_EMPTY = dict.fromkeys(NORMALISED_COLUMNS)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _text(record: dict[str, Any], key: str) -> str | None:
    return clean_text(record.get(key))


def normalise_access_request(record: dict[str, Any], source_id: str) -> dict[str, Any]:
    """One Access authentication log record as an access event (see the module docstring)."""
    event_id = _text(record, "ray_id")
    if event_id is None:
        raise NormalisationError("missing ray_id")
    occurred_at = parse_utc(record.get("created_at"), "created_at")
    action = _text(record, "action")
    if action is None:
        raise NormalisationError("missing action")
    allowed = record.get("allowed")
    outcome = "success" if allowed is True else "failure" if allowed is False else "unknown"
    email = _text(record, "user_email")
    app_uid, app_domain = _text(record, "app_uid"), _text(record, "app_domain")
    properties = {
        key: value
        for key, value in record.items()
        if not (
            (key in _TEXT_FIELDS and (value is None or type(value) is str or _number(value)))
            or (key == "allowed" and type(value) is bool)
        )
    }
    event = dict(_EMPTY)
    event.update(
        source_id=source_id,
        event_id=event_id,
        occurred_at=occurred_at,
        category=CATEGORY,
        action=action,
        outcome=outcome,
        actor_principal_name=email,
        actor_type="user" if email else "unknown",
        target_external_id=app_uid,
        target_name=app_domain,
        target_type=TARGET_TYPE if app_uid or app_domain else None,
        source_ip=_text(record, "ip_address"),
        country=_text(record, "country"),
        auth_method=_text(record, "connection"),
        properties=properties,
    )
    return event


# --- fetching ------------------------------------------------------------------------------


def api_base_url(host: str) -> str:
    """The v4 API root from a connection's host: ``https://api.cloudflare.com`` and
    ``https://api.cloudflare.com/client/v4`` both give the latter."""
    base = host.rstrip("/")
    if urlsplit(base).path in ("", "/"):
        base += API_PATH
    return base


def _rfc3339(moment: Any) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _page_reader(previous_ids: tuple[Any, ...], where: str) -> Any:
    from access_warehouse.sources.http import UnreadablePage

    def read(body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise UnreadablePage(f"a JSON {type(body).__name__}, not the v4 envelope", where)
        if body.get("success") is not True:
            errors = body.get("errors")
            raise UnreadablePage(
                f"'success' is {body.get('success')!r}, not true (errors: {errors!r:.300})",
                where,
            )
        if "result" not in body:
            raise UnreadablePage("no 'result' in the envelope", where)
        if type(body["result"]) is not list:
            raise UnreadablePage(
                f"'result' is {type(body['result']).__name__}, not a list of records", where
            )
        ids = _ray_ids(body["result"])
        if ids and ids == previous_ids:
            raise UnreadablePage(f"the previous page again ({len(ids)} records)", where)
        return body

    return read


def _ray_ids(records: list[Any]) -> tuple[Any, ...]:
    return tuple(record.get("ray_id") for record in records if isinstance(record, dict))


def fetch_pages(
    request: FetchRequest,
    *,
    account_id: str,
    conn_id: str,
    page_size: int,
    max_attempts: int,
) -> Iterator[Page]:
    """The pages of ``request.window`` (the :data:`~access_warehouse.sources.base.Fetcher`
    interface), one request at a time."""
    from access_warehouse.airflow_adapters.connections import http_connection
    from access_warehouse.sources.http import RetryingJSONClient, RetryPolicy, tls_verify

    window = request.window
    where = f"Cloudflare Access (connection {conn_id!r})"
    fields = http_connection(conn_id)
    if not fields["base_url"]:
        raise ValueError(f"connection {conn_id!r} has no host: set it to the API base URL")
    if not fields["password"]:
        raise ValueError(f"connection {conn_id!r} has no password: set it to the API token")
    client = RetryingJSONClient(
        api_base_url(fields["base_url"]),
        label=where,
        headers={
            "Authorization": f"Bearer {fields['password']}",
            "Accept": "application/json",
        },
        verify=tls_verify(fields["extra"].get("verify")),
        policy=RetryPolicy(max_attempts=max_attempts),
        stats=request.stats,
    )
    path = f"accounts/{account_id}/access/logs/access_requests"
    base_params = {
        "since": _rfc3339(window.start),
        "until": _rfc3339(window.end - timedelta(microseconds=1)),
        "direction": "asc",
        "limit": page_size,
        "per_page": page_size,
    }
    with client:
        page, read, previous_ids = 1, 0, ()
        while True:
            body = client.get_json(
                path, {**base_params, "page": page}, _page_reader(previous_ids, where)
            )
            records = body["result"]
            previous_ids = _ray_ids(records)
            read += len(records)
            yield Page(records=records)
            if len(records) < page_size:
                break
            page += 1
        request.stats.by_stream["access_requests"] = page
        info = body.get("result_info")
        total = info.get("total_count") if isinstance(info, dict) else None
        log.info("%s: %d records in %d pages (total_count %s)", where, read, page, total)
