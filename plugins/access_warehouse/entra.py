"""Entra ID feeds (Microsoft Graph audit logs): what to request, and the task functions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from access_warehouse.config import (
    DirectoryAuditFeedConfig,
    EntraTenantConfig,
    FeedConfig,
    SignInFeedConfig,
)
from access_warehouse.extract import ExtractSummary, extract_graph_feed
from access_warehouse.landing import ExtractWindow
from access_warehouse.load import Exclusion, LoadSummary, Normaliser, SourceInfo, load_batch
from access_warehouse.normalise.directory_audits import normalise_directory_audit
from access_warehouse.normalise.signins import normalise_signin
from access_warehouse.sources.graph import GraphFeedQuery


@dataclass(frozen=True)
class GraphFeedSpec:
    name: str  # the feed's key in config and in source ids
    kind: str  # audit.sources.kind
    path: str
    time_field: str
    normalise: Normaliser


FEEDS: dict[str, GraphFeedSpec] = {
    "signins": GraphFeedSpec(
        name="signins",
        kind="entra_signins",
        path="auditLogs/signIns",
        time_field="createdDateTime",
        normalise=normalise_signin,
    ),
    "directory_audits": GraphFeedSpec(
        name="directory_audits",
        kind="entra_directory_audits",
        path="auditLogs/directoryAudits",
        time_field="activityDateTime",
        normalise=normalise_directory_audit,
    ),
}


def feed_config(tenant: EntraTenantConfig, feed: str) -> FeedConfig:
    return getattr(tenant, feed)


def graph_query(tenant: EntraTenantConfig, feed: str) -> GraphFeedQuery:
    """The Graph requests of one feed: sign-ins on beta get one stream per event type, because
    beta without a ``signInEventTypes`` filter returns interactive sign-ins only."""
    spec, config = FEEDS[feed], feed_config(tenant, feed)
    streams: tuple[str | None, ...] = (None,)
    if isinstance(config, SignInFeedConfig) and config.api_version == "beta":
        streams = tuple(f"signInEventTypes/any(t: t eq '{kind}')" for kind in config.event_types)
    return GraphFeedQuery(
        conn_id=tenant.conn_id,
        api_version=config.api_version,
        path=spec.path,
        time_field=spec.time_field,
        page_size=config.page_size,
        streams=streams,
        max_attempts=config.max_attempts,
    )


def record_exclusion(config: FeedConfig) -> Exclusion | None:
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


def source_info(tenant: EntraTenantConfig, feed: str) -> SourceInfo:
    return SourceInfo(
        source_id=tenant.source_id(feed),
        kind=FEEDS[feed].kind,
        tenant_id=tenant.tenant_id,
        conn_id=tenant.conn_id,
    )


def extract_feed(
    dsn: str,
    tenant: EntraTenantConfig,
    feed: str,
    window: ExtractWindow,
    *,
    dag_id: str | None = None,
    run_id: str | None = None,
    hook: Any = None,
) -> ExtractSummary:
    """Land one window of one tenant's feed (the extract task)."""
    return extract_graph_feed(
        dsn,
        source_id=tenant.source_id(feed),
        source_kind=FEEDS[feed].kind,
        query=graph_query(tenant, feed),
        window=window,
        dag_id=dag_id,
        run_id=run_id,
        hook=hook,
    )


def load_feed(
    dsn: str,
    tenant: EntraTenantConfig,
    feed: str,
    batch_id: str,
    *,
    dag_id: str | None = None,
    run_id: str | None = None,
) -> LoadSummary:
    """Normalise, validate, resolve and upsert one landed batch (the load task)."""
    return load_batch(
        dsn,
        batch_id,
        source=source_info(tenant, feed),
        normalise=FEEDS[feed].normalise,
        exclude=record_exclusion(feed_config(tenant, feed)),
        dag_id=dag_id,
        run_id=run_id,
    )
