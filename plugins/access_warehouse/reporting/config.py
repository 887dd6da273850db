"""``include/config/reporting.yaml``: what the reporting tables count as dormant, a burst of
failed sign-ins, a privileged change, and how long each source keeps its own events.

Validated with pydantic when the DAGs parse; an error names the file, the key and what is wrong.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from access_warehouse import paths
from access_warehouse.config import ConfigError
from access_warehouse.sources.base import StrictModel


def _regex(value: str | None) -> str | None:
    if value is None:
        return None
    if "\\b" in value:
        # the patterns run in Postgres, where \b is a backspace, not a word boundary
        raise ValueError(f"{value!r}: \\b is a backspace in Postgres; use \\y or \\s")
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"not a valid regular expression {value!r}: {exc}") from None
    return value


class FailedSignInRules(StrictModel):
    window_minutes: int = Field(60, ge=1, le=24 * 60)
    spraying_min_principals: int = Field(5, ge=2)
    brute_force_min_failures: int = Field(10, ge=2)
    #: Failures with these error codes are lockouts: counted apart, never part of a burst.
    lockout_error_codes: tuple[str, ...] = ("50053",)


class SourceRetention(StrictModel):
    """Days a source keeps its own events, by record kind and (winning) by source id."""

    by_kind: dict[str, int] = {"entra_signins": 30, "entra_directory_audits": 30}
    by_source: dict[str, int] = {}

    @field_validator("by_kind", "by_source")
    @classmethod
    def _positive(cls, value: dict[str, int]) -> dict[str, int]:
        bad = sorted(key for key, days in value.items() if days < 1)
        if bad:
            raise ValueError(f"retention must be at least 1 day; not so for {bad}")
        return value

    def days(self, source_id: str, kind: str) -> int | None:
        return self.by_source.get(source_id, self.by_kind.get(kind))


class ChangeRule(StrictModel):
    """One kind of privileged change: an ``action`` and/or ``statement`` pattern
    (case-insensitive regular expressions); with ``groups``, only changes whose group matches
    one of them (group membership is privileged only for privileged groups)."""

    change_type: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    action: str | None = None
    statement: str | None = None
    groups: tuple[str, ...] = ()

    _check_action = field_validator("action", "statement")(classmethod(lambda cls, v: _regex(v)))

    @field_validator("groups")
    @classmethod
    def _group_patterns(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in value:
            _regex(pattern)
        return value

    @model_validator(mode="after")
    def _something_to_match(self) -> ChangeRule:
        if self.action is None and self.statement is None:
            raise ValueError("a rule needs an `action` or a `statement` pattern")
        return self


class PrivilegedChangeRules(StrictModel):
    #: iam events (directory audits); the first matching rule names the change type
    directory: tuple[ChangeRule, ...] = ()
    #: database events: on the action or the statement
    database: tuple[ChangeRule, ...] = ()


class ReportingConfig(StrictModel):
    dormant_after_days: int = Field(90, ge=1, le=3650)
    review_windows_days: tuple[int, int] = (30, 90)
    failed_signins: FailedSignInRules = FailedSignInRules()
    source_retention_days: SourceRetention = SourceRetention()
    privileged_changes: PrivilegedChangeRules = PrivilegedChangeRules()

    @field_validator("review_windows_days")
    @classmethod
    def _ordered(cls, value: tuple[int, int]) -> tuple[int, int]:
        if not 1 <= value[0] <= value[1] <= 3650:
            raise ValueError("two day counts, the shorter first, e.g. [30, 90]")
        return value

    @property
    def evaluation_days(self) -> int:
        """How many days back from the as-of day the coverage must be known."""
        return max(self.dormant_after_days, self.review_windows_days[1])


def load_reporting_config(path: Path | None = None) -> ReportingConfig:
    """Read and validate ``include/config/reporting.yaml`` (or ``path``)."""
    path = path or paths.CONFIG_DIR / "reporting.yaml"
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: file not found") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    try:
        return ReportingConfig.model_validate(raw)
    except ValidationError as exc:
        lines = [f"{path}: invalid configuration"]
        for item in exc.errors():
            key = ".".join(str(part) for part in item["loc"]) or "(top level)"
            lines.append(f"  {key}: {item['msg']}")
        raise ConfigError("\n".join(lines)) from None
