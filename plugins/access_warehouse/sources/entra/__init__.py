"""Source kind ``entra``: one Microsoft Entra ID tenant, read through Microsoft Graph.

A tenant has two feeds, each its own DAG and source id: sign-ins (``auditLogs/signIns``) and
directory audits (``auditLogs/directoryAudits``). Paging, throttling and token renewal are in
:mod:`access_warehouse.sources.graph`; the mappings to the access-event contract are the
docstrings of :mod:`.signins` and :mod:`.directory_audits`, summarised in ``doc.md``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from access_warehouse.sources.base import (
    Exclusion,
    Feed,
    FetchRequest,
    Page,
    ScheduleConfig,
    SourceConfig,
    SourceKind,
    TimeWindow,
)
from access_warehouse.sources.registry import register_kind

SIGNIN_EVENT_TYPES = (
    "interactiveUser",
    "nonInteractiveUser",
    "servicePrincipal",
    "managedIdentity",
)

_DOC = (Path(__file__).with_name("doc.md")).read_text()


class GraphFeedConfig(ScheduleConfig):
    """One Graph audit-log feed of one tenant."""

    lookback_minutes: int = Field(60, ge=0, le=7 * 24 * 60)
    api_version: Literal["v1.0", "beta"] = "beta"
    page_size: int = Field(1000, ge=1, le=1000)
    max_attempts: int = Field(8, ge=1, le=50)
    #: Graph's identity and access reports allow 5 requests per 10 s per app and tenant: the
    #: extract paces itself to that (null: no pacing; 429s are retried either way).
    max_requests_per_10s: int | None = Field(5, ge=1, le=1000)

    @property
    def lookback(self) -> timedelta:
        return timedelta(minutes=self.lookback_minutes)


class SignInFeedConfig(GraphFeedConfig):
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


class DirectoryAuditFeedConfig(GraphFeedConfig):
    api_version: Literal["v1.0", "beta"] = "v1.0"
    #: Left out at load (counted per rule in the batch row); compared case-insensitively with
    #: the record's ``category`` and ``activityDisplayName``.
    exclude_categories: tuple[str, ...] = ()
    exclude_activities: tuple[str, ...] = ()


#: feed key -> (Graph path, time field, record kind, title)
GRAPH_FEEDS: dict[str, tuple[str, str, str, str]] = {
    "signins": ("auditLogs/signIns", "createdDateTime", "entra_signins", "sign-ins"),
    "directory_audits": (
        "auditLogs/directoryAudits",
        "activityDateTime",
        "entra_directory_audits",
        "directory audits",
    ),
}


class EntraSource(SourceConfig):
    kind: Literal["entra"]
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

    def feed_config(self, feed: str) -> GraphFeedConfig:
        return getattr(self, feed)

    def graph_query(self, feed: str) -> Any:
        """The Graph requests of one feed: sign-ins on beta get one stream per event type,
        because beta without a ``signInEventTypes`` filter returns interactive sign-ins only."""
        from access_warehouse.sources.graph import GraphFeedQuery

        path, time_field, _, _ = GRAPH_FEEDS[feed]
        config = self.feed_config(feed)
        streams: tuple[str | None, ...] = (None,)
        if isinstance(config, SignInFeedConfig) and config.api_version == "beta":
            streams = tuple(
                f"signInEventTypes/any(t: t eq '{kind}')" for kind in config.event_types
            )
        return GraphFeedQuery(
            conn_id=self.conn_id,
            api_version=config.api_version,
            path=path,
            time_field=time_field,
            page_size=config.page_size,
            streams=streams,
            max_attempts=config.max_attempts,
            max_requests=config.max_requests_per_10s,
            rate_window_s=10.0,
        )

    def feeds(self) -> list[Feed]:
        return [self.feed(feed) for feed in GRAPH_FEEDS if self.feed_config(feed).enabled]

    def feed(self, feed: str) -> Feed:
        _, time_field, record_kind, title = GRAPH_FEEDS[feed]
        config = self.feed_config(feed)
        normalise, doc = _NORMALISERS[feed]
        return Feed(
            source_id=self.source_id(feed),
            dag_id=self.dag_id(feed),
            record_kind=record_kind,
            title=f"Entra ID {title} ({self.name})",
            schedule=config.schedule,
            selection=TimeWindow(lookback=config.lookback, time_field=time_field),
            fetch=partial(_fetch, self, feed),
            normalise=normalise,
            exclude=record_exclusion(config),
            doc_md=(
                f"Tenant **{self.name}** (`{self.tenant_id}`), connection `{self.conn_id}`, "
                f"Graph API `{config.api_version}`.\n\n{doc}"
            ),
            tags=("entra", title, f"tenant:{self.name}"),
            tenant_id=self.tenant_id,
            conn_id=self.conn_id,
        )

    @classmethod
    def check_siblings(cls, sources: list[SourceConfig]) -> list[SourceConfig]:
        defaults = [source.name for source in sources if getattr(source, "default", False)]
        if len(defaults) > 1:
            raise ValueError(f"at most one entra source may be the default; marked: {defaults}")
        if len(sources) == 1 and not defaults:
            return [sources[0].model_copy(update={"default": True})]
        return sources


def _fetch(source: EntraSource, feed: str, request: FetchRequest) -> Iterator[Page]:
    from access_warehouse.sources.graph import fetch_pages  # kiota and httpx: only when run

    return fetch_pages(source.graph_query(feed), request)


def record_exclusion(config: GraphFeedConfig) -> Exclusion | None:
    """The configured exclusions of a feed as a per-record test (None when there are none)."""
    if not isinstance(config, DirectoryAuditFeedConfig):
        return None
    categories = {value.strip().lower() for value in config.exclude_categories}
    activities = {value.strip().lower() for value in config.exclude_activities}
    if not categories and not activities:
        return None

    def excluded_by(record: dict[str, Any]) -> str | None:
        category = str(record.get("category") or "").strip()
        if category.lower() in categories:
            return f"category:{category}"
        activity = str(record.get("activityDisplayName") or "").strip()
        if activity.lower() in activities:
            return f"activity:{activity}"
        return None

    return excluded_by


def _feed_docs() -> dict[str, str]:
    """``doc.md`` split at its ``## <feed>`` headings."""
    sections: dict[str, str] = {}
    for chunk in _DOC.split("\n## ")[1:]:
        heading, _, body = chunk.partition("\n")
        sections[heading.strip()] = body.strip()
    return sections


def _normalisers() -> dict[str, tuple[Any, str]]:
    from access_warehouse.sources.entra.directory_audits import normalise_directory_audit
    from access_warehouse.sources.entra.signins import normalise_signin

    docs = _feed_docs()
    return {
        "signins": (normalise_signin, docs["signins"]),
        "directory_audits": (normalise_directory_audit, docs["directory_audits"]),
    }


_NORMALISERS = _normalisers()

register_kind(
    SourceKind(
        name="entra",
        config=EntraSource,
        summary="Microsoft Entra ID sign-ins and directory audits of one tenant (Graph)",
        doc=_DOC,
        example={
            "name": "contoso",
            "tenant_id": "contoso",
            "conn_id": "msgraph_default",
            "signins": {"api_version": "beta", "lookback_minutes": 60},
            "directory_audits": {"exclude_categories": ["Policy"]},
        },
    )
)
