"""Version-controlled configuration under ``include/config/``, validated with pydantic.

``sources.yaml`` is a list of sources discriminated by ``kind``; the kinds are whatever the
registry holds (:mod:`access_warehouse.sources.registry`), so a new kind needs no change here.
Errors name the file, the key path (with the source's name and kind) and what is wrong, so a bad
edit fails at DAG parse time with a message an operator can act on.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any, Union

import yaml
from pydantic import Field, TypeAdapter, ValidationError

from access_warehouse import paths
from access_warehouse.sources.base import Feed, SourceConfig
from access_warehouse.sources.registry import registered_kinds


class ConfigError(ValueError):
    """A configuration file is missing, unreadable or invalid."""


class SourcesConfig:
    """The validated sources: every configured source and the feeds (DAGs) they give."""

    def __init__(self, sources: list[SourceConfig]) -> None:
        self.sources = sources

    def feeds(self) -> list[Feed]:
        """Every enabled feed of every source, in config order."""
        return [
            replace(feed, quality=source.quality)
            for source in self.sources
            for feed in source.feeds()
        ]

    def feed(self, source_id: str, dag_id: str | None = None) -> Feed:
        """The feed with ``source_id`` (and ``dag_id``: several feeds may share a source id,
        see ``Feed.shares_source_id``; without ``dag_id`` the id's owner comes first)."""
        matches = [feed for feed in self.feeds() if feed.source_id == source_id]
        for feed in sorted(matches, key=lambda feed: feed.shares_source_id):
            if dag_id is None or feed.dag_id == dag_id:
                return feed
        known = ", ".join(feed.source_id for feed in self.feeds()) or "none"
        raise KeyError(f"no enabled feed with source id {source_id!r}; configured: {known}")

    def source(self, name: str, kind: str | None = None) -> SourceConfig:
        for source in self.sources:
            if source.name == name and kind in (None, source.kind):
                return source
        raise KeyError(f"no source named {name!r} in the sources config")


def _adapter() -> TypeAdapter[list[Any]]:
    models = tuple(kind.config for kind in registered_kinds().values())
    if len(models) == 1:
        return TypeAdapter(list[models[0]])  # type: ignore[valid-type]
    union = Annotated[Union[models], Field(discriminator="kind")]  # noqa: UP007
    return TypeAdapter(list[union])  # type: ignore[valid-type]


def _describe(error: ValidationError, path: Path | str, raw: list[Any]) -> str:
    lines = [f"{path}: invalid configuration"]
    for item in error.errors():
        loc = list(item["loc"])
        where = ""
        message = item["msg"]
        if len(loc) >= 1 and isinstance(loc[0], int):
            entry = raw[loc[0]] if loc[0] < len(raw) else None
            if isinstance(entry, dict):
                where = f" (source {entry.get('name')!r}, kind {entry.get('kind')!r})"
            # pydantic puts the union tag after the index: it is the kind, shown above
            if len(loc) > 1 and isinstance(entry, dict) and loc[1] == entry.get("kind"):
                del loc[1]
        key = ".".join(["sources", *(str(part) for part in loc)])
        lines.append(f"  {key}{where}: {message}")
    return "\n".join(lines)


def _check_kinds(entries: list[Any], path: Path | str) -> None:
    """Every entry is a mapping with a registered ``kind`` (the same message whether one kind or
    many are registered)."""
    known = ", ".join(registered_kinds())
    problems = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            problems.append(f"  sources.{index}: expected a mapping with a `kind`, not {entry!r}")
        elif "kind" not in entry:
            problems.append(
                f"  sources.{index} (source {entry.get('name')!r}): missing 'kind'; "
                f"known kinds: {known}"
            )
        elif entry["kind"] not in registered_kinds():
            problems.append(
                f"  sources.{index} (source {entry.get('name')!r}, kind {entry['kind']!r}): "
                f"unknown kind {entry['kind']!r}; known kinds: {known}"
            )
    if problems:
        raise ConfigError("\n".join([f"{path}: invalid configuration", *problems]))


def _check_across(sources: list[SourceConfig]) -> list[SourceConfig]:
    """What no single entry can check: unique names per kind, unique source and DAG ids, and
    each kind's own checks across its sources."""
    names = Counter((source.kind, source.name) for source in sources)
    repeated = sorted(f"{kind}:{name}" for (kind, name), count in names.items() if count > 1)
    if repeated:
        raise ValueError(f"source names must be unique per kind; repeated: {repeated}")
    by_kind: dict[str, list[SourceConfig]] = defaultdict(list)
    for source in sources:
        by_kind[source.kind].append(source)
    adjusted = {}
    for group in by_kind.values():
        for before, after in zip(group, type(group[0]).check_siblings(group), strict=True):
            adjusted[id(before)] = after
    sources = [adjusted[id(source)] for source in sources]
    feeds = [feed for source in sources for feed in source.feeds()]
    counts = Counter(feed.dag_id for feed in feeds)
    clashes = sorted(value for value, count in counts.items() if count > 1)
    if clashes:
        raise ValueError(f"two feeds would have the same dag_id: {clashes}")
    # a feed that shares another's source id (``Feed.shares_source_id``) may; two owners may not
    counts = Counter(feed.source_id for feed in feeds if not feed.shares_source_id)
    clashes = sorted(value for value, count in counts.items() if count > 1)
    if clashes:
        raise ValueError(f"two feeds would have the same source_id: {clashes}")
    return sources


def load_sources(path: Path | None = None) -> SourcesConfig:
    """Read and validate ``include/config/sources.yaml`` (or ``path``)."""
    path = path or paths.CONFIG_DIR / "sources.yaml"
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: file not found") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    if "entra_tenants" in raw:
        raise ConfigError(
            f"{path}: entra_tenants: replaced by `sources:`, a list of sources with a `kind`; "
            "write each tenant as an entry with `kind: entra` (same keys otherwise)"
        )
    unknown = sorted(set(raw) - {"sources"})
    if unknown:
        raise ConfigError(f"{path}: unknown top-level keys {unknown}; expected `sources:`")
    return parse_sources(raw.get("sources") or [], path)


def parse_sources(entries: Any, origin: Path | str) -> SourcesConfig:
    """Validate the ``sources:`` list (``origin`` names where it came from in errors)."""
    if not isinstance(entries, list):
        raise ConfigError(f"{origin}: sources: expected a list of sources")
    _check_kinds(entries, origin)
    try:
        sources = _adapter().validate_python(entries)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, origin, entries)) from None
    try:
        return SourcesConfig(_check_across(sources))
    except ValueError as exc:
        raise ConfigError(f"{origin}: sources: {exc}") from None
