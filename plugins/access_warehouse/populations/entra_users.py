"""Population kind ``entra_users``: an Entra ID tenant's directory, Graph ``/users``.

``GET /{api_version}/users?$select=id,userPrincipalName,mail,displayName,accountEnabled,
userType,createdDateTime,signInActivity&$top=...``, following ``@odata.nextLink``, through the
same connection, token renewal, retries, pacing and next-link checks as the sign-in extract
(:func:`access_warehouse.sources.graph.listing_pages`).

``signInActivity`` (``lastSignInDateTime``: the last interactive attempt, failed ones too;
``lastNonInteractiveSignInDateTime``; ``lastSuccessfulSignInDateTime``, interactive or not)
needs an Entra ID P1/P2 licence and ``AuditLog.Read.All``. When Graph answers the first page
with 403 (``Authentication_RequestFromNonPremiumTenantOrB2CTenant``: "Neither tenant is B2C or
tenant doesn't have premium license", or a missing permission), the directory is read again
without it and the snapshot records ``source_said.sign_in_activity_available = false`` with
Graph's answer: the reports then rely on the events alone. Graph's ``0001-01-01T00:00:00Z``
("never") is stored as NULL.

Mapping: ``account_id`` = object id; ``user_type`` ``member`` / ``guest``; aliases = object
id, UPN and mail (the identifiers Entra's sign-ins and directory audits name a user by).
Properties Graph sends beyond the mapped ones are kept in ``properties``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any, ClassVar, Literal

from pydantic import Field

from access_warehouse.populations.base import Account, PopulationConfig, PopulationKind
from access_warehouse.populations.registry import register_population_kind
from access_warehouse.sources.base import RequestStats

log = logging.getLogger(__name__)

USER_FIELDS: tuple[str, ...] = (
    "id",
    "userPrincipalName",
    "mail",
    "displayName",
    "accountEnabled",
    "userType",
    "createdDateTime",
)
SIGN_IN_ACTIVITY = "signInActivity"
#: Graph's largest ``$top`` for users, and for users with signInActivity (Microsoft's "List
#: users" docs: 999, and 500 when signInActivity is selected or filtered on).
MAX_PAGE_SIZE = 999
MAX_PAGE_SIZE_WITH_ACTIVITY = 500
#: What Graph sends for "no sign-in" in some tenants instead of null.
_NEVER = "0001-01-01"
#: signInActivity field -> Account field
_ACTIVITY_FIELDS = {
    "lastSignInDateTime": "last_sign_in_at",
    "lastNonInteractiveSignInDateTime": "last_non_interactive_sign_in_at",
    "lastSuccessfulSignInDateTime": "last_successful_sign_in_at",
}


class EntraUsersPopulation(PopulationConfig):
    kind: Literal["entra_users"]
    conn_id: str = Field(pattern=r"^msgraph[a-z0-9_]*$")
    #: Ask for signInActivity (Entra ID P1/P2 and AuditLog.Read.All); without the licence the
    #: snapshot reads the directory without it and says so.
    sign_in_activity: bool = True
    api_version: Literal["v1.0", "beta"] = "v1.0"
    page_size: int = Field(MAX_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)
    max_attempts: int = Field(8, ge=1, le=50)
    #: Client-side pacing (None: none; 429s are retried with Retry-After either way).
    max_requests_per_10s: int | None = Field(None, ge=1, le=1000)

    id_prefix: ClassVar[str] = "entra"

    def graph_query(self, with_activity: bool) -> Any:
        from access_warehouse.sources.graph import GraphFeedQuery

        top = min(self.page_size, MAX_PAGE_SIZE_WITH_ACTIVITY) if with_activity else self.page_size
        return GraphFeedQuery(
            conn_id=self.conn_id,
            api_version=self.api_version,
            path="users",
            time_field="",
            page_size=top,
            max_attempts=self.max_attempts,
            max_requests=self.max_requests_per_10s,
            rate_window_s=10.0,
        )

    def request_params(self, with_activity: bool) -> dict[str, Any]:
        fields = (*USER_FIELDS, SIGN_IN_ACTIVITY) if with_activity else USER_FIELDS
        return {"$select": ",".join(fields), "$top": self.graph_query(with_activity).page_size}

    def read(self, stats: RequestStats) -> Iterator[list[Account]]:
        from access_warehouse.sources.graph import GraphHTTPError, listing_pages

        def pages(with_activity: bool) -> Iterator[list[Account]]:
            query = self.graph_query(with_activity)
            params = self.request_params(with_activity)
            for records in listing_pages(query, params, stats):
                yield [account_of(record) for record in records]

        if not self.sign_in_activity:
            stats.source_said["sign_in_activity_available"] = False
            stats.source_said["sign_in_activity"] = "not asked (sign_in_activity: false)"
            yield from pages(False)
            return
        with_activity = pages(True)
        try:
            first = next(with_activity)
        except StopIteration:
            stats.source_said["sign_in_activity_available"] = True
            return
        except GraphHTTPError as exc:
            # Only the first page: a 403 later would mean something else changed mid-read.
            if exc.status != 403:
                raise
            log.warning(
                "Graph refused signInActivity for %s (%s); reading the directory without it: "
                "the reports rely on the events alone",
                self.population_id,
                exc,
            )
            stats.asked["refused_request"] = stats.asked.get("request")
            stats.source_said["sign_in_activity_available"] = False
            stats.source_said["sign_in_activity"] = f"403 {exc.code or ''}: {_message(exc)}"
            yield from pages(False)
            return
        stats.source_said["sign_in_activity_available"] = True
        yield first
        yield from with_activity

    def describe(self) -> str:
        activity = (
            "with `signInActivity` (falls back to the directory alone on a 403)"
            if self.sign_in_activity
            else "without `signInActivity`"
        )
        return (
            f"Entra ID directory over connection `{self.conn_id}`: Graph "
            f"`GET /{self.api_version}/users` {activity}, every page (`@odata.nextLink`)."
        )


def _message(exc: Any) -> str:
    error = exc.body.get("error") if isinstance(exc.body, dict) else None
    return str(error.get("message") if isinstance(error, dict) else exc.body)[:300]


def _moment(value: Any, name: str, unparsed: dict[str, Any]) -> Any:
    from access_warehouse.contract import NormalisationError
    from access_warehouse.normalise import parse_utc

    if value is None or (isinstance(value, str) and value.startswith(_NEVER)):
        return None
    try:
        return parse_utc(value, name)
    except NormalisationError:
        unparsed[name] = value  # kept, not guessed: the account is still counted
        return None


def account_of(record: Any) -> Account:
    """One Graph ``user`` as an :class:`Account`; ``ValueError`` for a record without an id
    (the snapshot fails rather than lose an account)."""
    from access_warehouse.normalise import clean_text
    from access_warehouse.resolve import normalise_alias

    if not isinstance(record, dict) or not clean_text(record.get("id")):
        raise ValueError(f"Graph sent a user without an id: {str(record)[:200]}")
    unparsed: dict[str, Any] = {}
    activity = record.get(SIGN_IN_ACTIVITY)
    activity = activity if isinstance(activity, dict) else {}
    moments = {
        field: _moment(activity.get(name), name, unparsed)
        for name, field in _ACTIVITY_FIELDS.items()
    }
    upn = clean_text(record.get("userPrincipalName"))
    mail = clean_text(record.get("mail"))
    aliases = tuple(
        dict.fromkeys(
            alias for alias in map(normalise_alias, (record["id"], upn, mail)) if alias is not None
        )
    )
    enabled = record.get("accountEnabled")
    properties = {
        key: value
        for key, value in record.items()
        if key not in USER_FIELDS and key != SIGN_IN_ACTIVITY and not key.startswith("@odata")
    }
    created = _moment(record.get("createdDateTime"), "createdDateTime", unparsed)
    if unparsed:
        properties["unparsed"] = unparsed
    user_type = clean_text(record.get("userType"))
    return Account(
        account_id=str(record["id"]).strip(),
        principal_name=upn,
        mail=mail,
        display_name=clean_text(record.get("displayName")),
        enabled=enabled if isinstance(enabled, bool) else None,
        user_type=user_type.strip().lower() if user_type else None,
        account_created_at=created,
        aliases=aliases,
        properties=properties,
        **moments,
    )


KIND = register_population_kind(
    PopulationKind(
        name="entra_users",
        config=EntraUsersPopulation,
        summary="an Entra ID tenant's users (Graph /users, with signInActivity when licensed)",
        example={
            "name": "contoso",
            "conn_id": "msgraph_default",
            "sources": ["entra:contoso:signins", "entra:contoso:directory_audits"],
            "sign_in_activity": True,
        },
    )
)
