"""A deterministic synthetic Cloudflare account and its Access authentication log.

Everything comes from ``(seed, account_id)`` and, per UTC day, ``(seed, account_id, day)`` with
private ``random.Random`` instances: the same configuration gives the same records in every
process, and days can be generated in any order.

Most users are the members of the Graph simulator's tenant (``first.last@contoso.onmicrosoft.com``
from :class:`devtools.graph_simulator.tenant.SyntheticTenant` with the same seed), so the same
people sign in to Entra ID and to Access-protected applications; the rest are partners at
``@partner.example``. Records have exactly the fields of Cloudflare's documented example
(``user_email``, ``ip_address``, ``app_uid``, ``app_domain``, ``action``, ``connection``,
``allowed``, ``created_at``, ``ray_id``) plus ``country`` and ``app_type``.

Late arrival: each record has an indexing delay (most seconds to two minutes, 5% 20-90 minutes),
and every day's last login (at 23:58:30 and some milliseconds) is indexed 40 minutes late, so an
extract right after midnight always misses one record that the next run's lookback finds.
"""

from __future__ import annotations

import hashlib
import random
import threading
import uuid
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple

_NS = uuid.UUID("5c1f0b8e-8d3b-4c51-9a57-0c1a5d7f3e21")
LATE_LAST_LOGIN_DELAY_S = 40 * 60

#: (domain, app_type) of the protected applications; the uids are derived from the seed.
APPS: tuple[tuple[str, str], ...] = (
    ("wiki.contoso.com", "self_hosted"),
    ("grafana.contoso.com/admin", "self_hosted"),
    ("jira.contoso.com", "self_hosted"),
    ("ssh.contoso.com", "ssh"),
    ("rdp.contoso.com", "rdp"),
    ("contoso.zendesk.com", "saas"),
    ("contoso.cloudflareaccess.com", "app_launcher"),
    ("warp", "warp"),
)
#: identity provider (Access "connection") and its share
CONNECTIONS: tuple[tuple[str, float], ...] = (
    ("azureAD", 0.55),
    ("saml", 0.2),
    ("onetimepin", 0.15),
    ("github", 0.1),
)
COUNTRIES = ("US", "US", "US", "GB", "DE", "NL", "IN", "BR", "JP", "PL")
PARTNER_DOMAIN = "partner.example"


@dataclass
class AccountConfig:
    """Who the synthetic account is and how busy it is."""

    account_id: str = "023e105f4ecef8ad9ca31a8372d0c353"
    seed: int = 42
    #: the Graph simulator tenant whose users log in here too (same seed)
    tenant_id: str = "contoso"
    users: int = 60
    logins_per_day: int = 400
    api_token: str = "sim-cloudflare-token"


class Login(NamedTuple):
    """One record, compact: times as epoch microseconds."""

    ts_us: int
    visible_us: int  # when it is indexed (appears in the API)
    ray_id: str
    user: int
    app: int
    action: str
    connection: str
    allowed: bool
    ip: str
    country: str


def _epoch_us(moment: datetime) -> int:
    return int((moment - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(microseconds=1))


def _from_us(value: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=value)


def format_created_at(ts_us: int) -> str:
    """Cloudflare's documented form: five fractional digits, ``Z`` (``...05:20:00.12345Z``)."""
    moment = _from_us(ts_us)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 10:05d}Z"


def graph_tenant_emails(tenant_id: str, seed: int) -> list[str]:
    """The member users' UPNs of the Graph simulator's tenant with this seed (guests left out),
    or ``first.last@<tenant>.com`` style addresses when that generator cannot be reused."""
    try:
        from devtools.graph_simulator.tenant import SyntheticTenant, TenantConfig

        tenant = SyntheticTenant(TenantConfig(tenant_id=tenant_id, seed=seed))
        users = tenant._users  # the simulator's directory; no public accessor exists
        return [user.upn for user in users if user.user_type == "member"]
    except Exception:  # pragma: no cover - only if the Graph simulator changes shape
        return [f"user{i}@{tenant_id}.com" for i in range(200)]


class SyntheticAccount:
    """The account's applications, users and Access log, reproducible from config."""

    def __init__(self, config: AccountConfig, cache_days: int = 16) -> None:
        if config.users < 1 or config.logins_per_day < 0:
            raise ValueError("users must be >= 1 and logins_per_day >= 0")
        self.config = config
        rng = random.Random(f"{config.seed}:{config.account_id}:account")
        members = graph_tenant_emails(config.tenant_id, config.seed)
        rng.shuffle(members)
        own = max(1, config.users * 4 // 5)
        self.emails = members[:own] + [
            f"partner{i:03d}@{PARTNER_DOMAIN}" for i in range(config.users - own)
        ]
        self.apps = [
            (str(uuid.uuid5(_NS, f"{config.seed}:{config.account_id}:app:{domain}")), domain, kind)
            for domain, kind in APPS
        ]
        #: each user's usual country and address
        self._home = [
            (rng.choice(COUNTRIES), f"198.51.100.{rng.randrange(1, 255)}") for _ in self.emails
        ]
        self._days: OrderedDict[date, tuple[list[int], list[Login]]] = OrderedDict()
        self._cache_days = cache_days
        self._lock = threading.Lock()

    # ---- generation -----------------------------------------------------------------------

    def _ray_id(self, day: date, index: int) -> str:
        key = f"{self.config.seed}:{self.config.account_id}:{day.isoformat()}:{index}"
        return hashlib.sha256(key.encode()).hexdigest()[:16]

    def _generate_day(self, day: date) -> list[Login]:
        cfg = self.config
        rng = random.Random(f"{cfg.seed}:{cfg.account_id}:{day.isoformat()}")
        start = _epoch_us(datetime(day.year, day.month, day.day, tzinfo=UTC))
        day_us = 86_400_000_000
        last_login_us = start + (23 * 3600 + 58 * 60 + 30) * 1_000_000
        times = sorted(rng.randrange(0, day_us - 120_000_000) for _ in range(cfg.logins_per_day))
        connections, weights = zip(*CONNECTIONS, strict=True)
        logins: list[Login] = []
        for index, offset in enumerate(times):
            ts = start + offset // 10 * 10  # Cloudflare's timestamps have 10 µs resolution
            last = index == len(times) - 1
            if last:
                ts = last_login_us + rng.randrange(0, 100_000) * 10
            late = last or rng.random() < 0.05
            delay_s = (
                LATE_LAST_LOGIN_DELAY_S
                if last
                else rng.randrange(20 * 60, 90 * 60)
                if late
                else rng.randrange(2, 120)
            )
            user = rng.randrange(len(self.emails))
            country, ip = self._home[user]
            roaming = rng.random() < 0.1
            if roaming:
                country = rng.choice(COUNTRIES)
                ip = (
                    f"2001:db8::{rng.randrange(1, 0xFFFF):x}"
                    if rng.random() < 0.3
                    else f"203.0.113.{rng.randrange(1, 255)}"
                )
            allowed = rng.random() < 0.9
            action = "login" if rng.random() < 0.95 or not allowed else "logout"
            logins.append(
                Login(
                    ts_us=ts,
                    visible_us=ts + delay_s * 1_000_000,
                    ray_id=self._ray_id(day, index),
                    user=user,
                    app=rng.randrange(len(self.apps)),
                    action=action,
                    connection=rng.choices(connections, weights)[0],
                    allowed=allowed,
                    ip=ip,
                    country=country,
                )
            )
        logins.sort(key=lambda login: (login.ts_us, login.ray_id))
        return logins

    def _day(self, day: date) -> tuple[list[int], list[Login]]:
        with self._lock:
            cached = self._days.get(day)
            if cached is not None:
                self._days.move_to_end(day)
                return cached
        logins = self._generate_day(day)
        entry = ([login.ts_us for login in logins], logins)
        with self._lock:
            self._days[day] = entry
            while len(self._days) > self._cache_days:
                self._days.popitem(last=False)
        return entry

    # ---- queries --------------------------------------------------------------------------

    def logins(
        self, since: datetime, until: datetime, visible_at: datetime | None = None
    ) -> list[Login]:
        """Logins with ``since <= created_at <= until`` (both inclusive, as the API's
        ``since``/``until``), oldest first; only those indexed by ``visible_at`` if given."""
        lo, hi = _epoch_us(since), _epoch_us(until)
        seen = None if visible_at is None else _epoch_us(visible_at)
        found: list[Login] = []
        day = since.astimezone(UTC).date()
        while day <= until.astimezone(UTC).date():
            stamps, logins = self._day(day)
            for login in logins[bisect_left(stamps, lo) : bisect_right(stamps, hi)]:
                if seen is None or login.visible_us <= seen:
                    found.append(login)
            day += timedelta(days=1)
        return found

    def render(self, login: Login) -> dict[str, Any]:
        """The record as the API sends it (the documented example's field order first)."""
        app_uid, app_domain, app_type = self.apps[login.app]
        return {
            "user_email": self.emails[login.user],
            "ip_address": login.ip,
            "app_uid": app_uid,
            "app_domain": app_domain,
            "action": login.action,
            "connection": login.connection,
            "allowed": login.allowed,
            "created_at": format_created_at(login.ts_us),
            "ray_id": login.ray_id,
            "country": login.country,
            "app_type": app_type,
        }

    def records(
        self, since: datetime, until: datetime, visible_at: datetime | None = None
    ) -> list[dict[str, Any]]:
        return [self.render(login) for login in self.logins(since, until, visible_at)]
