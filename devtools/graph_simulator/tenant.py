"""A deterministic synthetic Entra ID tenant, its sign-in log and its directory audit log.

Everything is derived from ``(seed, tenant_id)`` and, per day, from ``(seed, tenant_id, day)``
with private ``random.Random`` instances, so the same configuration gives the same records in
every process and on every machine, and days can be generated in any order.

The directory audit log lives in :mod:`.directory_audits`; both logs share the day cache and
the range queries here. A day is generated once into compact event rows (cheap to keep and to
filter) and rendered into Graph-shaped dicts only when asked for; the HTTP server renders one
page at a time, so serving a large day never holds every record as a dict.
"""

from __future__ import annotations

import json
import math
import random
import re
import threading
import uuid
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple

from . import _catalog as cat
from ._common import HOUR_CUM as _HOUR_CUM
from ._common import Day as _Day
from ._common import epoch as _epoch
from ._common import gc_paused as _gc_paused
from ._common import ingestion_delay as _ingestion_delay
from ._common import uuid_str as _uuid_str
from .directory_audits import (
    ACTIVITY_FIELD,
    AuditRow,
    DirectoryAuditEvent,
    DirectoryAuditLog,
    activities_for,
)
from .users import DirectoryUsers, parse_select

#: Graph's ``signInEventTypes`` values, in the order of the kind codes below.
EVENT_TYPES: tuple[str, ...] = (
    "interactiveUser",
    "nonInteractiveUser",
    "servicePrincipal",
    "managedIdentity",
)
INTERACTIVE, NON_INTERACTIVE, SERVICE_PRINCIPAL, MANAGED_IDENTITY = range(4)
KIND_BY_EVENT_TYPE: dict[str, int] = {name: kind for kind, name in enumerate(EVENT_TYPES)}
VERSIONS: tuple[str, ...] = ("v1.0", "beta")
#: The tenant's logs, by their Graph entity set name (``auditLogs/<feed>``).
SIGNINS, DIRECTORY_AUDITS = "signIns", "directoryAudits"
FEEDS: tuple[str, ...] = (SIGNINS, DIRECTORY_AUDITS)

#: Fields of the v1.0 ``signIn`` resource; everything else the beta shape carries is beta-only.
V1_FIELDS: tuple[str, ...] = (
    "id",
    "createdDateTime",
    "userDisplayName",
    "userPrincipalName",
    "userId",
    "appId",
    "appDisplayName",
    "ipAddress",
    "clientAppUsed",
    "correlationId",
    "conditionalAccessStatus",
    "isInteractive",
    "riskDetail",
    "riskLevelAggregated",
    "riskLevelDuringSignIn",
    "riskState",
    "riskEventTypes",
    "riskEventTypes_v2",
    "resourceDisplayName",
    "resourceId",
    "status",
    "deviceDetail",
    "location",
    "appliedConditionalAccessPolicies",
)

# Event mix (cumulative): 60% interactive, 25% non-interactive, 10% SP, 5% managed identity.
_KIND_CUM = (0.60, 0.85, 0.95)
# Generated days kept in memory, by event count (~600 bytes each); at least two days.
_DEFAULT_CACHE_EVENTS = 500_000


@dataclass
class TenantConfig:
    """Who the synthetic tenant is and how busy it is."""

    tenant_id: str = "contoso"  # token URL path segment and the UPN domain
    seed: int = 42
    users: int = 200
    apps: int = 25
    signins_per_day: int = 2000  # all event types together
    client_id: str = "sim-client"
    client_secret: str = "sim-secret"
    directory_audits_per_day: int = 300
    #: Entra ID P1/P2: without it Graph answers 403 to auditLogs/signIns and to /users with
    #: signInActivity (Authentication_RequestFromNonPremiumTenantOrB2CTenant)
    premium_license: bool = True
    #: /users: a user is absent for this many hours after a successful "Delete user" audit and
    #: disabled after an "Update user" AccountEnabled -> false one (see users.py)
    user_changes_hours: float = 6.0


class SignInEvent(NamedTuple):
    """One generated sign-in in compact form; :meth:`SyntheticTenant.render` makes the record."""

    ts: int  # createdDateTime, epoch seconds
    visible: int  # epoch seconds from which the API shows it (ts + ingestion delay)
    created: str
    id: str
    correlation_id: str
    kind: int  # index into EVENT_TYPES
    actor: int  # user index, or workload index for service principals / managed identities
    app: int  # application index (user sign-ins only)
    place: int  # index into PLACES, -1 when unknown
    ip: str
    client: int  # index into CLIENT_APPS, -1 for workloads
    outcome: int  # index into OUTCOMES
    mfa: int  # index into MFA_METHODS, MFA_PREVIOUSLY_SATISFIED or NO_MFA
    device: int  # 0 own device, 1 unregistered device, 2 nothing known
    risk: int  # index into RISKS

    @property
    def event_type(self) -> str:
        return EVENT_TYPES[self.kind]

    @property
    def ingestion_delay_s(self) -> int:
        return self.visible - self.ts


#: An event as stored: a plain tuple in :class:`SignInEvent`'s field order. CPython's GC stops
#: tracking exact tuples of atomic values, but never a NamedTuple (a tuple subclass); 100k tracked
#: rows made every full collection of the process ~20x slower, and the ETL's own allocations
#: trigger many when it runs in the same process.
EventRow = tuple[int, int, str, str, str, int, int, int, int, str, int, int, int, int, int]
_TS, _VISIBLE, _ID, _KIND, _IP = 0, 1, 3, 5, 9


class _User(NamedTuple):
    id: str
    display_name: str
    upn: str
    user_type: str
    home_place: int
    profile: int
    device_id: str
    device_name: str
    trust_type: str
    compliant: bool
    managed: bool
    mfa_method: int
    home_tenant_id: str


class _Workload(NamedTuple):
    name: str
    app_id: str
    sp_id: str
    resource_name: str
    resource_id: str
    msi_type: str  # "none" for service principals
    credential_type: str
    place: int
    resource_path: str | None


def _domain_label(tenant_id: str) -> str:
    label = re.sub(r"[^a-z0-9]", "", tenant_id.lower())[:27]
    return label or "tenant"


class SyntheticTenant:
    """A tenant's users, applications, workloads and their sign-ins, reproducible from config.

    Records returned are fresh dicts; their nested objects are not shared between records.
    """

    def __init__(self, config: TenantConfig, *, cache_events: int = _DEFAULT_CACHE_EVENTS) -> None:
        if (
            config.users < 1
            or config.apps < 1
            or config.signins_per_day < 0
            or config.directory_audits_per_day < 0
        ):
            raise ValueError(
                "users and apps must be >= 1, signins_per_day and directory_audits_per_day >= 0"
            )
        self.config = config
        self.domain = f"{_domain_label(config.tenant_id)}.onmicrosoft.com"
        try:
            self.tenant_guid = str(uuid.UUID(config.tenant_id))
        except ValueError:
            self.tenant_guid = str(uuid.uuid5(uuid.NAMESPACE_DNS, self.domain))
        self._ns = uuid.UUID(self.tenant_guid)
        rng = random.Random(f"{config.seed}:{config.tenant_id}:tenant")
        self._apps = self._make_apps(config.apps)
        self._users = self._make_users(rng, config.users)
        self._service_principals, self._managed_identities = self._make_workloads(rng)
        self._resource_sp: dict[str, str] = {}
        self._fragments: dict[tuple[Any, ...], str] = {}
        self._builders: dict[str, Callable[..., dict[str, Any]]] = {
            "user": self._user_part,
            "app": self._app_part,
            "device": self._device_part,
            "flow": self._flow_part,
            "outcome": self._outcome_part,
            "place": _place_part,
            "risk": _risk_part,
            "workload": self._workload_part,
        }
        #: ~5% of users never sign in, so dormant-account reports have something to find.
        self.active_users = max(1, len(self._users) * 95 // 100)
        self._directory = DirectoryAuditLog(self)
        self._users_directory: DirectoryUsers | None = None
        self._days: OrderedDict[tuple[str, date], _Day] = OrderedDict()
        self._cache_events = cache_events
        self._lock = threading.Lock()
        self._generating = threading.Lock()

    # ---- tenant directory -------------------------------------------------------------

    def _id(self, name: str) -> str:
        return str(uuid.uuid5(self._ns, name))

    def _make_apps(self, count: int) -> list[cat.App]:
        apps = list(cat.KNOWN_APPS[:count])
        for i in range(count - len(apps)):
            base = cat.OTHER_APP_NAMES[i % len(cat.OTHER_APP_NAMES)]
            name = (
                base if i < len(cat.OTHER_APP_NAMES) else f"{base} {i // len(cat.OTHER_APP_NAMES)}"
            )
            app_id = self._id(f"app:{name}")
            apps.append(cat.App(name, app_id, name, app_id))
        return apps

    def _make_users(self, rng: random.Random, count: int) -> list[_User]:
        users: list[_User] = []
        taken: dict[str, int] = {}
        for i in range(count):
            first, first_ascii = rng.choice(cat.FIRST_NAMES)
            last, last_ascii = rng.choice(cat.LAST_NAMES)
            local = f"{first_ascii}.{last_ascii}"
            taken[local] = taken.get(local, 0) + 1
            if taken[local] > 1:
                local = f"{local}{taken[local]}"
            guest = rng.random() < 0.05
            if guest:
                mail_domain = rng.choice(cat.GUEST_DOMAINS)
                upn = f"{local}_{mail_domain}#EXT#@{self.domain}"
                home_place = rng.randrange(len(cat.PLACES))
                home_tenant = str(uuid.uuid5(uuid.NAMESPACE_DNS, mail_domain))
            else:
                upn = f"{local}@{self.domain}"
                home_place = rng.randrange(cat.HOME_PLACES)
                home_tenant = self.tenant_guid
            profile = rng.randrange(len(cat.DEVICE_PROFILES))
            registered = not guest and rng.random() < 0.85
            trust = rng.choice(cat.TRUST_TYPES) if registered else ""
            managed = registered and trust != "Azure AD registered"
            r = rng.random()
            users.append(
                _User(
                    id=self._id(f"user:{i}"),
                    display_name=f"{first} {last}",
                    upn=upn,
                    user_type="guest" if guest else "member",
                    home_place=home_place,
                    profile=profile,
                    device_id=self._id(f"device:{i}") if registered else "",
                    device_name=f"{'LT' if profile < 4 else 'PH'}-{last_ascii[:6].upper()}-{i:04d}"
                    if registered
                    else "",
                    trust_type=trust,
                    compliant=managed and rng.random() < 0.9,
                    managed=managed,
                    mfa_method=0 if r < 0.7 else (1 if r < 0.85 else 2),
                    home_tenant_id=home_tenant,
                )
            )
        return users

    def _make_workloads(self, rng: random.Random) -> tuple[list[_Workload], list[_Workload]]:
        apps = self.config.apps
        sps = []
        for name, (res_name, res_id) in cat.SERVICE_PRINCIPALS[: max(2, min(7, apps // 4))]:
            sps.append(
                _Workload(
                    name=name,
                    app_id=self._id(f"spapp:{name}"),
                    sp_id=self._id(f"sp:{name}"),
                    resource_name=res_name,
                    resource_id=res_id,
                    msi_type="none",
                    credential_type=rng.choice(("clientSecret", "certificate")),
                    place=rng.choice(cat.CLOUD_PLACES),
                    resource_path=None,
                )
            )
        mis = []
        subscription = self._id("subscription")
        for name, msi_type, (res_name, res_id) in cat.MANAGED_IDENTITIES[
            : max(2, min(5, apps // 5))
        ]:
            provider = (
                "Microsoft.ManagedIdentity/userAssignedIdentities"
                if msi_type == "userAssigned"
                else "Microsoft.Compute/virtualMachines"
            )
            mis.append(
                _Workload(
                    name=name,
                    app_id=self._id(f"miapp:{name}"),
                    sp_id=self._id(f"mi:{name}"),
                    resource_name=res_name,
                    resource_id=res_id,
                    msi_type=msi_type,
                    credential_type="managedIdentity",
                    place=-1,
                    resource_path=f"/subscriptions/{subscription}/resourceGroups/rg-prod/"
                    f"providers/{provider}/{name}",
                )
            )
        return sps, mis

    # ---- generation -------------------------------------------------------------------

    def _day(self, day: date, feed: str = SIGNINS) -> _Day:
        """One feed's generated day, from the cache shared by both feeds."""
        key = (feed, day)
        with self._lock:
            cached = self._days.get(key)
            if cached is not None:
                self._days.move_to_end(key)
                return cached
        with self._generating:  # one generation at a time: concurrent pages wait, not redo
            with self._lock:
                cached = self._days.get(key)
            if cached is not None:
                return cached
            with _gc_paused():
                if feed == SIGNINS:
                    generated = self._generate_day(day)
                elif feed == DIRECTORY_AUDITS:
                    generated = self._directory.generate_day(day)
                else:
                    raise ValueError(f"unknown feed {feed!r}; expected one of {FEEDS}")
            with self._lock:
                self._days[key] = generated
                cached_events = sum(len(d.events) for d in self._days.values())
                # Keep at least a day of each feed however large.
                while len(self._days) > 2 * len(FEEDS) and cached_events > self._cache_events:
                    _, evicted = self._days.popitem(last=False)
                    cached_events -= len(evicted.events)
        return generated

    def _generate_day(self, day: date) -> _Day:
        cfg = self.config
        rng = random.Random(f"{cfg.seed}:{cfg.tenant_id}:{day.isoformat()}")
        rand, bits = rng.random, rng.getrandbits
        n = cfg.signins_per_day
        day_start = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())
        prefix = f"{day.isoformat()}T"
        hours = rng.choices(range(24), cum_weights=_HOUR_CUM, k=n)
        n_active = self.active_users
        n_apps = len(self._apps)
        users, places = self._users, cat.PLACES
        n_places = len(places)
        sps, mis = self._service_principals, self._managed_identities
        events: list[EventRow] = []
        append = events.append
        for hour in hours:
            second = hour * 3600 + int(rand() * 3600)
            ts = day_start + second
            m, s = divmod(second % 3600, 60)
            created = f"{prefix}{hour:02d}:{m:02d}:{s:02d}Z"
            visible = ts + _ingestion_delay(rand())
            event_id, correlation_id = _uuid_str(bits(128)), _uuid_str(bits(128))
            r = rand()
            if r >= _KIND_CUM[1]:
                kind = SERVICE_PRINCIPAL if r < _KIND_CUM[2] else MANAGED_IDENTITY
                pool = sps if kind == SERVICE_PRINCIPAL else mis
                actor = int(rand() * len(pool))
                workload = pool[actor]
                place = workload.place
                ip = f"{places[place].ipv4_prefix}.{bits(8)}.{bits(8)}" if place >= 0 else ""
                failed = kind == SERVICE_PRINCIPAL and rand() < 0.03
                outcome = cat.BAD_CLIENT_SECRET if failed else cat.SUCCESS
                # fmt: off
                append((
                    ts, visible, created, event_id, correlation_id, kind, actor, -1,
                    place, ip, -1, outcome, cat.NO_MFA, 0, 0,
                ))
                # fmt: on
                continue
            kind = INTERACTIVE if r < _KIND_CUM[0] else NON_INTERACTIVE
            actor = int(n_active * rand() ** 1.3)  # a few users are far busier than most
            user = users[actor]
            app = int(n_apps * rand() ** 1.6)  # Teams and Exchange dominate
            r = rand()
            if r < 0.9:
                place = user.home_place
            elif r < 0.92:
                place = -1
            else:
                place = int(rand() * n_places)
            if place < 0:
                ip = f"10.{bits(8)}.{bits(8)}.{bits(8)}"
            elif rand() < 0.1:
                ip = f"{places[place].ipv6_prefix}:{bits(16):x}:{bits(16):x}::{bits(12):x}"
            else:
                ip = f"{places[place].ipv4_prefix}.{bits(8)}.{bits(8)}"
            r = rand()
            if kind == INTERACTIVE:
                client = (
                    0 if r < 0.62 else 1 if r < 0.95 else 2 if r < 0.97 else 3 if r < 0.99 else 4
                )
            else:
                client = 1 if r < 0.8 else 0
            outcome, mfa = self._outcome(rand, kind, client, user.mfa_method)
            r = rand()
            if r < 0.03:
                device = 2
            elif user.user_type == "guest" or not user.device_id or (client == 0 and r < 0.2):
                device = 1
            else:
                device = 0
            r = rand()
            away = place >= 0 and place != user.home_place
            if away and r < 0.5:
                risk = 1 + int(rand() * (len(cat.RISKS) - 1))
            elif r < 0.02:
                risk = 1 + int(rand() * 2)
            else:
                risk = 0
            # fmt: off
            append((
                ts, visible, created, event_id, correlation_id, kind, actor, app,
                place, ip, client, outcome, mfa, device, risk,
            ))
            # fmt: on
        events.sort(key=lambda e: (e[_TS], e[_ID]), reverse=True)
        return _Day(events, [-e[_TS] for e in events])

    @staticmethod
    def _outcome(rand: Any, kind: int, client: int, mfa_method: int) -> tuple[int, int]:
        """Pick (outcome, mfa) for a user sign-in: ~10% failures, MFA on about half."""
        r = rand()
        if kind == INTERACTIVE:
            if r < 0.105:
                if client >= 2 and rand() < 0.8:
                    return cat.BLOCKED_BY_CA, cat.NO_MFA  # legacy protocols get blocked
                f = r / 0.105
                if f < 0.4:
                    return cat.INVALID_PASSWORD, cat.NO_MFA
                if f < 0.65:
                    return cat.MFA_REQUIRED, cat.NO_MFA
                if f < 0.85:
                    return cat.BLOCKED_BY_CA, cat.NO_MFA
                return cat.LOCKED, cat.NO_MFA
            r = rand()
            if r < 0.45:
                return cat.SUCCESS, mfa_method
            return cat.SUCCESS, cat.MFA_PREVIOUSLY_SATISFIED if r < 0.6 else cat.NO_MFA
        if r < 0.08:
            return (cat.MFA_REQUIRED if r < 0.05 else cat.BLOCKED_BY_CA), cat.NO_MFA
        return cat.SUCCESS, cat.MFA_PREVIOUSLY_SATISFIED if rand() < 0.5 else cat.NO_MFA

    # ---- queries ----------------------------------------------------------------------

    def events_for_day(self, day: date) -> list[SignInEvent]:
        """All events of a UTC day, newest first, in compact form."""
        return [SignInEvent._make(row) for row in self._day(day).events]

    def query(
        self,
        lo: int,
        hi: int,
        kinds: Iterable[int] | None = None,
        visible_at: int | None = None,
    ) -> list[EventRow]:
        """Event rows with ``lo <= ts < hi`` (epoch seconds), newest first, of the given kinds
        (None = all), visible at ``visible_at`` (None = ignore ingestion delay)."""
        wanted = None if kinds is None else frozenset(kinds)
        if wanted is not None and len(wanted) >= len(EVENT_TYPES):
            wanted = None
        return self._rows(SIGNINS, lo, hi, _KIND, wanted, visible_at)

    def directory_audit_rows(
        self,
        lo: int,
        hi: int,
        categories: Iterable[str] | None = None,
        visible_at: int | None = None,
    ) -> list[AuditRow]:
        """Directory audit rows with ``lo <= ts < hi``, newest first, of the given categories
        (None = all, case-insensitive), visible at ``visible_at`` (None = ignore ingestion)."""
        wanted = activities_for(categories)
        return self._rows(DIRECTORY_AUDITS, lo, hi, ACTIVITY_FIELD, wanted, visible_at)

    def _rows(
        self,
        feed: str,
        lo: int,
        hi: int,
        field: int,
        wanted: frozenset[int] | None,
        visible_at: int | None,
    ) -> list[Any]:
        out: list[Any] = []
        if hi <= lo:
            return out
        day = datetime.fromtimestamp(hi - 1, UTC).date()
        first_day = datetime.fromtimestamp(lo, UTC).date()
        while day >= first_day:
            events, neg_ts = self._day(day, feed)
            i0 = bisect_left(neg_ts, 1 - hi)
            i1 = bisect_right(neg_ts, -lo)
            chunk = events[i0:i1]
            if wanted is not None:
                chunk = [e for e in chunk if e[field] in wanted]
            if visible_at is not None:
                chunk = [e for e in chunk if e[_VISIBLE] <= visible_at]
            out.extend(chunk)
            day -= timedelta(days=1)
        return out

    def signins_for_day(self, day: date) -> list[dict[str, Any]]:
        """Every sign-in of a UTC day (all event types, late or not), beta shape, newest first."""
        return _render_all(self.render, self._day(day).events)

    def signins(
        self,
        start: datetime,
        end: datetime,
        *,
        version: str = "beta",
        event_types: Iterable[str] | None = None,
        visible_at: datetime | None = None,
    ) -> list[dict[str, Any]]:
        """What Graph would return for ``start <= createdDateTime < end``, newest first.

        ``v1.0`` gives interactive user sign-ins only, without beta-only fields. ``beta`` gives
        ``event_types`` (default: interactive only, as Graph beta does without a
        ``signInEventTypes`` filter). ``visible_at`` hides events still in ingestion then.
        """
        kinds = kinds_for(version, event_types)
        lo, hi, va = _epoch_window(start, end, visible_at)
        events = self.query(lo, hi, kinds, va)
        return _render_all(self.render, events, version)

    def directory_audit_events_for_day(self, day: date) -> list[DirectoryAuditEvent]:
        """All directory audits of a UTC day, newest first, in compact form."""
        return [DirectoryAuditEvent._make(row) for row in self._day(day, DIRECTORY_AUDITS).events]

    def directory_audits_for_day(self, day: date) -> list[dict[str, Any]]:
        """Every directory audit of a UTC day (late or not), newest first."""
        return _render_all(self._directory.render, self._day(day, DIRECTORY_AUDITS).events)

    def directory_audits(
        self,
        start: datetime,
        end: datetime,
        *,
        version: str = "beta",
        categories: Iterable[str] | None = None,
        visible_at: datetime | None = None,
    ) -> list[dict[str, Any]]:
        """What Graph would return for ``start <= activityDateTime < end``, newest first.

        ``v1.0`` and ``beta`` serve the same shape. ``categories`` keeps those categories only
        (``category eq '...'``). ``visible_at`` hides audits still in ingestion then.
        """
        if version not in VERSIONS:
            raise ValueError(f"unknown Graph version {version!r}; expected one of {VERSIONS}")
        lo, hi, va = _epoch_window(start, end, visible_at)
        rows = self.directory_audit_rows(lo, hi, categories, va)
        return _render_all(self._directory.render, rows)

    @property
    def directory_users(self) -> DirectoryUsers:
        """The directory as ``/users`` lists it (built on first use)."""
        if self._users_directory is None:
            self._users_directory = DirectoryUsers(self)
        return self._users_directory

    def users(
        self,
        at: datetime,
        *,
        select: Iterable[str] | None = None,
        visible_at: datetime | None = None,
    ) -> list[dict[str, Any]]:
        """What ``/users`` lists at clock ``at``, ordered by object id: ``select`` as in
        ``$select`` (default Graph's default set); ``signInActivity`` from the sign-ins before
        ``at`` visible at ``visible_at`` (None: ignore ingestion delay)."""
        chosen = parse_select(",".join(select) if select is not None else None)
        va = None if visible_at is None else math.floor(_epoch(visible_at))
        return self.directory_users.records(math.floor(_epoch(at)), chosen, va)

    def render_directory_audit(self, e: AuditRow) -> dict[str, Any]:
        """The Graph ``directoryAudit`` record of a row, as a fresh dict."""
        return self._directory.render(e)

    def render_directory_audit_json(self, e: AuditRow) -> str:
        """``json.dumps(render_directory_audit(e))``, equal once parsed (what the server sends)."""
        return self._directory.render_json(e)

    # ---- rendering --------------------------------------------------------------------
    #
    # A record is the union of parts: one per event (ids, time, IP) and a few that depend only
    # on some event attributes (the user, the app, the device, the outcome, the place, ...).
    # render() builds fresh dicts from the parts; render_json() joins the cached JSON text of
    # the same parts, which serves a page several times faster than building and encoding
    # dicts. Both call the same part builders, so the two can never disagree.

    def _resource_sp_id(self, resource_id: str) -> str:
        sp = self._resource_sp.get(resource_id)
        if sp is None:
            sp = self._resource_sp[resource_id] = self._id(f"resource-sp:{resource_id}")
        return sp

    def _part_keys(self, e: EventRow) -> tuple[tuple[Any, ...], ...]:
        """(builder name, *arguments) of every part but the per-event one."""
        kind, actor, app, place, _ip, client, outcome, mfa, device, risk = e[_KIND:]
        if kind >= SERVICE_PRINCIPAL:
            return (("workload", kind, actor, outcome), ("place", place))
        if device == 0:
            subject = actor  # the user's own registered device
        elif device == 1:
            subject = self._users[actor].profile  # an unregistered device: OS/browser only
        else:
            subject = -1  # nothing known
        return (
            ("user", actor),
            ("app", app),
            ("device", subject, device, client),
            ("flow", kind, device == 0),
            ("outcome", kind, outcome, mfa, client >= 2),
            ("place", place),
            ("risk", risk),
        )

    def render(self, e: EventRow, version: str = "beta") -> dict[str, Any]:
        """The Graph ``signIn`` record of an event, shaped for ``version``, as a fresh dict."""
        _, _, created, event_id, correlation_id, kind = e[:6]
        record: dict[str, Any] = {
            "id": event_id,
            "createdDateTime": created,
            "ipAddress": e[_IP],
            "correlationId": correlation_id,
            "originalRequestId": event_id,
            "processingTimeInMilliseconds": _processing_ms(event_id, kind >= SERVICE_PRINCIPAL),
        }
        builders = self._builders
        for name, *args in self._part_keys(e):
            record.update(builders[name](*args, at=created))
        if version == "beta":
            return record
        if version == "v1.0":
            return {key: record[key] for key in V1_FIELDS}
        raise ValueError(f"unknown Graph version {version!r}")

    def render_json(self, e: EventRow, version: str = "beta") -> str:
        """``json.dumps(render(e, version))``, equal once parsed, from cached part texts."""
        _, _, created, event_id, correlation_id, kind = e[:6]
        # The per-event values are UUIDs, timestamps and IP addresses: nothing to escape.
        text = (
            f'{{"id":"{event_id}","createdDateTime":"{created}","ipAddress":"{e[_IP]}",'
            f'"correlationId":"{correlation_id}"'
        )
        if version == "beta":
            ms = _processing_ms(event_id, kind >= SERVICE_PRINCIPAL)
            text += f',"originalRequestId":"{event_id}","processingTimeInMilliseconds":{ms}'
        elif version != "v1.0":
            raise ValueError(f"unknown Graph version {version!r}")
        fragments = self._fragments
        pieces = [text]
        for key in self._part_keys(e):
            cache_key = (version, *key)
            fragment = fragments.get(cache_key)
            if fragment is None:
                fragment = fragments[cache_key] = self._fragment(version, key)
            if fragment:
                if key[0] == "outcome":
                    fragment = fragment.replace(_AT_PLACEHOLDER, created)
                pieces.append(fragment)
        return ",".join(pieces) + "}"

    def _fragment(self, version: str, key: tuple[Any, ...]) -> str:
        """JSON text of one part without braces ("" when the version has none of its fields)."""
        name, *args = key
        part = self._builders[name](*args, at=_AT_PLACEHOLDER)
        if version == "v1.0":
            part = {k: v for k, v in part.items() if k in _V1_SET}
        text = json.dumps(part, ensure_ascii=False, separators=(",", ":"), check_circular=False)
        if len(self._fragments) > _MAX_FRAGMENTS:
            self._fragments.clear()  # bounded memory for very large tenants
        return text[1:-1]

    def _user_part(self, actor: int, *, at: str) -> dict[str, Any]:
        user = self._users[actor]
        return {
            "userDisplayName": user.display_name,
            "userPrincipalName": user.upn,
            "userId": user.id,
            "userType": user.user_type,
            "homeTenantId": user.home_tenant_id,
            "crossTenantAccessType": "b2bCollaboration" if user.user_type == "guest" else "none",
            "servicePrincipalId": "",
            "servicePrincipalName": "",
            "managedIdentityType": "none",
            "managedServiceIdentity": {
                "msiType": "none",
                "associatedResourceId": None,
                "federatedTokenId": None,
                "federatedTokenIssuer": None,
            },
            "clientCredentialType": "none",
            **_common_part(),
        }

    def _app_part(self, index: int, *, at: str) -> dict[str, Any]:
        app = self._apps[index]
        return {
            "appId": app.app_id,
            "appDisplayName": app.name,
            "resourceDisplayName": app.resource_name,
            "resourceId": app.resource_id,
            "resourceServicePrincipalId": self._resource_sp_id(app.resource_id),
            "resourceTenantId": self.tenant_guid,
        }

    def _device_part(self, subject: int, device: int, client: int, *, at: str) -> dict[str, Any]:
        if device == 2:
            detail: dict[str, Any] = {
                "deviceId": "",
                "displayName": None,
                "operatingSystem": None,
                "browser": None,
                "isCompliant": None,
                "isManaged": None,
                "trustType": None,
            }
            return {
                "clientAppUsed": cat.CLIENT_APPS[client],
                "userAgent": "",
                "deviceDetail": detail,
            }
        user = self._users[subject] if device == 0 else None
        os_name, browser, agent = cat.DEVICE_PROFILES[user.profile if user else subject]
        if client != 0:
            browser, agent = cat.RICH_CLIENT, cat.RICH_CLIENT_AGENT
        detail = {
            "deviceId": user.device_id if user else "",
            "displayName": user.device_name if user else "",
            "operatingSystem": os_name,
            "browser": browser,
            "isCompliant": user.compliant if user else False,
            "isManaged": user.managed if user else False,
            "trustType": user.trust_type if user else "",
        }
        return {
            "clientAppUsed": cat.CLIENT_APPS[client],
            "userAgent": agent,
            "deviceDetail": detail,
        }

    def _flow_part(self, kind: int, own_device: bool, *, at: str) -> dict[str, Any]:
        interactive = kind == INTERACTIVE
        if interactive:
            incoming = "none"
        else:
            incoming = "primaryRefreshToken" if own_device else "refreshToken"
        return {
            "isInteractive": interactive,
            "signInEventTypes": [EVENT_TYPES[kind]],
            "authenticationProtocol": "none" if interactive else "oAuth2",
            "incomingTokenType": incoming,
        }

    def _outcome_part(
        self, kind: int, outcome: int, mfa: int, legacy: bool, *, at: str
    ) -> dict[str, Any]:
        ca_status, policies = _conditional_access(outcome, mfa, legacy)
        if mfa == cat.NO_MFA:
            mfa_detail = None
        elif mfa == cat.MFA_PREVIOUSLY_SATISFIED:
            mfa_detail = {"authMethod": "Previously satisfied", "authDetail": None}
        else:
            method, method_detail = cat.MFA_METHODS[mfa]
            mfa_detail = {"authMethod": method, "authDetail": method_detail}
        mfa_required = mfa != cat.NO_MFA or outcome == cat.MFA_REQUIRED
        return {
            "status": _status(outcome),
            "conditionalAccessStatus": ca_status,
            "appliedConditionalAccessPolicies": policies,
            "authenticationRequirement": "multiFactorAuthentication"
            if mfa_required
            else "singleFactorAuthentication",
            "authenticationDetails": _auth_steps(at, kind == INTERACTIVE, outcome, mfa),
            "mfaDetail": mfa_detail,
        }

    def _workload_part(self, kind: int, actor: int, outcome: int, *, at: str) -> dict[str, Any]:
        managed = kind == MANAGED_IDENTITY
        w = (self._managed_identities if managed else self._service_principals)[actor]
        return {
            # Workload sign-ins have no user: Graph leaves these null or empty.
            "userDisplayName": None,
            "userPrincipalName": None,
            "userId": "",
            "userType": "member",
            "homeTenantId": self.tenant_guid,
            "crossTenantAccessType": "none",
            "servicePrincipalId": w.sp_id,
            "servicePrincipalName": w.name,
            "managedIdentityType": w.msi_type,
            "managedServiceIdentity": {
                "msiType": w.msi_type,
                "associatedResourceId": w.resource_path,
                "federatedTokenId": None,
                "federatedTokenIssuer": None,
            },
            "clientCredentialType": w.credential_type,
            **_common_part(),
            "appId": w.app_id,
            "appDisplayName": w.name,
            "resourceDisplayName": w.resource_name,
            "resourceId": w.resource_id,
            "resourceServicePrincipalId": self._resource_sp_id(w.resource_id),
            "resourceTenantId": self.tenant_guid,
            "clientAppUsed": "",
            "userAgent": "",
            "deviceDetail": {
                "deviceId": "",
                "displayName": "",
                "operatingSystem": "",
                "browser": "",
                "isCompliant": False,
                "isManaged": False,
                "trustType": "",
            },
            "isInteractive": False,
            "signInEventTypes": [EVENT_TYPES[kind]],
            "authenticationProtocol": "none",
            "incomingTokenType": "none",
            "status": _status(outcome),
            "conditionalAccessStatus": "notApplied",
            "appliedConditionalAccessPolicies": [],
            "authenticationRequirement": "singleFactorAuthentication",
            "authenticationDetails": [],
            "mfaDetail": None,
            **_risk_part(0, at=at),
        }


_AT_PLACEHOLDER = "@@authenticationStepDateTime@@"
_V1_SET = frozenset(V1_FIELDS)
_MAX_FRAGMENTS = 200_000


def _epoch_window(
    start: datetime, end: datetime, visible_at: datetime | None
) -> tuple[int, int, int | None]:
    """``start <= t < end`` and ``visible_at`` as the whole epoch seconds rows carry: a bound
    between two seconds moves up to the next one, the visibility cut-off down."""
    va = None if visible_at is None else math.floor(_epoch(visible_at))
    return math.ceil(_epoch(start)), math.ceil(_epoch(end)), va


def _render_all(
    render: Callable[..., dict[str, Any]], rows: Iterable[Any], *args: Any
) -> list[dict[str, Any]]:
    """``render(row, *args)`` for every row, with the cyclic GC paused: many fresh dicts."""
    with _gc_paused():
        return [render(e, *args) for e in rows]


def _processing_ms(event_id: str, workload: bool) -> int:
    spread = int(event_id[:3], 16)  # stable per event without another random draw
    return 20 + spread % 200 if workload else 40 + spread % 500


def _common_part() -> dict[str, Any]:
    return {
        "tokenIssuerName": "",
        "tokenIssuerType": "AzureAD",
        "ipAddressFromResourceProvider": None,
        "flaggedForReview": False,
        "isTenantRestricted": False,
        "networkLocationDetails": [],
        "sessionLifetimePolicies": [],
    }


def _status(outcome: int) -> dict[str, Any]:
    code, reason, details = cat.OUTCOMES[outcome]
    return {"errorCode": code, "failureReason": reason, "additionalDetails": details}


def _risk_part(risk: int, *, at: str) -> dict[str, Any]:
    aggregated, during, state, detail, event_types = cat.RISKS[risk]
    return {
        "riskDetail": detail,
        "riskLevelAggregated": aggregated,
        "riskLevelDuringSignIn": during,
        "riskState": state,
        "riskEventTypes": list(event_types),
        "riskEventTypes_v2": list(event_types),
    }


def _place_part(place: int, *, at: str) -> dict[str, Any]:
    if place < 0:
        return {
            "autonomousSystemNumber": None,
            "location": {
                "city": None,
                "state": None,
                "countryOrRegion": None,
                "geoCoordinates": {"altitude": None, "latitude": None, "longitude": None},
            },
        }
    p = cat.PLACES[place]
    return {
        "autonomousSystemNumber": p.asn,
        "location": {
            "city": p.city,
            "state": p.state,
            "countryOrRegion": p.country,
            "geoCoordinates": {"altitude": None, "latitude": p.latitude, "longitude": p.longitude},
        },
    }


def kinds_for(version: str, event_types: Iterable[str] | None) -> frozenset[int]:
    """Event kinds a request returns: v1.0 is interactive only; beta defaults to interactive."""
    if version not in VERSIONS:
        raise ValueError(f"unknown Graph version {version!r}; expected one of {VERSIONS}")
    if event_types is None:
        return frozenset({INTERACTIVE})
    names = set(event_types)
    unknown = names - KIND_BY_EVENT_TYPE.keys()
    if unknown:
        raise ValueError(f"unknown signInEventTypes {sorted(unknown)}; expected {EVENT_TYPES}")
    if version == "v1.0" and names != {"interactiveUser"}:
        raise ValueError("v1.0 has no signInEventTypes: it returns interactive sign-ins only")
    return frozenset(KIND_BY_EVENT_TYPE[name] for name in names)


_PRIMARY, _SECOND = "Primary authentication", "Multi-factor authentication"
_MFA_CLAIM = "MFA requirement satisfied by claim in the token"
_BAD_PASSWORD = "Invalid username or password or Invalid on-premise username or password."


def _step(at: str, method: str, detail: str, ok: bool, result: str, req: str) -> dict[str, Any]:
    return {
        "authenticationStepDateTime": at,
        "authenticationMethod": method,
        "authenticationMethodDetail": detail,
        "succeeded": ok,
        "authenticationStepResultDetail": result,
        "authenticationStepRequirement": req,
    }


def _claim_step(at: str, result: str, req: str) -> dict[str, Any]:
    """A step the refresh token's claim satisfied: nothing for the user to do."""
    return _step(at, "Previously satisfied", "", True, result, req)


def _auth_steps(at: str, interactive: bool, outcome: int, mfa: int) -> list[dict[str, Any]]:
    """The beta ``authenticationDetails`` of a user sign-in."""
    if not interactive:
        steps = [
            _claim_step(at, "First factor requirement satisfied by claim in the token", _PRIMARY)
        ]
        if mfa == cat.MFA_PREVIOUSLY_SATISFIED:
            steps.append(_claim_step(at, _MFA_CLAIM, _SECOND))
        return steps
    if outcome in (cat.INVALID_PASSWORD, cat.LOCKED):
        return [_step(at, "Password", "Password in the cloud", False, _BAD_PASSWORD, _PRIMARY)]
    if mfa == cat.MFA_FIDO2:  # FIDO2 keys sign in without a password: one strong step
        method, detail = cat.MFA_METHODS[cat.MFA_FIDO2]
        return [_step(at, method, detail, True, "MFA successfully completed", _PRIMARY)]
    steps = [_step(at, "Password", "Password in the cloud", True, "Correct password", _PRIMARY)]
    if mfa == cat.MFA_PREVIOUSLY_SATISFIED:
        steps.append(_claim_step(at, _MFA_CLAIM, _SECOND))
    elif mfa != cat.NO_MFA:
        method, detail = cat.MFA_METHODS[mfa]
        steps.append(_step(at, method, detail, True, "MFA successfully completed", _SECOND))
    return steps


def _conditional_access(outcome: int, mfa: int, legacy: bool) -> tuple[str, list[dict[str, Any]]]:
    """(conditionalAccessStatus, appliedConditionalAccessPolicies) of a user sign-in."""
    results = ["notApplied"] * len(cat.CA_POLICIES)
    status = "notApplied"
    if outcome == cat.BLOCKED_BY_CA:
        results[1 if legacy else 2] = "failure"  # legacy protocols, else device compliance
        status = "failure"
    elif outcome == cat.MFA_REQUIRED:
        results[0] = "failure"
        status = "failure"
    elif mfa != cat.NO_MFA:
        results[0] = "success"
        status = "success"
    policies = [
        {
            "id": policy_id,
            "displayName": name,
            "enforcedGrantControls": list(grants) if result != "notApplied" else [],
            "enforcedSessionControls": [],
            "result": result,
        }
        for (name, policy_id, grants), result in zip(cat.CA_POLICIES, results, strict=True)
    ]
    return status, policies
