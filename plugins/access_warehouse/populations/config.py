"""``include/config/populations.yaml``: which directories and database servers are snapshotted.

A top-level ``schedule`` (the ``access_populations`` DAG's cron) and ``populations:``, a list
discriminated by ``kind`` over the registered population kinds. Validated with pydantic when the
DAG parses; an error names the file, the key path (with the population's name and kind) and
what is wrong, like ``sources.yaml``'s (:class:`access_warehouse.config.ConfigError`). Every
source id a population lists must be a source of ``sources.yaml``.

The file is optional: without it (at the default path) there are no populations.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Union

import yaml
from pydantic import Field, TypeAdapter, ValidationError

from access_warehouse import paths
from access_warehouse.config import ConfigError, SourcesConfig, load_sources
from access_warehouse.populations.base import PopulationConfig
from access_warehouse.populations.registry import population_kinds
from access_warehouse.sources.base import valid_cron

#: When ``access_populations`` runs unless the file says otherwise: after the midnight loads.
DEFAULT_SCHEDULE = "30 0 * * *"
FILE_NAME = "populations.yaml"


@dataclass(frozen=True)
class PopulationsConfig:
    """The validated populations (bound to the sources config) and the DAG's schedule."""

    populations: tuple[PopulationConfig, ...]
    schedule: str = DEFAULT_SCHEDULE

    def enabled(self) -> list[PopulationConfig]:
        return [population for population in self.populations if population.enabled]

    def population(self, population_id: str) -> PopulationConfig:
        for population in self.populations:
            if population.population_id == population_id:
                return population
        known = ", ".join(p.population_id for p in self.populations) or "none"
        raise KeyError(f"no population {population_id!r}; configured: {known}")


def _adapter() -> TypeAdapter[list[Any]]:
    models = tuple(kind.config for kind in population_kinds().values())
    if len(models) == 1:
        return TypeAdapter(list[models[0]])  # type: ignore[valid-type]
    union = Annotated[Union[models], Field(discriminator="kind")]  # noqa: UP007
    return TypeAdapter(list[union])  # type: ignore[valid-type]


def _where(entry: Any) -> str:
    if isinstance(entry, dict):
        return f" (population {entry.get('name')!r}, kind {entry.get('kind')!r})"
    return ""


def _check_kinds(entries: list[Any]) -> list[str]:
    known = ", ".join(population_kinds())
    problems = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            problems.append(
                f"  populations.{index}: expected a mapping with a `kind`, not {entry!r}"
            )
        elif entry.get("kind") not in population_kinds():
            what = f"unknown kind {entry['kind']!r}" if "kind" in entry else "missing 'kind'"
            problems.append(f"  populations.{index}{_where(entry)}: {what}; known kinds: {known}")
    return problems


def _describe(error: ValidationError, entries: list[Any]) -> list[str]:
    lines = []
    for item in error.errors():
        loc = list(item["loc"])
        entry = entries[loc[0]] if loc and isinstance(loc[0], int) else None
        # pydantic puts the union tag after the index: it is the kind, shown with the name
        if len(loc) > 1 and isinstance(entry, dict) and loc[1] == entry.get("kind"):
            del loc[1]
        key = ".".join(["populations", *(str(part) for part in loc)])
        lines.append(f"  {key}{_where(entry)}: {item['msg']}")
    return lines


def _bind(
    populations: list[PopulationConfig], entries: list[Any], sources: SourcesConfig
) -> tuple[list[PopulationConfig], list[str]]:
    """Checks across entries and against ``sources.yaml``; each population bound to it."""
    problems = []
    ids = Counter(population.population_id for population in populations)
    for population_id in sorted(i for i, count in ids.items() if count > 1):
        problems.append(f"  populations: two populations would have the id {population_id!r}")
    known = {feed.source_id for feed in sources.feeds()}
    bound = []
    for index, (population, entry) in enumerate(zip(populations, entries, strict=True)):
        where = _where(entry)
        missing = [source_id for source_id in population.sources if source_id not in known]
        if missing:
            problems.append(
                f"  populations.{index}.sources{where}: {missing} not in the sources config; "
                f"source ids of its enabled feeds: {sorted(known)}"
            )
            continue
        try:
            bound.append(population.bind(sources))
        except ValueError as exc:
            problems.append(f"  populations.{index}{where}: {exc}")
    return bound, problems


def parse_populations(raw: Any, origin: Path | str, sources: SourcesConfig) -> PopulationsConfig:
    """Validate a parsed populations file (``origin`` names it in errors)."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{origin}: expected a mapping at the top level")
    unknown = sorted(set(raw) - {"schedule", "populations"})
    if unknown:
        raise ConfigError(
            f"{origin}: unknown top-level keys {unknown}; expected `schedule:` and `populations:`"
        )
    schedule = raw.get("schedule", DEFAULT_SCHEDULE)
    try:
        valid_cron(schedule if isinstance(schedule, str) else repr(schedule))
    except ValueError as exc:
        raise ConfigError(f"{origin}: invalid configuration\n  schedule: {exc}") from None
    entries = raw.get("populations") or []
    if not isinstance(entries, list):
        raise ConfigError(f"{origin}: populations: expected a list of populations")
    problems = _check_kinds(entries)
    if problems:
        raise ConfigError("\n".join([f"{origin}: invalid configuration", *problems]))
    try:
        populations = _adapter().validate_python(entries)
    except ValidationError as exc:
        raise ConfigError(
            "\n".join([f"{origin}: invalid configuration", *_describe(exc, entries)])
        ) from None
    bound, problems = _bind(populations, entries, sources)
    if problems:
        raise ConfigError("\n".join([f"{origin}: invalid configuration", *problems]))
    return PopulationsConfig(tuple(bound), schedule)


def load_populations(
    path: Path | None = None, sources: SourcesConfig | None = None
) -> PopulationsConfig:
    """Read and validate ``include/config/populations.yaml`` (or ``path``) against the sources
    config (``sources``, default :func:`access_warehouse.config.load_sources`). A missing file at
    the default path means no populations; a missing ``path`` given is an error."""
    explicit = path is not None
    path = path or paths.CONFIG_DIR / FILE_NAME
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError as exc:
        if not explicit:
            return PopulationsConfig(())
        raise ConfigError(f"{path}: file not found") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    return parse_populations(raw, path, sources if sources is not None else load_sources())
