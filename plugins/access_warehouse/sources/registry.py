"""The one registry of source kinds.

Adding a kind: write its module under ``access_warehouse/sources/`` (it calls
:func:`register_kind` when imported) and list the module in :data:`BUILTIN_KIND_MODULES`.
Nothing else changes: the config root model, the DAG factory, the CLI and the load code all
read this registry.
"""

from __future__ import annotations

import importlib
import typing

from access_warehouse.sources.base import SourceKind

#: The modules of the kinds shipped with the package, imported on first use of the registry.
BUILTIN_KIND_MODULES: tuple[str, ...] = (
    "access_warehouse.sources.entra",
    "access_warehouse.sources.generic_sql",
    "access_warehouse.sources.postgres_audit_trigger",
    "access_warehouse.sources.postgres_csvlog",
    "access_warehouse.sources.mysql_general_log",
    "access_warehouse.sources.mariadb_server_audit",
    "access_warehouse.sources.mssql_audit",
    "access_warehouse.sources.clickhouse_query_log",
    "access_warehouse.sources.cloudflare_access",
    "access_warehouse.sources.azure_monitor_export",
    "access_warehouse.sources.ecs_jsonl",
    "access_warehouse.sources.cloudflare_logpush_http",
    "access_warehouse.sources.mission_control_json",
    "access_warehouse.sources.exec_command",
)

_KINDS: dict[str, SourceKind] = {}
_builtins_loaded = False


class RegistryError(ValueError):
    """A source kind is defined inconsistently or registered twice."""


def register_kind(kind: SourceKind) -> SourceKind:
    """Add ``kind`` to the registry (idempotent for the same record); returns it."""
    annotation = kind.config.model_fields["kind"].annotation
    if typing.get_origin(annotation) is not typing.Literal or typing.get_args(annotation) != (
        kind.name,
    ):
        raise RegistryError(
            f"{kind.config.__name__}.kind must be declared as Literal[{kind.name!r}]"
        )
    known = _KINDS.get(kind.name)
    if known is not None and known != kind:
        raise RegistryError(f"source kind {kind.name!r} is already registered")
    _KINDS[kind.name] = kind
    return kind


def registered_kinds() -> dict[str, SourceKind]:
    """Every registered kind by name, the built-in ones imported first."""
    global _builtins_loaded
    if not _builtins_loaded:
        for module in BUILTIN_KIND_MODULES:
            importlib.import_module(module)
        _builtins_loaded = True
    return dict(sorted(_KINDS.items()))
