"""GX Data Docs: a static HTML site of the latest validation results per source.

Chunks are validated in an ephemeral GX context (fast, nothing written); once a batch's load has
committed, its merged outcome is stored as one GX validation result per suite the batch ran (its
events' suite; its raw suite too when the kind has one) in a File data context kept under the
data-docs folder, and the site is rebuilt. The context's ``gx/`` project lives next to the site,
so results accumulate across runs, workers and processes; only the latest ``KEEP_PER_SOURCE``
results of each source are kept. The index page gets a section of its own, "Latest validation
results per source", in plain HTML: GX's index table is filled in by scripts from public CDNs
and stays empty on a closed network.

The folder is ``ACCESS_WAREHOUSE_DATA_DOCS`` (default ``<project>/.data/data-docs``); the site is
``<folder>/gx/uncommitted/data_docs/local_site/index.html``. Deployments point the variable at a
volume their web server serves; ``off`` publishes nothing.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import quote

from access_warehouse.paths import PROJECT_ROOT
from access_warehouse.quality.access_events import ValidationOutcome
from access_warehouse.quality.gx import import_gx

log = logging.getLogger(__name__)

ENV_VAR = "ACCESS_WAREHOUSE_DATA_DOCS"
DEFAULT_DIR = PROJECT_ROOT / ".data" / "data-docs"
SITE_NAME = "local_site"
SITE_DIR = "uncommitted/data_docs/local_site/"  # relative to the context's gx/ folder
#: Results kept per source (older ones leave the store and the site).
KEEP_PER_SOURCE = 20
#: Results in GX's own index table (newest first, all sources).
GX_INDEX_LIMIT = 50
#: What the result's active batch definition names (the index's "Asset Name" is the source).
DATASOURCE_NAME = "access_events"


#: ``ACCESS_WAREHOUSE_DATA_DOCS=off``: loads publish no Data Docs.
OFF = "off"


def data_docs_dir() -> Path:
    """The configured folder, read at call time (tests and workers set the variable late)."""
    return Path(os.environ.get(ENV_VAR) or DEFAULT_DIR)


def index_path(folder: Path | None = None) -> Path:
    """Where the site's ``index.html`` is (or will be) for ``folder``."""
    return (folder or data_docs_dir()) / "gx" / SITE_DIR / "index.html"


def publish_validation(
    outcomes: Iterable[ValidationOutcome | None],
    *,
    source_id: str,
    batch_id: uuid.UUID | str,
    window_start: datetime | None = None,
    window_end: datetime | None = None,
    quarantined: int = 0,
    dag_id: str | None = None,
    run_id: str | None = None,
    suites: Iterable[Any] = (),
    suite_name: str = "access_events",
    folder: Path | None = None,
    keep: int = KEEP_PER_SOURCE,
) -> Path | None:
    """Store a batch's merged validation outcomes (one GX validation result per suite the batch
    ran: its events' suite, and its raw suite when the kind has one) and rebuild the site;
    return the index path.

    ``suites`` are the GX ``ExpectationSuite`` objects that were validated (see
    :func:`suites_of`): their expectation configurations word the page as GX does; without them
    the page names each expectation by type and column only. ``suite_name`` names the results
    of outcome items that do not say their suite.

    Never raises: Data Docs are a report, so a failure (an unwritable folder, a GX error) is
    logged as a warning and None returned; the load it follows has already committed. None too
    when nothing reached validation (every outcome None or empty).
    """
    groups = _by_suite([outcome for outcome in outcomes if outcome is not None], suite_name)
    if not groups or (folder is None and os.environ.get(ENV_VAR) == OFF):
        return None
    folder = folder or data_docs_dir()
    started = time.monotonic()
    try:
        gx = import_gx()
        gx_suites = {suite.name: suite for suite in suites if suite is not None}
        run_time = datetime.now(UTC)
        results = [
            batch_result(
                gx,
                name,
                items,
                evaluated,
                suite=gx_suites.get(name),
                source_id=source_id,
                batch_id=str(batch_id),
                window_start=window_start,
                window_end=window_end,
                quarantined=quarantined,
                dag_id=dag_id,
                run_id=run_id,
                run_time=run_time,
            )
            for name, (items, evaluated) in groups.items()
        ]
        with _locked(folder):
            context = _file_context(folder)
            keys: list[Any] = []
            for result in results:
                suite = gx_suites.get(result.suite_name)
                if suite is not None:  # the Expectation Suites tab
                    context.suites.add_or_update(_copy_suite(gx, suite))
                key = _result_key(result, str(batch_id))
                context.validation_results_store.set(key, result)
                keys += [key, key.expectation_suite_identifier]
            removed = _prune(context, keep)
            # only the new results' pages and the index: pages of pruned results are removed
            # by the index build (their source keys are gone)
            context.build_data_docs(site_names=[SITE_NAME], resource_identifiers=keys)
            _add_latest_section(context, folder)
    except Exception as exc:  # a report must never fail the load it reports on
        log.warning(
            "data docs not built in %s: %s: %s", folder, type(exc).__name__, exc, exc_info=True
        )
        return None
    log.debug(
        "data docs: %d results of batch %s stored, %d pruned, %.2f s",
        len(results),
        batch_id,
        removed,
        time.monotonic() - started,
    )
    return index_path(folder)


def suites_of(*validators: Any) -> list[Any]:
    """The GX suites of validators (``AccessEventValidator``, ``RawRecordValidator``; None
    skipped)."""
    found = []
    for validator in validators:
        if validator is None:
            continue
        if validator.suite is not None:
            found.append(validator.suite)
    return found


def build_data_docs(folder: Path | None = None) -> Path:
    """Rebuild the whole site from the stored results (an empty site when there are none);
    return the index path. Raises on failure (for people at a terminal)."""
    folder = folder or data_docs_dir()
    with _locked(folder):
        context = _file_context(folder)
        context.build_data_docs(site_names=[SITE_NAME])
        _add_latest_section(context, folder)
    return index_path(folder)


def _by_suite(outcomes: list[ValidationOutcome], default: str) -> dict[str, tuple[list[Any], int]]:
    """Expectation outcomes grouped by the suite they belong to, with the events (or records)
    that suite evaluated."""
    groups: dict[str, tuple[list[Any], int]] = {}
    for outcome in outcomes:
        for item in outcome.expectations.values():
            name = getattr(item, "suite", "") or default
            items, evaluated = groups.get(name, ([], 0))
            items.append(item)
            groups[name] = (items, max(evaluated, outcome.evaluated))
    return groups


def batch_result(
    gx: Any,
    suite_name: str,
    items: list[Any],
    evaluated: int,
    *,
    suite: Any | None,
    source_id: str,
    batch_id: str,
    window_start: datetime | None,
    window_end: datetime | None,
    quarantined: int = 0,
    dag_id: str | None = None,
    run_id: str | None = None,
    run_time: datetime | None = None,
) -> Any:
    """A batch's merged expectation outcomes of one suite as one GX
    ``ExpectationSuiteValidationResult``: per expectation its success, unexpected count and
    how many rows it evaluated, with the suite's own expectation configurations."""
    from great_expectations.core import (
        ExpectationSuiteValidationResult,
        ExpectationValidationResult,
    )
    from great_expectations.core.run_identifier import RunIdentifier

    configs: dict[Any, Any] = {}
    for expectation in suite.expectations if suite is not None else ():
        config = expectation.configuration
        expectation_id = (config.meta or {}).get("id")
        if expectation_id:
            configs.setdefault(expectation_id, config)
        configs.setdefault((config.type, config.kwargs.get("column")), config)
    results = []
    errors_ok = True
    for item in items:
        expectation_id = getattr(item, "id", "")
        severity = getattr(item, "severity", "error")
        config = configs.get(expectation_id) or configs.get((item.expectation, item.column))
        if config is None:  # GX cannot render an expectation without its kwargs
            raise ValueError(
                f"suite {suite_name!r} was not given, or lacks expectation "
                f"{expectation_id or item.expectation}({item.column})"
            )
        count = getattr(item, "evaluated", 0) or evaluated
        details: dict[str, Any] = {}
        if item.column is not None and item.expectation != "expect_column_to_exist":
            details = {
                "element_count": count,
                "unexpected_count": item.unexpected_count,
                "unexpected_percent": 100.0 * item.unexpected_count / count if count else 0.0,
                "partial_unexpected_list": list(
                    (item.details or {}).get("partial_unexpected_list") or []
                )[:20],
            }
        results.append(
            ExpectationValidationResult(
                success=item.success, expectation_config=config, result=details
            )
        )
        errors_ok = errors_ok and (item.success or severity != "error")
    successful = sum(1 for result in results if result.success)
    run_time = run_time or datetime.now(UTC)
    batch_spec = {
        "data_asset_name": source_id,
        "source_id": source_id,
        "batch_id": batch_id,
        "window": (
            f"{_iso(window_start)} .. {_iso(window_end)}"
            if window_start or window_end
            else "none (a bookmark or file batch)"
        ),
        "rows_evaluated": evaluated,
        "records_quarantined": quarantined,
        "dag_id": dag_id,
        "run_id": run_id,
    }
    return ExpectationSuiteValidationResult(
        # warnings do not fail a validation (as in dq.validation_runs)
        success=errors_ok,
        results=results,
        suite_name=suite_name,
        statistics={
            "evaluated_expectations": len(results),
            "successful_expectations": successful,
            "unsuccessful_expectations": len(results) - successful,
            "success_percent": 100.0 * successful / len(results) if results else None,
        },
        meta={
            "great_expectations_version": gx.__version__,
            "run_id": RunIdentifier(run_name=_run_name(source_id), run_time=run_time),
            "batch_spec": {key: value for key, value in batch_spec.items() if value is not None},
            "active_batch_definition": {
                "datasource_name": DATASOURCE_NAME,
                "data_asset_name": source_id,
                "batch_definition_name": batch_id,
            },
            "validation_time": run_time.strftime("%Y%m%dT%H%M%S.%fZ"),
        },
        batch_id=batch_id,
    )


def _copy_suite(gx: Any, suite: Any) -> Any:
    """A copy of a validated suite to save (saving sets ids on the caller's own objects)."""
    configs = []
    for expectation in suite.expectations:
        config = expectation.configuration
        config.id = None  # the ephemeral context's ids mean nothing in the file one
        configs.append(config)
    # given to the constructor: ``add_expectation*`` would save each one to the store at once
    return gx.ExpectationSuite(name=suite.name, expectations=configs, meta=dict(suite.meta or {}))


def _iso(moment: datetime | None) -> str:
    return moment.isoformat() if moment else "-"


def _run_name(source_id: str) -> str:
    """The run name is the source id (file-store keys must not hold path separators)."""
    return source_id.replace("/", "_").replace("\\", "_")


def _result_key(result: Any, batch_id: str) -> Any:
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    return ValidationResultIdentifier(
        expectation_suite_identifier=ExpectationSuiteIdentifier(name=result.suite_name),
        run_id=result.meta["run_id"],
        batch_identifier=batch_id,
    )


def _prune(context: Any, keep: int) -> int:
    """Drop all but the latest ``keep`` results of each source (the run name); return how many
    were dropped."""
    store = context.validation_results_store
    by_source: dict[str, list[Any]] = defaultdict(list)
    for key in store.list_keys():
        by_source[key.run_id.run_name].append(key)
    removed = 0
    for keys in by_source.values():
        keys.sort(key=lambda key: key.run_id.run_time, reverse=True)
        for key in keys[keep:]:
            store.remove_key(key)
            removed += 1
    return removed


def _file_context(folder: Path) -> Any:
    """The File data context under ``folder`` (created on first use) with its site set up."""
    gx = import_gx()
    folder.mkdir(parents=True, exist_ok=True)
    context = gx.get_context(mode="file", project_root_dir=str(folder))
    site = {
        "class_name": "SiteBuilder",
        "show_how_to_buttons": False,
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": SITE_DIR},
        # GX's index reads every result it lists: cap it (the section above it has them all)
        "site_index_builder": {
            "class_name": "DefaultSiteIndexBuilder",
            "validation_results_limit": GX_INDEX_LIMIT,
        },
    }
    sites = context.list_data_docs_sites()
    if sites.get(SITE_NAME) != site:
        if SITE_NAME in sites:
            context.update_data_docs_site(SITE_NAME, site)
        else:
            context.add_data_docs_site(SITE_NAME, site)
    return context


#: Where the section goes in GX's index page: before its tabs (fallback: the top of the body).
_INDEX_ANCHOR = '<div id="section-1-content-block-2"'
_SECTION_MARK = "<!-- access_warehouse: latest per source -->"


def _add_latest_section(context: Any, folder: Path) -> None:
    """Write "Latest validation results per source" into the index page as plain HTML.

    GX's index lists results in a table that scripts from public CDNs (jQuery,
    bootstrap-table) fill in from data in the page: on a closed network, or under a strict
    content policy, it stays empty. This section needs no script: per source, its latest
    results (newest first) with suite, status, batch, window and what failed, linking to
    GX's own pages (which render without scripts). Its rows are kept in ``SUMMARY_FILE`` so
    that a publish reads only the new result, not every stored one.
    """
    rows = _summary_rows(context, folder)
    by_source: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows.values():
        by_source[row["source"]].append(row)
    suites = sorted({row["suite"] for row in rows.values()})
    parts = [
        _SECTION_MARK,
        '<div class="col-12 mb-4" id="latest-per-source">',
        "<h3>Latest validation results per source</h3>",
        f"<p>{len(rows)} results of {len(by_source)} sources; at most {KEEP_PER_SOURCE} per "
        "source are kept. Suites: "
        + ", ".join(
            f'<a href="{_href("expectations", *name.split("."))}">{escape(name)}</a>'
            for name in suites
        )
        + ".</p>",
    ]
    for source in sorted(by_source):
        parts.append(f'<h4 class="mt-3">{escape(source)}</h4>')
        parts.append(
            '<table class="table table-sm table-bordered latest-results"><thead><tr>'
            "<th>status</th><th>run time (UTC)</th><th>suite</th><th>batch</th><th>window</th>"
            "<th>rows evaluated</th><th>quarantined</th><th>unmet expectations</th>"
            "</tr></thead><tbody>"
        )
        for row in sorted(by_source[source], key=lambda row: row["run_time"], reverse=True):
            parts.append(
                f'<tr class="{"table-success" if row["success"] else "table-danger"}">'
                f"<td>{'succeeded' if row['success'] else 'failed'}</td>"
                f"<td>{escape(row['run_time'])}</td>"
                f"<td>{escape(row['suite'])}</td>"
                f'<td><a href="{row["href"]}">{escape(row["batch_id"])}</a></td>'
                f"<td>{escape(row['window'])}</td>"
                f"<td>{escape(row['evaluated'])}</td>"
                f"<td>{escape(row['quarantined'])}</td>"
                f"<td>{escape(', '.join(row['unmet'])) or '-'}</td></tr>"
            )
        parts.append("</tbody></table>")
    parts.append("</div>")
    section = "\n".join(parts) + "\n"
    index = index_path(folder)
    page = index.read_text()
    if _SECTION_MARK in page:
        return
    if _INDEX_ANCHOR in page:
        page = page.replace(_INDEX_ANCHOR, section + _INDEX_ANCHOR, 1)
    else:
        page = page.replace("<body>", "<body>\n" + section, 1)
    _write_atomically(index, page)


#: The section's rows, by result key (under the folder, beside ``gx/``).
SUMMARY_FILE = "latest-results.json"


def _summary_rows(context: Any, folder: Path) -> dict[str, dict[str, Any]]:
    """One row per stored result: those of the summary file whose results are still stored,
    plus rows read from results it lacks (the new one; all of them on a first build)."""
    path = folder / SUMMARY_FILE
    try:
        known = json.loads(path.read_text())
    except (OSError, ValueError):
        known = {}
    store = context.validation_results_store
    rows = {}
    for key in store.list_keys():
        name = "/".join(map(str, key.to_tuple()))
        row = known.get(name) if isinstance(known, dict) else None
        rows[name] = row if isinstance(row, dict) else _summary_row(key, store.get(key))
    _write_atomically(path, json.dumps(rows, indent=1, sort_keys=True))
    return rows


def _summary_row(key: Any, result: Any) -> dict[str, Any]:
    spec = result.meta.get("batch_spec", {})
    return {
        "source": key.run_id.run_name,
        "suite": result.suite_name,
        "success": bool(result.success),
        "run_time": key.run_id.run_time.strftime("%Y-%m-%d %H:%M:%S"),
        "batch_id": str(key.batch_identifier),
        "window": str(spec.get("window", "")),
        "evaluated": str(spec.get("rows_evaluated", "")),
        "quarantined": str(spec.get("records_quarantined", "")),
        "unmet": [_expectation_label(item) for item in result.results if not item.success],
        "href": _href(
            "validations",
            *key.expectation_suite_identifier.to_tuple(),
            *key.run_id.to_tuple(),
            key.batch_identifier,
        ),
    }


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text)
    temporary.replace(path)


def _expectation_label(item: Any) -> str:
    config = item.expectation_config
    label = (config.meta or {}).get("id") or f"{config.type}({config.kwargs.get('column')})"
    unexpected = (item.result or {}).get("unexpected_count")
    if unexpected:
        label = f"{label}: {unexpected} unexpected"
    # warnings are counted, their rows load: they do not fail a result
    return label + " (warning)" if (config.meta or {}).get("severity") == "warning" else label


def _href(*parts: str) -> str:
    """A link relative to the index, its segments escaped (source ids hold colons)."""
    return "/".join(quote(str(part), safe="") for part in parts) + ".html"


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """One writer at a time per folder (loads of several sources may finish together)."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / ".lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
