"""The one registry of population kinds (like :mod:`access_warehouse.sources.registry`).

Adding a kind: write its module under ``access_warehouse/populations/`` (it calls
:func:`register_population_kind` when imported) and list it in :data:`BUILTIN_KIND_MODULES`.
The config, the DAG and the CLI read this registry.
"""

from __future__ import annotations

import importlib
import typing

from access_warehouse.populations.base import PopulationKind
from access_warehouse.sources.registry import RegistryError

#: The modules of the kinds shipped with the package, imported on first use of the registry.
BUILTIN_KIND_MODULES: tuple[str, ...] = (
    "access_warehouse.populations.entra_users",
    "access_warehouse.populations.database_logins",
)

_KINDS: dict[str, PopulationKind] = {}
_builtins_loaded = False


def register_population_kind(kind: PopulationKind) -> PopulationKind:
    """Add ``kind`` to the registry (idempotent for the same record); returns it."""
    annotation = kind.config.model_fields["kind"].annotation
    if typing.get_origin(annotation) is not typing.Literal or typing.get_args(annotation) != (
        kind.name,
    ):
        raise RegistryError(
            f"{kind.config.__name__}.kind must be declared as Literal[{kind.name!r}]"
        )
    if not kind.config.id_prefix:
        raise RegistryError(f"{kind.config.__name__}.id_prefix is not set")
    known = _KINDS.get(kind.name)
    if known is not None and known != kind:
        raise RegistryError(f"population kind {kind.name!r} is already registered")
    _KINDS[kind.name] = kind
    return kind


def population_kinds() -> dict[str, PopulationKind]:
    """Every registered population kind by name, the built-in ones imported first."""
    global _builtins_loaded
    if not _builtins_loaded:
        for module in BUILTIN_KIND_MODULES:
            importlib.import_module(module)
        _builtins_loaded = True
    return dict(sorted(_KINDS.items()))
