"""The population interface: who exists, read whole from a directory or a database server.

An account that never signs in never appears in a log, so the warehouse also snapshots who
exists (``audit.population_accounts``, with history) and reporting compares the two. A
population kind is one module under ``access_warehouse/populations/`` that defines

- a config model (a subclass of :class:`PopulationConfig` with ``kind: Literal["<kind>"]``)
  whose :meth:`PopulationConfig.read` gives the accounts that exist now, page by page, and whose
  :meth:`PopulationConfig.bind` takes what it needs from the sources config (a database
  population's identity rule and server names);
- a :class:`PopulationKind` record passed to
  :func:`access_warehouse.populations.registry.register_population_kind`.

Snapshotting, history and bookkeeping are shared (:mod:`access_warehouse.populations.snapshot`).
Only pydantic and the standard library here: the DAG file imports it to parse.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field, field_validator

from access_warehouse.sources.base import RequestStats, StrictModel, valid_cron

if TYPE_CHECKING:
    from access_warehouse.config import SourcesConfig

#: A population's name: part of its id (``entra:<name>``, ``database:<name>``) and task id.
NAME_PATTERN = r"^[a-z][a-z0-9_-]{0,40}$"


@dataclass(frozen=True)
class Account:
    """One account as its directory or server says it is now.

    ``aliases`` are normalised (``lower(btrim())``) identifiers that name this account's person
    in the events (:func:`access_warehouse.resolve.normalise_alias`), matched by reporting
    against ``audit.external_user_aliases``. The ``last_*`` sign-in fields are the directory's
    own activity record: refreshed in place on the current version, never part of the hash.
    """

    account_id: str
    principal_name: str | None = None
    mail: str | None = None
    display_name: str | None = None
    enabled: bool | None = None
    user_type: str | None = None  # member / guest (directory), login / role (databases)
    account_created_at: datetime | None = None
    last_sign_in_at: datetime | None = None
    last_non_interactive_sign_in_at: datetime | None = None
    last_successful_sign_in_at: datetime | None = None
    aliases: tuple[str, ...] = ()
    properties: dict[str, Any] = field(default_factory=dict)

    def content_hash(self) -> str:
        """SHA-256 of what makes a new version when it changes (sign-in activity excluded)."""
        versioned = {
            "principal_name": self.principal_name,
            "mail": self.mail,
            "display_name": self.display_name,
            "enabled": self.enabled,
            "user_type": self.user_type,
            "account_created_at": (
                self.account_created_at.isoformat() if self.account_created_at else None
            ),
            "aliases": sorted(self.aliases),
            "properties": self.properties,
        }
        canonical = json.dumps(versioned, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()


class PopulationConfig(StrictModel):
    """The fields every configured population has; each kind's model adds its own.

    A subclass declares ``kind: Literal["<kind>"]`` and :attr:`id_prefix`, and implements
    :meth:`read` and :meth:`describe`.
    """

    kind: str
    name: str = Field(pattern=NAME_PATTERN)
    #: The Airflow connection the accounts are read over.
    conn_id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    #: Source ids (``include/config/sources.yaml``) whose events are accesses by these accounts.
    sources: tuple[str, ...] = ()
    enabled: bool = True
    #: When this population is due (cron, UTC); None: every run of ``access_populations``. A
    #: run whose data interval holds no time of it skips the population's task.
    schedule: str | None = None

    #: ``entra`` or ``database``: the population id is ``<id_prefix>:<name>``.
    id_prefix: ClassVar[str] = ""

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        return None if value is None else valid_cron(value)

    @field_validator("sources")
    @classmethod
    def _distinct(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        repeated = sorted({source for source in value if value.count(source) > 1})
        if repeated:
            raise ValueError(f"sources listed twice: {repeated}")
        return value

    @property
    def population_id(self) -> str:
        return f"{self.id_prefix}:{self.name}"

    @property
    def task_id(self) -> str:
        """The Airflow task that snapshots it (task ids take no ``:``)."""
        return f"snapshot_{self.id_prefix}_{self.name}"

    def bind(self, sources: SourcesConfig) -> PopulationConfig:
        """Checks against the sources config, and what the reader needs from it; may return an
        adjusted copy. ``ValueError`` says what is wrong."""
        return self

    def read(self, stats: RequestStats) -> Iterator[list[Account]]:
        """The accounts that exist now, a page at a time. Records in ``stats.asked`` what was
        asked (the URL, the SQL) and in ``stats.source_said`` what the source said (pages,
        whether sign-in activity was available); raises when the source cannot be read."""
        raise NotImplementedError

    def describe(self) -> str:
        """Markdown: what this population reads and how (the snapshot task's ``doc_md``)."""
        raise NotImplementedError


@dataclass(frozen=True)
class PopulationKind:
    """A registered population kind."""

    name: str  # the ``kind:`` value in populations.yaml
    config: type[PopulationConfig]
    summary: str  # one line: what it reads
    #: A valid config entry (without ``kind``) for docs and tests; its ``sources`` name ids of
    #: the shipped sources.yaml.
    example: dict[str, Any]
