"""``include/config/retention.yaml``: how long each table family is kept, per-source overrides,
and legal holds.

Validated with pydantic when the DAG parses; an error names the file, the key and what is
wrong, like the sources config's. Periods are written ``"30 days"``, ``"13 months"``,
``"7 years"`` or ``"forever"``; they count back from the start of the run's UTC day, in
calendar months and years (13 months before 2026-12-20 is 2025-11-20).
"""

from __future__ import annotations

import calendar
import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BeforeValidator,
    Field,
    PlainSerializer,
    ValidationError,
    field_validator,
    model_validator,
)

from access_warehouse import paths
from access_warehouse.config import ConfigError, SourcesConfig
from access_warehouse.sources.base import StrictModel, valid_cron

FILE_NAME = "retention.yaml"

#: The table families, in the order a run purges them (README "Retention" lists their tables).
FAMILIES = ("landing", "quarantine", "access_events", "access_logs", "reporting", "data_quality")

_PERIOD = re.compile(r"^\s*(\d+)\s*(day|days|month|months|year|years)\s*$", re.IGNORECASE)
#: A fixed moment to compare periods written in different units (30 days vs 1 month).
_REFERENCE = datetime(2001, 1, 1, tzinfo=UTC)


def _add_months(moment: datetime, months: int) -> datetime:
    """``moment`` moved by whole calendar months, the day clamped to the month's last."""
    total = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(total, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


@dataclass(frozen=True)
class Keep:
    """A retention period: ``amount`` days, months or years, or forever (``amount`` None)."""

    amount: int | None
    unit: Literal["days", "months", "years", "forever"]

    def __str__(self) -> str:
        if self.amount is None:
            return "forever"
        unit = self.unit if self.amount != 1 else self.unit[:-1]
        return f"{self.amount} {unit}"

    def shift(self, moment: datetime, sign: int) -> datetime | None:
        """``moment`` plus (``sign`` 1) or minus (-1) this period; None for forever."""
        if self.amount is None:
            return None
        if self.unit == "days":
            return moment + sign * timedelta(days=self.amount)
        months = self.amount * (12 if self.unit == "years" else 1)
        return _add_months(moment, sign * months)

    def cutoff(self, now: datetime) -> datetime | None:
        """Rows older than this (UTC) are past the policy at ``now``: the start of ``now``'s
        UTC day minus the period, so every run of one day agrees. None: kept forever."""
        return self.shift(day_start(now), -1)

    def sort_key(self) -> float:
        """Longer periods sort later; forever last."""
        shifted = self.shift(_REFERENCE, 1)
        return float("inf") if shifted is None else (shifted - _REFERENCE).total_seconds()


def parse_keep(value: Any) -> Keep:
    """``"30 days"``, ``"13 months"``, ``"7 years"``, ``"forever"`` (or a Keep) as a Keep."""
    if isinstance(value, Keep):
        return value
    if isinstance(value, str) and value.strip().lower() == "forever":
        return Keep(None, "forever")
    match = _PERIOD.match(value) if isinstance(value, str) else None
    if match is None or int(match.group(1)) < 1:
        raise ValueError(
            f"not a retention period: {value!r}; write e.g. '30 days', '13 months', "
            "'7 years' or 'forever'"
        )
    unit = match.group(2).lower()
    return Keep(int(match.group(1)), unit if unit.endswith("s") else unit + "s")  # type: ignore[arg-type]


KeepField = Annotated[Keep, BeforeValidator(parse_keep), PlainSerializer(str)]


def day_start(moment: datetime) -> datetime:
    """The start of ``moment``'s UTC day (naive times are taken as UTC)."""
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return datetime.combine(moment.date(), time(), tzinfo=UTC)


def _utc(value: Any) -> Any:
    """A day (its start) or a time as an aware UTC datetime; naive times are UTC."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=UTC)
    if isinstance(value, str):
        try:
            return _utc(datetime.fromisoformat(value.strip().replace("Z", "+00:00")))
        except ValueError:
            raise ValueError(f"not a day or time (ISO 8601, UTC): {value!r}") from None
    return value


UtcTime = Annotated[datetime, BeforeValidator(_utc)]


class FamilyPolicy(StrictModel):
    """How long a family is kept, and (winning) how long given sources' rows are."""

    keep: KeepField
    by_source: dict[str, KeepField] = {}

    def for_source(self, source_id: str | None) -> tuple[Keep, str]:
        """The period for ``source_id``'s rows and where it comes from (default / source)."""
        if source_id is not None and source_id in self.by_source:
            return self.by_source[source_id], "source"
        return self.keep, "default"

    def longest(self) -> Keep:
        """For rows that belong to no single source: kept as long as any source's policy."""
        return max((self.keep, *self.by_source.values()), key=Keep.sort_key)

    def latest_cutoff(self, now: datetime) -> datetime | None:
        """The cutoff of the shortest period (nothing newer is past any policy); None when
        every period is forever."""
        cutoffs = [keep.cutoff(now) for keep in (self.keep, *self.by_source.values())]
        return max((cutoff for cutoff in cutoffs if cutoff is not None), default=None)


def _family(keep: str) -> Any:
    return Field(default_factory=lambda: FamilyPolicy(keep=parse_keep(keep)))


class Policies(StrictModel):
    #: landing.extract_batches with their records and file lists: the replay store
    landing: FamilyPolicy = _family("30 days")
    #: dq.quarantine with its history
    quarantine: FamilyPolicy = _family("90 days")
    #: audit.access_events, whole monthly partitions: 13 months keeps 12 full months online
    access_events: FamilyPolicy = _family("13 months")
    #: audit.access_logs (last access per pair), by the time of the last access
    access_logs: FamilyPolicy = _family("7 years")
    #: reporting.* day tables and evidence pack records
    reporting: FamilyPolicy = _family("7 years")
    #: dq.validation_runs with their expectation results, dq.completeness
    data_quality: FamilyPolicy = _family("2 years")

    def family(self, name: str) -> FamilyPolicy:
        return getattr(self, name)


class LegalHold(StrictModel):
    """Rows of ``sources`` (every source when empty) in ``[from, to)`` are never purged while
    the hold is in force (until ``released_at``)."""

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$")
    from_: UtcTime = Field(alias="from")
    to: UtcTime
    sources: tuple[str, ...] = ()
    reason: str = Field(min_length=1)
    set_by: str = Field(min_length=1)
    set_at: UtcTime
    released_at: UtcTime | None = None

    @field_validator("reason", "set_by")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()

    @model_validator(mode="after")
    def _ordered(self) -> LegalHold:
        if self.from_ >= self.to:
            raise ValueError(f"the period ends ({self.to:%Y-%m-%d}) before it starts "
                             f"({self.from_:%Y-%m-%d}); `to` is exclusive")  # fmt: skip
        if self.released_at is not None and self.released_at < self.set_at:
            raise ValueError("released_at is before set_at")
        return self

    def in_force(self, now: datetime) -> bool:
        return self.released_at is None or self.released_at > now


class RetentionConfig(StrictModel):
    #: when access_retention runs (cron, UTC)
    schedule: str = "30 3 * * *"
    #: rows per DELETE statement in the tables that are not partitioned
    batch_rows: int = Field(10_000, ge=100, le=1_000_000)
    #: at most this many rows per purge (table and source) and run; the rest goes next run
    max_rows_per_purge: int = Field(2_000_000, ge=1_000)
    #: how long a purge waits for a table lock (a running load) before it gives up this run
    lock_timeout_seconds: int = Field(10, ge=1, le=600)
    policies: Policies = Field(default_factory=Policies)
    #: source ids no longer in sources.yaml whose rows the warehouse still holds: overrides
    #: and holds may name them
    retired_sources: tuple[str, ...] = ()
    legal_holds: tuple[LegalHold, ...] = ()

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        return valid_cron(value)

    @model_validator(mode="after")
    def _consistent(self) -> RetentionConfig:
        ids = Counter(hold.id for hold in self.legal_holds)
        twice = sorted(hold_id for hold_id, count in ids.items() if count > 1)
        if twice:
            raise ValueError(f"legal_holds: hold ids must be unique; twice: {twice}")
        # access_logs summarise the events and dq.completeness says whether they are complete:
        # neither may go before the events they speak for
        sources = {None, *self.policies.access_events.by_source}
        for family in ("access_logs", "data_quality"):
            sources |= set(self.policies.family(family).by_source)
        for source_id in sorted(sources, key=lambda s: s or ""):
            events, _ = self.policies.access_events.for_source(source_id)
            for family in ("access_logs", "data_quality"):
                keep, _ = self.policies.family(family).for_source(source_id)
                if keep.sort_key() < events.sort_key():
                    who = f"source {source_id!r}" if source_id else "the default"
                    raise ValueError(
                        f"policies.{family}: {who} keeps {keep}, less than its access_events "
                        f"({events}); {family} must outlive the events it speaks for"
                    )
        return self

    def policy(self, family: str, source_id: str | None) -> tuple[Keep, str]:
        """The period for ``source_id``'s rows of ``family`` and its origin."""
        return self.policies.family(family).for_source(source_id)

    def holds_in_force(self, now: datetime) -> list[LegalHold]:
        return [hold for hold in self.legal_holds if hold.in_force(now)]

    def named_sources(self) -> dict[str, list[str]]:
        """Every source id the file names, with the keys that name it."""
        named: dict[str, list[str]] = {}
        for family in FAMILIES:
            for source_id in self.policies.family(family).by_source:
                named.setdefault(source_id, []).append(f"policies.{family}.by_source")
        for index, hold in enumerate(self.legal_holds):
            for source_id in hold.sources:
                named.setdefault(source_id, []).append(f"legal_holds.{index}.sources")
        return named


def _format(path: Path | str, error: ValidationError) -> str:
    lines = [f"{path}: invalid configuration"]
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"])
        # checks across keys name their keys in the message
        lines.append(f"  {key}: {item['msg']}" if key else f"  {item['msg']}")
    return "\n".join(lines)


def parse_retention(
    raw: Any, origin: Path | str, sources: SourcesConfig | None = None
) -> RetentionConfig:
    """Validate a parsed retention file (``origin`` names it in errors); with ``sources``, every
    source id it names must be a configured source or listed in ``retired_sources``."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{origin}: expected a mapping at the top level")
    try:
        config = RetentionConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format(origin, exc)) from None
    if sources is not None:
        known = {feed.source_id for feed in sources.feeds()}
        problems = [
            f"  {key}: {source_id!r} is not a source of the sources config; configured: "
            f"{sorted(known)} (a source removed from it whose rows remain: add it to "
            "retired_sources)"
            for source_id, keys in sorted(config.named_sources().items())
            if source_id not in known and source_id not in config.retired_sources
            for key in keys
        ]
        if problems:
            raise ConfigError("\n".join([f"{origin}: invalid configuration", *problems]))
    return config


def load_retention_config(
    path: Path | None = None, sources: SourcesConfig | None = None
) -> RetentionConfig:
    """Read and validate ``include/config/retention.yaml`` (or ``path``), checking the source
    ids it names against ``sources`` (default: the sources config)."""
    path = path or paths.CONFIG_DIR / FILE_NAME
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: file not found") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if sources is None:
        from access_warehouse.config import load_sources

        sources = load_sources()
    return parse_retention(raw, path, sources)
