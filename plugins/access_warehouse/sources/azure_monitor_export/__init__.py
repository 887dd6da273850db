"""Source kind ``azure_monitor_export``: Entra sign-in and audit logs that a diagnostic setting
archives to a storage account (``insights-logs-<category>`` containers, ``PT1H.json`` blobs).

The records are the Graph objects the ``entra`` kind reads, wrapped by Azure Monitor, so they
are normalised by the entra normalisers (:mod:`.records`) and written under the Graph feed's
source id (``entra:<tenant>:signins`` / ``entra:<tenant>:directory_audits``): an event seen
both ways is one row. One feed (DAG) per group of configured categories; files, manifest and
envelope handling are the shared file layer's (:mod:`access_warehouse.sources.files`).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from access_warehouse.sources.azure_monitor_export.records import (
    CATEGORIES,
    GROUPS,
    ExportNormaliser,
    canonical_category,
)
from access_warehouse.sources.base import (
    NAME_PATTERN,
    Feed,
    FetchRequest,
    FileManifest,
    Page,
    SourceKind,
)
from access_warehouse.sources.files import FileSource, file_pages
from access_warehouse.sources.registry import register_kind

KIND = "azure_monitor_export"
_DOC = Path(__file__).with_name("doc.md").read_text()
#: Below a category's container; ``{tenant}`` is the tenant id or ``*``.
BLOB_LAYOUT = "resourceId=/tenants/{tenant}/providers/*/y=*/m=*/d=*/h=*/m=*/PT1H.json"
_TITLES = {"signins": "sign-ins", "directory_audits": "directory audits"}


def container(category: str) -> str:
    """The container a diagnostic setting writes ``category`` to (lower case)."""
    return f"insights-logs-{category.lower()}"


class AzureMonitorExportSource(FileSource):
    """One storage account (or a local copy of it) holding a tenant's Entra log exports."""

    kind: Literal["azure_monitor_export"]
    #: The folder or URL holding the ``insights-logs-*`` containers: a local folder, or
    #: ``abfs://`` with the storage account in the connection's extra (needs ``adlfs``).
    path: str = Field(min_length=1)
    #: The ``entra`` source (its ``name``) whose Graph feeds these exports repeat: the feeds
    #: write under its source ids, so each event is stored once.
    tenant: str = Field(pattern=NAME_PATTERN)
    #: The Entra tenant id (GUID) of the exports: only its blobs are read, and a record naming
    #: another ``tenantId`` is quarantined. Null: every tenant folder below ``path``.
    tenant_id: str | None = Field(None, pattern=r"^[0-9A-Za-z-]{1,64}$")
    categories: tuple[str, ...] = CATEGORIES
    envelope: Literal["lines", "auto"] = "auto"

    @field_validator("path")
    @classmethod
    def _no_glob(cls, value: str) -> str:
        if any(char in value for char in "*?[]"):
            raise ValueError(
                f"{value!r}: give the folder holding the insights-logs-* containers, without "
                "a glob (each feed globs its own containers)"
            )
        return value

    @field_validator("categories")
    @classmethod
    def _known_categories(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        known = []
        for name in value:
            canonical = canonical_category(name)
            if canonical is None:
                raise ValueError(f"unknown category {name!r}; known: {', '.join(CATEGORIES)}")
            if canonical in known:
                raise ValueError(f"category {canonical} is listed twice")
            known.append(canonical)
        if not known:
            raise ValueError("list at least one category")
        return tuple(known)

    # --- what each feed reads --------------------------------------------------------------

    def groups(self) -> dict[str, tuple[str, ...]]:
        """feed -> its configured categories (feeds without a category are left out)."""
        groups = {
            group: tuple(name for name in names if name in self.categories)
            for group, names in GROUPS.items()
        }
        return {group: names for group, names in groups.items() if names}

    def category_glob(self, category: str) -> str:
        root = self.path if self.path.endswith("://") else self.path.rstrip("/") + "/"
        tenant = self.tenant_id.lower() if self.tenant_id else "*"
        return root + container(category) + "/" + BLOB_LAYOUT.format(tenant=tenant)

    def feed_source_id(self, group: str = "signins") -> str:  # type: ignore[override]
        return f"entra:{self.tenant}:{group}"

    def group_dag_id(self, group: str) -> str:
        return f"{KIND}_{self.name}_{group}"

    def kind_doc(self) -> str:
        return _DOC

    def feeds(self) -> list[Feed]:
        if not self.enabled:
            return []
        return [self.feed(group, names) for group, names in self.groups().items()]

    def feed(self, group: str, categories: tuple[str, ...]) -> Feed:
        globs = [self.category_glob(name) for name in categories]
        containers = ", ".join(f"`{container(name)}`" for name in categories)
        return Feed(
            source_id=self.feed_source_id(group),
            dag_id=self.group_dag_id(group),
            record_kind=f"{KIND}_{group}",
            title=f"Entra ID {_TITLES[group]} from Azure Monitor exports ({self.name})",
            schedule=self.schedule,
            selection=FileManifest(pattern=" + ".join(globs)),
            fetch=partial(_fetch, self, categories),
            normalise=ExportNormaliser(group, categories, self.tenant_id),
            doc_md=(
                f"Azure Monitor exports of tenant **{self.tenant}** under `{self.path}` "
                f"(containers {containers}), written under the Graph feed's source id "
                f"`{self.feed_source_id(group)}`.\n\n{_DOC}"
            ),
            tags=("files", KIND, f"tenant:{self.tenant}", _TITLES[group]),
            tenant_id=self.tenant_id,
            conn_id=self.storage_conn_id,
            max_active_runs=self.max_active_runs,
            shares_source_id=True,
        )


def _fetch(
    source: AzureMonitorExportSource, categories: tuple[str, ...], request: FetchRequest
) -> Iterator[Page]:
    """The pages of every category's new or changed blobs, one container after another, all
    into the one request (one batch, one manifest update)."""
    for category in categories:
        yield from file_pages(
            source.model_copy(update={"path": source.category_glob(category)}), request
        )


register_kind(
    SourceKind(
        name=KIND,
        config=AzureMonitorExportSource,
        summary=(
            "Entra ID sign-in and audit logs archived by a diagnostic setting to a storage "
            "account, stored under the Graph feeds' source ids"
        ),
        doc=_DOC,
        example={
            "name": "contoso_archive",
            "path": "/data/azure-monitor/contoso",
            "tenant": "contoso",
            "tenant_id": "72f988bf-86f1-41af-91ab-2d7cd011db47",
        },
    )
)
