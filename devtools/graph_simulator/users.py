"""The tenant's directory as Graph's ``/users`` lists it at a moment of the simulator's clock.

Built on the same users as the two logs, so the three agree:

- every user of the tenant (same object id, UPN and display name as their sign-ins and the
  directory audits), ~5% guests (``userType`` ``Guest``, their outside address as ``mail``);
- a user targeted by a successful "Delete user" directory audit in the last
  ``TenantConfig.user_changes_hours`` before the clock is absent; a successful "Update user" that
  sets ``AccountEnabled`` to false in that time disables the user. After it the user is back as
  before: the log has no "Restore user" or re-enabling activity, so a change lasts that long;
- a deterministic few of the users who never sign in are disabled all the time;
- ``signInActivity`` is computed from the generated sign-ins before the clock (the last
  interactive and the last non-interactive attempt, failed or not, and the last success, with
  their request ids), looking back at most :data:`SIGN_IN_ACTIVITY_DAYS`; users who never sign
  in have the object with every field null.

What is approximate: ``createdDateTime`` is a fixed date per user (2021-2023), whatever the
clock; sign-ins of a user while an "Update user" keeps them disabled are still in the sign-in
log; activity older than :data:`SIGN_IN_ACTIVITY_DAYS` is not looked for.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from . import _catalog as cat
from .directory_audits import SUCCESS as AUDIT_SUCCESS

if TYPE_CHECKING:
    from .tenant import SyntheticTenant

#: The Graph entity set (URL segment, ``@odata.context``, skiptoken feed).
USERS = "users"
#: Graph's page size limits for users: 999, and 500 when ``signInActivity`` is selected
#: (Microsoft's "List users" docs, 2025).
MAX_TOP = 999
MAX_TOP_SIGN_IN_ACTIVITY = 500
DEFAULT_TOP = 100
#: How far back ``signInActivity`` looks in the generated sign-ins.
SIGN_IN_ACTIVITY_DAYS = 30
#: What ``$select`` may name, in Graph's spelling (matched case-insensitively).
PROPERTIES: tuple[str, ...] = (
    "id",
    "userPrincipalName",
    "mail",
    "displayName",
    "accountEnabled",
    "userType",
    "createdDateTime",
    "creationType",
    "businessPhones",
    "givenName",
    "surname",
    "jobTitle",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "signInActivity",
)
#: What Graph returns without ``$select``.
DEFAULT_SELECT: tuple[str, ...] = (
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
)
_CANONICAL = {name.lower(): name for name in PROPERTIES}
_ACCOUNT_ENABLED_CHANGE = next(
    i for i, (name, _, _) in enumerate(cat.USER_CHANGES) if name == "AccountEnabled"
)
#: Sign-in kinds (tenant.INTERACTIVE, tenant.NON_INTERACTIVE) and row positions used here.
_INTERACTIVE, _NON_INTERACTIVE = 0, 1
_TS, _VISIBLE, _CREATED, _ID, _KIND, _ACTOR, _OUTCOME = 0, 1, 2, 3, 5, 6, 11
_A_TS, _A_CODE, _A_RESULT, _A_TARGET, _A_TARGET2 = 0, 5, 6, 9, 10
_NULL_ACTIVITY = {
    "lastSignInDateTime": None,
    "lastSignInRequestId": None,
    "lastNonInteractiveSignInDateTime": None,
    "lastNonInteractiveSignInRequestId": None,
    "lastSuccessfulSignInDateTime": None,
    "lastSuccessfulSignInRequestId": None,
}


class UnknownProperty(ValueError):
    """``$select`` names a property users do not have (Graph: 400)."""


def parse_select(text: str | None) -> tuple[str, ...]:
    """``$select`` as Graph's property names, in the order given (duplicates dropped); the
    default set without one. ``UnknownProperty`` quotes what is unknown."""
    if text is None or not text.strip():
        return DEFAULT_SELECT
    chosen: list[str] = []
    for part in text.split(","):
        name = _CANONICAL.get(part.strip().lower())
        if name is None:
            raise UnknownProperty(
                f"Could not find a property named '{part.strip()}' on type 'microsoft.graph.user'."
            )
        if name not in chosen:
            chosen.append(name)
    return tuple(chosen)


class DirectoryUsers:
    """The users of one :class:`~devtools.graph_simulator.tenant.SyntheticTenant` over time."""

    def __init__(self, tenant: SyntheticTenant) -> None:
        self.tenant = tenant
        config = tenant.config
        rng = random.Random(f"{config.seed}:{config.tenant_id}:users")
        first_day = date(2021, 1, 1)
        self._static: list[dict[str, Any]] = []
        for user in tenant._users:
            created = datetime.combine(
                first_day + timedelta(days=rng.randrange(3 * 365)), datetime.min.time(), UTC
            ) + timedelta(seconds=rng.randrange(8 * 3600, 18 * 3600))
            local = user.upn.split("@")[0]
            given, _, surname = user.display_name.partition(" ")
            if user.user_type == "guest":
                # x_gmail.com#EXT#@tenant: the invited address is the guest's mail
                invited = local.split("#EXT#")[0]
                name, _, domain = invited.rpartition("_")
                mail: str | None = f"{name}@{domain}"
                creation_type: str | None = "Invitation"
            else:
                # Exchange keeps the address as typed; UPNs are lower case. ~1 in 12 members
                # has no mailbox (no mail).
                mail = None if rng.random() < 0.08 else f"{local.title()}@{tenant.domain}"
                creation_type = None
            self._static.append(
                {
                    "id": user.id,
                    "userPrincipalName": user.upn,
                    "displayName": user.display_name,
                    "mail": mail,
                    "userType": "Guest" if user.user_type == "guest" else "Member",
                    "createdDateTime": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "creationType": creation_type,
                    "businessPhones": [],
                    "givenName": given,
                    "surname": surname or None,
                    "jobTitle": None,
                    "mobilePhone": None,
                    "officeLocation": None,
                    "preferredLanguage": None,
                }
            )
        active = tenant.active_users
        #: A few who never sign in are disabled for good (leavers whose account stays).
        self.always_disabled = frozenset(
            i for i in range(active, len(tenant._users)) if (i - active) % 3 == 1
        )

    # ---- the directory at a moment ---------------------------------------------------

    def changes(self, at: int) -> tuple[frozenset[int], frozenset[int]]:
        """(deleted, disabled) user indexes at epoch ``at``: successful "Delete user" and
        "Update user" AccountEnabled -> false audits in the last ``user_changes_hours``."""
        window = int(self.tenant.config.user_changes_hours * 3600)
        if window <= 0:
            return frozenset(), frozenset()
        rows = self.tenant.directory_audit_rows(at - window + 1, at + 1, ["UserManagement"])
        deleted, disabled = set(), set()
        for row in rows:
            if row[_A_RESULT] != AUDIT_SUCCESS:
                continue
            if row[_A_CODE] == cat.DELETE_USER:
                deleted.add(row[_A_TARGET])
            elif row[_A_CODE] == cat.UPDATE_USER and row[_A_TARGET2] == _ACCOUNT_ENABLED_CHANGE:
                disabled.add(row[_A_TARGET])
        return frozenset(deleted), frozenset(disabled)

    def present(self, at: int) -> list[tuple[int, bool]]:
        """(user index, accountEnabled) of every user that exists at epoch ``at``."""
        deleted, disabled = self.changes(at)
        return [
            (index, index not in disabled and index not in self.always_disabled)
            for index in range(len(self._static))
            if index not in deleted
        ]

    def sign_in_activity(
        self, at: int, visible_at: int | None, users: Iterable[int] | None = None
    ) -> dict[int, dict[str, Any]]:
        """``signInActivity`` per user index (of ``users``, default all) from the sign-ins
        before ``at`` that are visible at ``visible_at`` (None: ignore ingestion delay)."""
        wanted = set(range(len(self._static)) if users is None else users)
        # (interactive, non-interactive, successful) -> user -> (created, request id)
        found: tuple[dict[int, tuple[str, str]], ...] = ({}, {}, {})
        # only users who sign in at all are looked for; the others stay null
        pending = {index for index in wanted if index < self.tenant.active_users}
        day = datetime.fromtimestamp(at, UTC).date()
        for _ in range(SIGN_IN_ACTIVITY_DAYS + 1):
            if not pending:
                break
            for row in self.tenant._day(day).events:  # newest first
                kind = row[_KIND]
                if kind > _NON_INTERACTIVE or row[_TS] > at:
                    continue
                if visible_at is not None and row[_VISIBLE] > visible_at:
                    continue
                actor = row[_ACTOR]
                if actor not in pending:
                    continue
                stamp = (row[_CREATED], row[_ID])
                found[0 if kind == _INTERACTIVE else 1].setdefault(actor, stamp)
                if row[_OUTCOME] == cat.SUCCESS:
                    found[2].setdefault(actor, stamp)
                if all(actor in part for part in found):
                    pending.discard(actor)
            day -= timedelta(days=1)
        activity = {}
        for index in wanted:
            record = dict(_NULL_ACTIVITY)
            for part, prefix in zip(
                found,
                ("lastSignIn", "lastNonInteractiveSignIn", "lastSuccessfulSignIn"),
                strict=True,
            ):
                if index in part:
                    record[f"{prefix}DateTime"], record[f"{prefix}RequestId"] = part[index]
            activity[index] = record
        return activity

    def records(
        self, at: int, select: tuple[str, ...], visible_at: int | None = None
    ) -> list[dict[str, Any]]:
        """Every user at epoch ``at`` with the ``select``-ed properties, ordered by object id
        (whether or not ``id`` is selected), as the server's pages list them."""
        present = sorted(self.present(at), key=lambda item: self._static[item[0]]["id"])
        activity = (
            self.sign_in_activity(at, visible_at, (index for index, _ in present))
            if "signInActivity" in select
            else {}
        )
        out = []
        for index, enabled in present:
            full = {**self._static[index], "accountEnabled": enabled}
            if activity:
                full["signInActivity"] = activity[index]
            out.append({name: full[name] for name in select})
        return out

    def records_json(
        self, at: int, select: tuple[str, ...], visible_at: int | None = None
    ) -> list[str]:
        """:meth:`records` as the JSON text the server sends."""
        return [
            json.dumps(record, ensure_ascii=False, separators=(",", ":"))
            for record in self.records(at, select, visible_at)
        ]
