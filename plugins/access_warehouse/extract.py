"""Extract one window of a Graph feed into landing: the function the extract tasks call."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import asdict, dataclass
from typing import Any

from access_warehouse.landing import ExtractWindow, LandingBatch
from access_warehouse.sources.graph import GraphFeedQuery, RequestStats, fetch_window

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExtractSummary:
    batch_id: str
    source_id: str
    pages: int
    records: int
    seconds: float
    requests: dict[str, Any]

    def as_xcom(self) -> dict[str, Any]:
        """Small, JSON-safe: ids and counts only; rows travel through the warehouse."""
        return asdict(self)


def make_graph_hook(query: GraphFeedQuery) -> Any:
    from airflow.providers.microsoft.azure.hooks.msgraph import KiotaRequestAdapterHook

    return KiotaRequestAdapterHook(
        conn_id=query.conn_id, api_version=query.api_version, timeout=query.timeout_s
    )


def extract_graph_feed(
    dsn: str,
    *,
    source_id: str,
    source_kind: str,
    query: GraphFeedQuery,
    window: ExtractWindow,
    dag_id: str | None = None,
    run_id: str | None = None,
    hook: Any = None,
) -> ExtractSummary:
    """Land every record of ``window`` (all streams of ``query``) as one landing batch.

    On any error the batch is marked ``failed`` with the error text and the error propagates, so
    Airflow retries the task with a fresh batch; the audit tables are untouched either way.
    """
    hook = hook or make_graph_hook(query)
    batch = LandingBatch(
        dsn,
        source_id=source_id,
        source_kind=source_kind,
        window=window,
        dag_id=dag_id,
        run_id=run_id,
    )
    stats = RequestStats()
    started = time.monotonic()
    log.info(
        "extracting %s [%s, %s) into landing batch %s",
        source_id,
        window.start.isoformat(),
        window.end.isoformat(),
        batch.batch_id,
    )
    try:
        asyncio.run(
            fetch_window(
                hook,
                query,
                window.start,
                window.end,
                on_page=lambda _stream, records: batch.write_page(records),
                stats=stats,
            )
        )
    except BaseException as exc:
        batch.finish("failed", error=f"{type(exc).__name__}: {exc}"[:4000], stats=stats)
        log.error("extract of %s failed after %d pages: %s", source_id, batch.pages, exc)
        raise
    else:
        batch.finish("extracted", stats=stats)
    finally:
        batch.close()
    seconds = time.monotonic() - started
    log.info(
        "extracted %d records in %d pages in %.1f s (%d requests, %d throttled, %d retried)",
        batch.records,
        batch.pages,
        seconds,
        stats.requests,
        stats.throttled,
        stats.retries,
    )
    return ExtractSummary(
        batch_id=str(batch.batch_id),
        source_id=source_id,
        pages=batch.pages,
        records=batch.records,
        seconds=round(seconds, 3),
        requests=asdict(stats),
    )
