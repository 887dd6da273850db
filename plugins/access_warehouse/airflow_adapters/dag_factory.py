"""One DAG per configured feed, whatever its source kind: schedule, Params, wiring, ``doc_md``.

``dags/sources.py`` calls :func:`build_source_dags`; the DAG ids, schedules, docs and the choice
of window or bookmark all come from the feeds the registry's kinds give for the config.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import CronDataIntervalTimetable, Param, dag, get_current_context, task

from access_warehouse.airflow_adapters import tasks
from access_warehouse.airflow_adapters.assets import ACCESS_EVENTS
from access_warehouse.config import SourcesConfig, load_sources
from access_warehouse.sources.base import Feed, FileManifest, TimeWindow

_RUN_DOC = """
---
### {title} -> `audit.access_events`

Source id `{source_id}`, schedule `{schedule}` UTC; each run extracts by {selection}.

Each run lands what the source sent, raw, in `landing.records`, normalises it to the
access-event contract, validates it with the repo's GX suites (`include/quality/suites/`:
rows that fail go to `dq.quarantine` with every failed expectation), resolves people and config
items, and upserts `audit.access_events` and `audit.access_logs` in one transaction.

* **Batch-level checks fail the run and load nothing of the window**, naming the check and by
  how much: the share quarantined, volume against the trailing windows, no events where there
  normally are some, the newest event's age (thresholds: the source's `quality:` block).
* Results: `dq.validation_runs`, `dq.expectation_results`; what was asked and what the source
  said, and whether it reconciles: `dq.completeness`, per day `dq.daily_summary`; the task log
  names the Data Docs page.

* **Reruns are safe**: events upsert on their natural key; a rerun changes no row.
* Every run adds a row to `audit.batches`: extracted = loaded + quarantined + excluded.
* A run that fails leaves `audit` untouched and its landing batch marked `failed`; the retry
  starts a fresh batch.
{manual}
* **Re-processing quarantine** (after a fix): trigger a run with `reprocess_quarantine` on.
  After its load, the `reprocess_quarantine` task lands this source's open `dq.quarantine`
  records again as a new landing batch and loads it with the current code and config (no
  bookmark or file manifest moves). Records that load, or that the config now excludes, leave
  quarantine (`released_at`); the others stay with their new reasons;
  `dq.quarantine_history` keeps when and why. Off (the task is skipped) unless asked. The same
  from a shell: `python -m access_warehouse.cli reprocess-quarantine {source_id} --dsn DSN`.
"""

_WINDOW_MANUAL = """* **Manual runs** have no data interval: set `window_start`/`window_end`
  (ISO 8601, UTC) in the trigger form, or leave them empty to take the last complete UTC day."""

_BOOKMARK_MANUAL = """* **Manual runs** extract whatever is new since the bookmark; the bookmark
  moves only when the load commits, so a failed run is simply run again."""

_FILES_MANUAL = """* **Manual runs** load every file not loaded yet or changed since; a file
  enters the manifest only when its load commits, and a file still being written waits for the
  next run."""


def feed_doc(feed: Feed) -> str:
    """The DAG's ``doc_md``: the kind's doc of the feed, then how a run works."""
    if isinstance(feed.selection, TimeWindow):
        manual = _WINDOW_MANUAL
    elif isinstance(feed.selection, FileManifest):
        manual = _FILES_MANUAL
    else:
        manual = _BOOKMARK_MANUAL
    return feed.doc_md + _RUN_DOC.format(
        title=feed.title,
        source_id=feed.source_id,
        schedule=feed.schedule,
        selection=feed.selection.describe(),
        manual=manual,
    )


def _params(feed: Feed) -> dict[str, Param]:
    reprocess = {
        "reprocess_quarantine": Param(
            False,
            type="boolean",
            title="Re-process quarantine",
            description="After the load, also load this source's open quarantined records "
            "again with the current code and config (dq.quarantine; see the DAG's docs)",
        )
    }
    if not isinstance(feed.selection, TimeWindow):
        return reprocess
    return {
        "window_start": Param(
            None, type=["null", "string"], description="ISO 8601 UTC; manual runs only"
        ),
        "window_end": Param(
            None, type=["null", "string"], description="ISO 8601 UTC; manual runs only"
        ),
        **reprocess,
    }


def build_dag(feed: Feed) -> Any:
    """The DAG of one feed: migrate -> extract -> load -> reprocess_quarantine (on request)."""
    source_id = feed.source_id

    @dag(
        dag_id=feed.dag_id,
        schedule=CronDataIntervalTimetable(feed.schedule, timezone="UTC"),
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        catchup=False,
        max_active_runs=feed.max_active_runs,
        default_args={"retries": 2, "retry_delay": timedelta(seconds=30)},
        params=_params(feed),
        tags=list(feed.tags),
        doc_md=feed_doc(feed),
    )
    def source_feed() -> None:
        @task(retries=3, doc_md="Apply pending `include/sql/migrations` (idempotent).")
        def migrate_warehouse() -> list[str]:
            return tasks.migrate_warehouse()

        @task(doc_md="Fetch into a new `landing` batch, page by page; returns its id and counts.")
        def extract() -> dict:
            return tasks.extract(source_id, get_current_context())

        @task(
            outlets=[ACCESS_EVENTS], doc_md="Normalise, validate, resolve, upsert: one transaction."
        )
        def load(extracted: dict) -> dict:
            return tasks.load(source_id, extracted, get_current_context())

        @task(
            outlets=[ACCESS_EVENTS],
            doc_md="With the `reprocess_quarantine` param on: load the source's open quarantined "
            "records again (a new landing batch); skipped otherwise. Returns the counts.",
        )
        def reprocess_quarantine(loaded: dict) -> dict:
            return tasks.reprocess_quarantine(source_id, loaded, get_current_context())

        extracted = extract()
        migrate_warehouse() >> extracted
        reprocess_quarantine(load(extracted))

    return source_feed()


def build_source_dags(config: SourcesConfig | None = None) -> dict[str, Any]:
    """Every configured feed's DAG by DAG id."""
    config = config or load_sources()
    return {feed.dag_id: build_dag(feed) for feed in config.feeds()}
