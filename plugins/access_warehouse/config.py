"""Version-controlled configuration under ``include/config/``, validated with pydantic.

Errors name the file, the key path and what is wrong, so a bad edit fails at DAG parse time with
a message an operator can act on.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from access_warehouse.paths import CONFIG_DIR

SIGNIN_EVENT_TYPES = (
    "interactiveUser",
    "nonInteractiveUser",
    "servicePrincipal",
    "managedIdentity",
)


class ConfigError(ValueError):
    """A configuration file is missing, unreadable or invalid."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FeedConfig(_Strict):
    """One Graph audit-log feed of one tenant (sign-ins, directory audits)."""

    enabled: bool = True
    schedule: str = "0 0 * * *"
    lookback_minutes: int = Field(60, ge=0, le=7 * 24 * 60)
    api_version: Literal["v1.0", "beta"] = "beta"
    page_size: int = Field(1000, ge=1, le=1000)
    max_attempts: int = Field(8, ge=1, le=50)

    @field_validator("schedule")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        from croniter import croniter  # ships with Airflow

        if not croniter.is_valid(value):
            raise ValueError(f"not a valid cron expression: {value!r}")
        return value

    @property
    def lookback(self) -> timedelta:
        return timedelta(minutes=self.lookback_minutes)


class SignInFeedConfig(FeedConfig):
    event_types: tuple[str, ...] = SIGNIN_EVENT_TYPES

    @field_validator("event_types")
    @classmethod
    def _known_event_types(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(value) - set(SIGNIN_EVENT_TYPES))
        if unknown:
            raise ValueError(f"unknown sign-in event types {unknown}; use {SIGNIN_EVENT_TYPES}")
        if not value:
            raise ValueError("list at least one event type")
        return value


class DirectoryAuditFeedConfig(FeedConfig):
    api_version: Literal["v1.0", "beta"] = "v1.0"
    #: Left out at load (counted per rule in the batch row); compared case-insensitively with
    #: the record's ``category`` and ``activityDisplayName``.
    exclude_categories: tuple[str, ...] = ()
    exclude_activities: tuple[str, ...] = ()


class EntraTenantConfig(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,40}$")
    tenant_id: str = Field(min_length=1)
    conn_id: str = Field(pattern=r"^msgraph[a-z0-9_]*$")
    #: The default tenant's DAGs have the contract ids (``entra_signins``); every other tenant's
    #: carry its name (``entra_signins_<name>``). A lone tenant is the default.
    default: bool = False
    signins: SignInFeedConfig = SignInFeedConfig()
    directory_audits: DirectoryAuditFeedConfig = DirectoryAuditFeedConfig()

    def dag_id(self, feed: str) -> str:
        return f"entra_{feed}" if self.default else f"entra_{feed}_{self.name}"

    def source_id(self, feed: str) -> str:
        """The stable source id of one feed of this tenant: ``entra:<name>:<feed>``."""
        return f"entra:{self.name}:{feed}"


class SourcesConfig(_Strict):
    entra_tenants: list[EntraTenantConfig] = Field(default_factory=list)

    @field_validator("entra_tenants")
    @classmethod
    def _unique_names(cls, value: list[EntraTenantConfig]) -> list[EntraTenantConfig]:
        names = [tenant.name for tenant in value]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"tenant names must be unique; repeated: {duplicates}")
        defaults = [tenant.name for tenant in value if tenant.default]
        if len(defaults) > 1:
            raise ValueError(f"at most one tenant may be the default; marked: {defaults}")
        if len(value) == 1 and not defaults:
            value = [value[0].model_copy(update={"default": True})]
        return value

    def tenant(self, name: str) -> EntraTenantConfig:
        for tenant in self.entra_tenants:
            if tenant.name == name:
                return tenant
        raise KeyError(f"no Entra tenant named {name!r} in the sources config")


def _describe(error: ValidationError, path: Path) -> str:
    lines = [f"{path}: invalid configuration"]
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(top level)"
        lines.append(f"  {key}: {item['msg']}")
    return "\n".join(lines)


def load_sources(path: Path | None = None) -> SourcesConfig:
    """Read and validate ``include/config/sources.yaml`` (or ``path``)."""
    path = path or CONFIG_DIR / "sources.yaml"
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: file not found") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    try:
        return SourcesConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, path)) from None
