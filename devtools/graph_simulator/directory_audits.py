"""The directory audit log (``auditLogs/directoryAudits``) of a synthetic tenant.

Built on the tenant's own directory, so the two feeds agree: the users who are added to roles
and groups, reset or deleted are the tenant's users (same object ids, UPNs and display names
as ``userId`` / ``userPrincipalName`` in its sign-ins), the applications whose credentials
change or that get consent are the tenant's applications and workloads (their ``appId`` is the
``appId`` sign-ins carry), Conditional Access policies are the ones sign-ins are evaluated
against, and app-initiated changes come from the tenant's service principals (same
``servicePrincipalId``) or from first-party services that Graph reports without an appId.

Generated per UTC day from ``(seed, tenant_id, day)`` into compact rows like sign-ins
(:class:`DirectoryAuditEvent` is one row) and rendered to Graph ``directoryAudit`` records from
cached JSON fragments; see :class:`DirectoryAuditLog`.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

from . import _catalog as cat
from ._common import HOUR_CUM, Day, ingestion_delay, uuid_str

if TYPE_CHECKING:
    from .tenant import SyntheticTenant

USER_INITIATED, APP_INITIATED, SYSTEM_INITIATED = range(3)
SUCCESS, FAILURE, TIMEOUT = range(3)
RESULTS: tuple[str, ...] = ("success", "failure", "timeout")
CATEGORIES: tuple[str, ...] = cat.DIRECTORY_AUDIT_CATEGORIES
_CANONICAL_CATEGORY = {name.lower(): name for name in CATEGORIES}

#: A row as stored: a plain tuple in :class:`DirectoryAuditEvent`'s field order (see
#: ``EventRow`` in the tenant module for why not a NamedTuple).
AuditRow = tuple[int, int, str, str, str, int, int, int, int, int, int, str, int]
ACTIVITY_FIELD = 5  # row position of the activity code


class DirectoryAuditEvent(NamedTuple):
    """One generated directory audit in compact form."""

    ts: int  # activityDateTime, epoch seconds
    visible: int  # epoch seconds from which the API shows it (ts + ingestion delay)
    created: str
    id: str
    correlation_id: str
    activity: int  # index into _catalog.ACTIVITIES
    result: int  # SUCCESS, FAILURE or TIMEOUT
    initiator_kind: int  # USER_INITIATED, APP_INITIATED or SYSTEM_INITIATED
    initiator: int  # user index, or index into DirectoryAuditLog.app_actors, -1 for the system
    target: int  # user, application registration, policy or role index (by activity)
    target2: int  # group, role or change index (by activity), else -1
    ip: str  # initiating user's address, "" for apps and the system
    extra: int  # 128 random bits for per-record details (key ids, request ids, reasons)

    @property
    def activity_display_name(self) -> str:
        return cat.ACTIVITIES[self.activity].name

    @property
    def category(self) -> str:
        return cat.ACTIVITIES[self.activity].category

    @property
    def ingestion_delay_s(self) -> int:
        return self.visible - self.ts


class AppActor(NamedTuple):
    """An application that changes the directory (``initiatedBy.app``)."""

    name: str
    app_id: str | None  # None: Graph sends appId null for these
    sp_id: str
    sp_name: str | None


class Registration(NamedTuple):
    """An application registered in the tenant, with its service principal."""

    name: str
    app_id: str  # what sign-ins carry as appId
    object_id: str  # the application object: targetResources[].id of Application targets
    sp_id: str  # the service principal: targetResources[].id of ServicePrincipal targets
    url: str


def activities_for(categories: Iterable[str] | None) -> frozenset[int] | None:
    """Activity codes of the given categories (case-insensitive); None = all."""
    if categories is None:
        return None
    wanted = {_CANONICAL_CATEGORY.get(name.lower(), name) for name in categories}
    return frozenset(i for i, a in enumerate(cat.ACTIVITIES) if a.category in wanted)


def _encode(value: Any) -> str | None:
    """Graph's JSON-encoded ``oldValue``/``newValue`` (None stays null)."""
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _modified(name: str, old: Any, new: Any) -> dict[str, Any]:
    return {"displayName": name, "oldValue": _encode(old), "newValue": _encode(new)}


def _membership_change(values: Iterable[tuple[str, Any]], *, adding: bool) -> list[dict[str, Any]]:
    """The member's ``modifiedProperties``: the group's or role's values gained, or lost."""
    return [
        _modified(key, None, value) if adding else _modified(key, value, None)
        for key, value in values
    ]


def _target(
    target_id: str | None,
    name: str | None,
    kind: str,
    *,
    upn: str | None = None,
    group_type: str | None = None,
    modified: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "id": target_id,
        "displayName": name,
        "type": kind,
        "userPrincipalName": upn,
        "groupType": group_type,
        "modifiedProperties": modified if modified is not None else [],
    }


def _detail(key: str, value: str) -> dict[str, str]:
    return {"key": key, "value": value}


_CODE_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_IP_PLACEHOLDER = "@@ipAddress@@"
#: Parts holding per-record values: rendered every time, never cached.
_PER_RECORD_PARTS = frozenset({"credentials", "pim"})
_MAX_FRAGMENTS = 200_000
_USER_AGENT_KEY = "User-Agent"
#: Activities whose additionalDetails depend on the target (its user type or appId).
_DETAIL_TARGETS = frozenset(
    {
        cat.ADD_USER,
        cat.UPDATE_USER,
        cat.DELETE_USER,
        cat.APP_CREDENTIALS,
        cat.CONSENT,
        cat.ADD_SERVICE_PRINCIPAL,
    }
)


class DirectoryAuditLog:
    """Directory audits of one :class:`~devtools.graph_simulator.tenant.SyntheticTenant`."""

    def __init__(self, tenant: SyntheticTenant) -> None:
        self.tenant = tenant
        config = tenant.config
        rng = random.Random(f"{config.seed}:{config.tenant_id}:directory")
        users = tenant._users
        n_active = tenant.active_users
        members = [i for i in range(n_active) if users[i].user_type == "member"]
        #: Members who sign in: role holders and administrators come from them.
        self.members = members or list(range(n_active))
        n_admins = max(2, min(12, len(users) // 25))
        self.admins = sorted(rng.sample(self.members, min(n_admins, len(self.members))))
        #: Users who never sign in: deleted ones come from them while there are any.
        self.dormant = list(range(n_active, len(users)))
        n_groups = min(len(cat.GROUPS), max(3, len(users) // 10))
        self.groups = [
            (tenant._id(f"group:{name}"), name, group_type)
            for name, group_type in cat.GROUPS[:n_groups]
        ]
        self.roles = [
            (tenant._id(f"role:{template}"), name, template, well_known)
            for name, template, well_known in cat.ROLES
        ]
        self.registrations = self._make_registrations()
        self.app_actors = [
            AppActor(w.name, w.app_id, w.sp_id, w.name) for w in tenant._service_principals
        ] + [AppActor(name, None, tenant._id(f"first-party:{name}"), None)
             for name in cat.FIRST_PARTY_ACTORS]  # fmt: skip
        self._app_pools = self._make_app_pools()
        self._cum_weights: list[float] = []
        total = 0.0
        for activity in cat.ACTIVITIES:
            total += activity.weight
            self._cum_weights.append(total)
        self._prefixes = [cat.ID_PREFIXES[a.service] for a in cat.ACTIVITIES]
        self._fragments: dict[tuple[Any, ...], str] = {}
        self._builders: dict[str, Callable[..., dict[str, Any]]] = {
            "head": self._head_part,
            "by": self._initiator_part,
            "targets": self._targets_part,
            "details": self._details_part,
            "credentials": self._credentials_part,
            "pim": self._pim_part,
        }

    def _make_registrations(self) -> list[Registration]:
        """The tenant's own applications: its service principals' app registrations and its
        line-of-business / gallery applications (not Microsoft's first-party apps)."""
        t = self.tenant
        regs = [
            Registration(
                w.name,
                w.app_id,
                t._id(f"appobj:{w.app_id}"),
                w.sp_id,
                f"https://{w.name}.{t.domain}",
            )
            for w in t._service_principals
        ]
        for app in t._apps[len(cat.KNOWN_APPS) :]:
            slug = "".join(c for c in app.name.lower() if c.isalnum())
            regs.append(
                Registration(
                    app.name,
                    app.app_id,
                    t._id(f"appobj:{app.app_id}"),
                    t._id(f"appsp:{app.app_id}"),
                    f"https://{slug}.example.com",
                )
            )
        return regs

    def _make_app_pools(self) -> dict[int, list[int]]:
        by_name = {actor.name: i for i, actor in enumerate(self.app_actors)}
        workloads = list(range(len(self.tenant._service_principals)))

        def pool(names: tuple[str, ...]) -> list[int]:
            return [by_name[name] for name in names if name in by_name] or workloads

        users, roles, apps = (
            pool(cat.USER_ADMIN_APPS),
            pool(cat.ROLE_ADMIN_APPS),
            pool(cat.APP_ADMIN_APPS),
        )
        return {
            cat.ADD_GROUP_MEMBER: users,
            cat.REMOVE_GROUP_MEMBER: users,
            cat.UPDATE_USER: users,
            cat.ADD_USER: users,
            cat.DELETE_USER: users,
            cat.ADD_ROLE_MEMBER: roles,
            cat.REMOVE_ROLE_MEMBER: roles,
            cat.APP_CREDENTIALS: apps,
            cat.ADD_SERVICE_PRINCIPAL: apps,
        }

    # ---- generation -------------------------------------------------------------------

    def generate_day(self, day: date) -> Day:
        t = self.tenant
        cfg = t.config
        rng = random.Random(f"{cfg.seed}:{cfg.tenant_id}:{day.isoformat()}:directoryAudits")
        rand, bits = rng.random, rng.getrandbits
        n = cfg.directory_audits_per_day
        day_start = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())
        prefix = f"{day.isoformat()}T"
        hours = rng.choices(range(24), cum_weights=HOUR_CUM, k=n)
        codes = rng.choices(range(len(cat.ACTIVITIES)), cum_weights=self._cum_weights, k=n)
        users, places = t._users, cat.PLACES
        n_users, n_active = len(users), t.active_users
        members, admins, dormant = self.members, self.admins, self.dormant
        n_members, n_admins = len(members), len(admins)
        n_groups, n_roles, n_regs = len(self.groups), len(self.roles), len(self.registrations)
        n_policies = len(cat.CA_POLICIES)
        pools = self._app_pools
        activities, prefixes, alphabet = cat.ACTIVITIES, self._prefixes, _CODE_ALPHABET
        rows: list[AuditRow] = []
        append = rows.append
        for hour, code in zip(hours, codes, strict=True):
            second = hour * 3600 + int(rand() * 3600)
            ts = day_start + second
            m, s = divmod(second % 3600, 60)
            created = f"{prefix}{hour:02d}:{m:02d}:{s:02d}Z"
            visible = ts + ingestion_delay(rand())
            correlation_id = uuid_str(bits(128))
            v = bits(25)
            short = "".join([alphabet[(v >> shift) & 31] for shift in (0, 5, 10, 15, 20)])
            record_id = f"{prefixes[code]}_{correlation_id}_{short}_{bits(27) % 100_000_000:08d}"
            spec = activities[code]
            r = rand()
            if r < spec.failure_share:
                result = FAILURE
            elif r < spec.failure_share + cat.TIMEOUT_SHARE:
                result = TIMEOUT
            else:
                result = SUCCESS
            r = rand()
            if r < spec.system_share:
                kind, initiator = SYSTEM_INITIATED, -1
            elif r < spec.system_share + spec.app_share:
                pool = pools[code]
                kind, initiator = APP_INITIATED, pool[int(rand() * len(pool))]
            else:
                kind, initiator = USER_INITIATED, admins[int(rand() * n_admins)]
            target2 = -1
            if code <= cat.UPDATE_USER:  # group membership and user updates: busy users most
                target = int(n_active * rand() ** 1.3)
                if code == cat.UPDATE_USER:
                    target = int(n_users * rand() ** 1.3)
                    target2 = int(rand() * len(cat.USER_CHANGES))
                else:
                    target2 = int(rand() * n_groups)
            elif code <= cat.PIM_ACTIVATION:  # roles: members who sign in, rare roles rarely
                target2 = int(n_roles * rand() ** 1.5)
                if code == cat.PIM_ACTIVATION:
                    target = initiator  # administrators activate their own eligible roles
                else:
                    target = members[int(n_members * rand() ** 1.3)]
            elif code <= cat.RESET_SELF_SERVICE:
                target = members[int(n_members * rand() ** 1.3)]
                if code == cat.RESET_SELF_SERVICE:
                    initiator = target
            elif code == cat.ADD_USER:
                target = int(n_users * rand())
            elif code == cat.DELETE_USER:
                # Deleted: users who never sign in, while there are any.
                pick = int(rand() * (len(dormant) or n_users))
                target = dormant[pick] if dormant else pick
            elif code <= cat.ADD_SERVICE_PRINCIPAL:
                target = int(n_regs * rand())
                if code == cat.CONSENT and kind == USER_INITIATED and rand() < 0.6:
                    # Most consents are users consenting for themselves, not administrators.
                    initiator = members[int(n_members * rand() ** 1.3)]
            elif code == cat.UPDATE_CA_POLICY:
                target = int(n_policies * rand())
                target2 = int(rand() * len(cat.CA_STATE_CHANGES))
            else:
                target = -1
                target2 = int(rand() * len(cat.COMPANY_CHANGES))
            if kind == USER_INITIATED:
                place = places[users[initiator].home_place]
                ip = f"{place.ipv4_prefix}.{bits(8)}.{bits(8)}"
            else:
                ip = ""
            # fmt: off
            append((
                ts, visible, created, record_id, correlation_id, code, result, kind, initiator,
                target, target2, ip, bits(128),
            ))
            # fmt: on
        rows.sort(key=lambda e: (e[0], e[3]), reverse=True)
        return Day(rows, [-e[0] for e in rows])

    # ---- rendering --------------------------------------------------------------------
    #
    # As for sign-ins: a record is the union of parts, one per record (ids and time) and a few
    # that depend on some of its attributes; render() builds fresh dicts from the parts and
    # render_json() joins their cached JSON text. Parts with per-record values (credential key
    # ids, PIM request ids) are encoded every time.

    def _part_keys(self, e: AuditRow) -> list[tuple[Any, ...]]:
        code, result, kind, initiator, target, target2, _ip, extra = e[ACTIVITY_FIELD:]
        spec = cat.ACTIVITIES[code]
        if result == FAILURE:
            reason = extra % len(spec.failure_reasons)
        elif code == cat.PIM_ACTIVATION and result == SUCCESS:
            reason = extra % len(cat.PIM_JUSTIFICATIONS)
        else:
            reason = 0
        keys: list[tuple[Any, ...]] = [("head", code, result, reason), ("by", kind, initiator)]
        if code == cat.APP_CREDENTIALS:
            keys.append(("credentials", target, extra, e[2]))
        else:
            principal = initiator if code == cat.CONSENT and kind == USER_INITIATED else -1
            keys.append(("targets", code, target, target2, principal))
        if code == cat.PIM_ACTIVATION:
            keys.append(("pim", extra, e[0]))
        else:
            # Administrators work in a browser: user-initiated core changes carry its agent.
            agent = -1
            if kind == USER_INITIATED and spec.service == cat.CORE:
                agent = self.tenant._users[initiator].profile
            keys.append(("details", code, agent, target if code in _DETAIL_TARGETS else -1))
        return keys

    def render(self, e: AuditRow) -> dict[str, Any]:
        """The Graph ``directoryAudit`` record of a row, as a fresh dict."""
        record: dict[str, Any] = {"id": e[3], "activityDateTime": e[2], "correlationId": e[4]}
        builders = self._builders
        ip = e[11]
        for name, *args in self._part_keys(e):
            if name == "by":
                record.update(self._initiator_part(*args, ip=ip))
            else:
                record.update(builders[name](*args))
        return record

    def render_json(self, e: AuditRow) -> str:
        """``json.dumps(render(e))``, equal once parsed, from cached part texts."""
        # Ids, timestamps and addresses: nothing to escape.
        pieces = [f'{{"id":"{e[3]}","activityDateTime":"{e[2]}","correlationId":"{e[4]}"']
        fragments = self._fragments
        for key in self._part_keys(e):
            name = key[0]
            if name in _PER_RECORD_PARTS:
                pieces.append(self._encode_part(self._builders[name](*key[1:])))
                continue
            fragment = fragments.get(key)
            if fragment is None:
                if len(fragments) > _MAX_FRAGMENTS:
                    fragments.clear()  # bounded memory for very large tenants
                args = key[1:]
                part = (
                    self._initiator_part(*args, ip=_IP_PLACEHOLDER)
                    if name == "by"
                    else self._builders[name](*args)
                )
                fragment = fragments[key] = self._encode_part(part)
            if name == "by" and e[11]:
                fragment = fragment.replace(_IP_PLACEHOLDER, e[11])
            pieces.append(fragment)
        return ",".join(pieces) + "}"

    @staticmethod
    def _encode_part(part: dict[str, Any]) -> str:
        text = json.dumps(part, ensure_ascii=False, separators=(",", ":"), check_circular=False)
        return text[1:-1]

    # ---- parts ------------------------------------------------------------------------

    def _head_part(self, code: int, result: int, reason: int) -> dict[str, Any]:
        spec = cat.ACTIVITIES[code]
        if result == FAILURE:
            text = spec.failure_reasons[reason]
        elif result == TIMEOUT:
            text = cat.TIMEOUT_REASON
        elif code == cat.PIM_ACTIVATION:
            text = cat.PIM_JUSTIFICATIONS[reason]
        else:
            text = ""
        return {
            "category": spec.category,
            "result": RESULTS[result],
            "resultReason": text,
            "activityDisplayName": spec.name,
            "loggedByService": spec.service,
            "operationType": spec.operation,
        }

    def _initiator_part(self, kind: int, index: int, *, ip: str) -> dict[str, Any]:
        if kind == USER_INITIATED:
            user = self.tenant._users[index]
            return {
                "initiatedBy": {
                    "user": {
                        "id": user.id,
                        "displayName": user.display_name,
                        "userPrincipalName": user.upn,
                        "ipAddress": ip,
                        "userType": None,
                        "homeTenantId": None,
                        "homeTenantName": None,
                    },
                    "app": None,
                }
            }
        if kind == APP_INITIATED:
            actor = self.app_actors[index]
            return {
                "initiatedBy": {
                    "user": None,
                    "app": {
                        "appId": actor.app_id,
                        "displayName": actor.name,
                        "servicePrincipalId": actor.sp_id,
                        "servicePrincipalName": actor.sp_name,
                    },
                }
            }
        return {"initiatedBy": {"user": None, "app": None}}

    def _user_target(
        self, index: int, *, named: bool = True, modified: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        user = self.tenant._users[index]
        name = user.display_name if named else None
        return _target(user.id, name, "User", upn=user.upn, modified=modified)

    def _targets_part(self, code: int, target: int, target2: int, principal: int) -> dict[str, Any]:
        if code in (cat.ADD_GROUP_MEMBER, cat.REMOVE_GROUP_MEMBER):
            group_id, name, group_type = self.groups[target2]
            values = (("Group.ObjectID", group_id), ("Group.DisplayName", name))
            modified = _membership_change(values, adding=code == cat.ADD_GROUP_MEMBER)
            modified.append(_modified("Group.WellKnownObjectName", None, None))
            targets = [
                self._user_target(target, named=False, modified=modified),
                _target(group_id, name, "Group", group_type=group_type),
            ]
        elif code in (cat.ADD_ROLE_MEMBER, cat.REMOVE_ROLE_MEMBER):
            role_id, name, template, well_known = self.roles[target2]
            values = (
                ("Role.ObjectID", role_id),
                ("Role.DisplayName", name),
                ("Role.TemplateId", template),
                ("Role.WellKnownObjectName", well_known),
            )
            modified = _membership_change(values, adding=code == cat.ADD_ROLE_MEMBER)
            targets = [
                self._user_target(target, named=False, modified=modified),
                _target(role_id, name, "Role"),
            ]
        elif code == cat.PIM_ACTIVATION:
            role_id, name, _template, _known = self.roles[target2]
            targets = [
                _target(role_id, name, "Role"),
                self._user_target(target),
                _target(self.tenant.tenant_guid, "Directory", "Other"),
            ]
        elif code in (cat.RESET_USER_PASSWORD, cat.RESET_BY_ADMIN, cat.RESET_SELF_SERVICE):
            targets = [self._user_target(target)]
        elif code == cat.UPDATE_USER:
            prop, old, new = cat.USER_CHANGES[target2]
            modified = [
                _modified(prop, old, new),
                _modified("Included Updated Properties", None, prop),
                _modified("TargetId.UserType", None, self._user_type(target)),
            ]
            targets = [self._user_target(target, named=False, modified=modified)]
        elif code == cat.ADD_USER:
            user = self.tenant._users[target]
            modified = [
                _modified("AccountEnabled", [], [True]),
                _modified("DisplayName", [], [user.display_name]),
                _modified("UserPrincipalName", [], [user.upn]),
                _modified("UserType", [], [self._user_type(target)]),
                _modified(
                    "Included Updated Properties",
                    None,
                    "AccountEnabled, DisplayName, UserPrincipalName, UserType",
                ),
            ]
            targets = [self._user_target(target, modified=modified)]
        elif code == cat.DELETE_USER:
            targets = [self._user_target(target)]
        elif code == cat.CONSENT:
            targets = [self._consent_target(target, principal)]
        elif code == cat.ADD_SERVICE_PRINCIPAL:
            reg = self.registrations[target]
            modified = [
                _modified("AccountEnabled", [], [True]),
                _modified("AppPrincipalId", [], [reg.app_id]),
                _modified("DisplayName", [], [reg.name]),
                _modified("ServicePrincipalNames", [], [reg.app_id, reg.url]),
                _modified(
                    "Included Updated Properties",
                    None,
                    "AccountEnabled, AppPrincipalId, DisplayName, ServicePrincipalNames",
                ),
            ]
            targets = [_target(reg.sp_id, reg.name, "ServicePrincipal", modified=modified)]
        elif code == cat.UPDATE_CA_POLICY:
            name, policy_id, grants = cat.CA_POLICIES[target]
            before, after = cat.CA_STATE_CHANGES[target2]
            controls = [cat.CA_BUILT_IN_CONTROLS.get(g, g.lower()) for g in grants]

            def policy(state: str) -> dict[str, Any]:
                return {
                    "id": policy_id,
                    "displayName": name,
                    "state": state,
                    "conditions": {
                        "applications": {"includeApplications": ["All"]},
                        "users": {"includeUsers": ["All"]},
                    },
                    "grantControls": {"operator": "OR", "builtInControls": controls},
                }

            modified = [_modified("ConditionalAccessPolicy", policy(before), policy(after))]
            targets = [_target(policy_id, name, "Policy", modified=modified)]
        else:  # SET_COMPANY_INFORMATION
            prop, old, new = cat.COMPANY_CHANGES[target2]
            domain = self.tenant.domain
            modified = [
                _modified(
                    prop,
                    [v.format(domain=domain) for v in old],
                    [v.format(domain=domain) for v in new],
                ),
                _modified("Included Updated Properties", None, prop),
            ]
            targets = [_target(self.tenant.tenant_guid, None, "Company", modified=modified)]
        return {"targetResources": targets}

    def _user_type(self, index: int) -> str:
        return "Guest" if self.tenant._users[index].user_type == "guest" else "Member"

    def _consent_target(self, index: int, principal: int) -> dict[str, Any]:
        reg = self.registrations[index]
        admin = principal < 0  # an administrator (or the system) consented for everyone
        principal_id = "" if admin else self.tenant._users[principal].id
        resource = self.tenant._resource_sp_id(cat.SERVICE_PRINCIPALS[0][1][1])  # Graph
        scope = "AuditLog.Read.All Directory.Read.All" if admin else "openid profile User.Read"
        flag = "True" if admin else "False"
        grant = (
            f"[] => [[Id: {reg.sp_id}, ClientId: {reg.sp_id}, PrincipalId: {principal_id}, "
            f"ResourceId: {resource}, ConsentType: {'AllPrincipals' if admin else 'Principal'}, "
            f"Scope:  {scope}, CreatedDateTime: , LastModifiedDateTime ]]; "
        )
        modified = [
            _modified("ConsentContext.IsAdminConsent", None, flag),
            _modified("ConsentContext.IsAppOnly", None, "False"),
            _modified("ConsentContext.OnBehalfOfAll", None, flag),
            _modified("ConsentAction.Permissions", None, grant),
            _modified("TargetId.ServicePrincipalNames", None, f"{reg.app_id};{reg.url}"),
        ]
        return _target(reg.sp_id, reg.name, "ServicePrincipal", modified=modified)

    def _details_part(self, code: int, agent: int, target: int) -> dict[str, Any]:
        details: list[dict[str, str]] = []
        if code == cat.CONSENT:
            details.append(_detail(_USER_AGENT_KEY, "EvoSTS"))
        elif agent >= 0:
            details.append(_detail(_USER_AGENT_KEY, cat.DEVICE_PROFILES[agent][2]))
        if code in (cat.ADD_USER, cat.UPDATE_USER, cat.DELETE_USER):
            details.append(_detail("UserType", self._user_type(target)))
        elif code in (cat.APP_CREDENTIALS, cat.CONSENT, cat.ADD_SERVICE_PRINCIPAL):
            details.append(_detail("AppId", self.registrations[target].app_id))
        return {"additionalDetails": details}

    def _credentials_part(self, target: int, extra: int, created: str) -> dict[str, Any]:
        """Targets of a credential change: a secret or certificate added or removed."""
        reg = self.registrations[target]
        certificate = extra & 1
        removed = extra & 2
        key_type, usage = (
            ("AsymmetricX509Cert", "Verify") if certificate else ("Password", "Verify")
        )
        old_key = uuid_str(extra >> 2)
        new_key = uuid_str((extra * 0x9E3779B97F4A7C15 + 1) % (1 << 128))
        label = "cert" if certificate else "secret"

        def key(key_id: str, name: str) -> str:
            return (
                f"[KeyIdentifier={key_id},KeyType={key_type},KeyUsage={usage},DisplayName={name}]"
            )

        older = key(old_key, f"{label}-{int(created[:4]) - 1}")
        newer = key(new_key, f"{label}-{created[:7]}")
        before, after = ([older, newer], [newer]) if removed else ([older], [older, newer])
        modified = [
            _modified("AppId", None, reg.app_id),
            _modified("KeyDescription", before, after),
            _modified("Included Updated Properties", None, "KeyDescription"),
        ]
        return {
            "targetResources": [_target(reg.object_id, reg.name, "Application", modified=modified)]
        }

    def _pim_part(self, extra: int, ts: int) -> dict[str, Any]:
        expires = datetime.fromtimestamp(ts, UTC) + timedelta(hours=1 + extra % 8)
        return {
            "additionalDetails": [
                _detail("RequestId", uuid_str(extra)),
                _detail("ExpirationTime", expires.strftime("%Y-%m-%dT%H:%M:%SZ")),
                _detail(
                    "StartTime", datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                ),
            ]
        }
