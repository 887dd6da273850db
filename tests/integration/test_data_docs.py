"""GX Data Docs after each load: a static site of the latest results per source, opened in
headless Chromium (Debian's package), which runs the page's scripts and prints the DOM."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import uuid
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin

import psycopg
import pytest
from toy_kind import ToySource, toy_line
from warehouse_asserts import land_pages

from access_warehouse import cli
from access_warehouse.load import load_batch
from access_warehouse.quality.access_events import AccessEventValidator
from access_warehouse.quality.data_docs import ENV_VAR, publish_validation, suites_of
from access_warehouse.quality.suites import raw_suite
from access_warehouse.sources.entra import EntraSource

FIXTURES = Path(__file__).parents[1] / "fixtures" / "entra_signins"
SIGNINS = EntraSource(kind="entra", name="test", tenant_id="test", conn_id="msgraph_default").feed(
    "signins"
)
TOY = ToySource(kind="toy", name="docs", path="/nonexistent/toy.jsonl").feeds()[0]
TOY_SUITE = "access_events.toy_events"
SIGNINS_SUITE = "access_events.entra_signins"


@pytest.fixture
def chromium() -> str:
    """Debian's Chromium (``scripts/system-deps.sh chromium``; ``make test`` installs it).
    Absent, the test skips, except under CI, where it fails."""
    found = shutil.which("chromium")
    if found is None:
        reason = "no chromium on PATH (scripts/system-deps.sh chromium installs Debian's)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI installs it: {reason}")
        pytest.skip(reason)
    return found


def dump_dom(chromium: str, url: str, profile: Path) -> str:
    """The DOM of the page at ``url`` after its scripts ran, as headless Chromium prints it."""
    profile.mkdir()
    run = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            # without these it waits on the network for ever here
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "<body" in run.stdout, run.stderr[-2000:]
    return run.stdout


class _Page(HTMLParser):
    """The text of a page and the rows of its "latest results" tables, with their links."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.rows: list[dict] = []
        self._skip = 0
        self._in_latest = False
        self._row: dict | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attributes = dict(attrs)
        if tag in ("script", "style"):
            self._skip += 1
        elif tag == "table":
            self._in_latest = "latest-results" in (attributes.get("class") or "")
        elif tag == "tr" and self._in_latest:
            self._row = {"cells": [], "links": []}
        elif tag == "td" and self._row is not None:
            self._cell = []
        elif tag == "a" and self._row is not None:
            self._row["links"].append(attributes.get("href"))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip -= 1
        elif tag == "table":
            self._in_latest = False
        elif tag == "td" and self._row is not None and self._cell is not None:
            self._row["cells"].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            if self._row["cells"]:
                self.rows.append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


def parse(dom: str) -> _Page:
    page = _Page()
    page.feed(dom)
    return page


def signin_records() -> list[dict]:
    return [
        json.loads(path.read_text())
        for path in sorted(FIXTURES.glob("*.json"))
        if not path.name.endswith(".expected.json") and not path.name.startswith("invalid_")
    ]


def toy_records(bad: bool) -> list[dict]:
    records = [json.loads(toy_line(n)) for n in range(1, 8)]
    if bad:
        records[2]["id"] = "bad-3"  # breaks the toy kind's `^toy-` expectation: quarantined
    return records


def test_site_lists_each_source_suite_and_result_in_chromium(
    warehouse_dsn: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    chromium: str,
) -> None:
    folder = tmp_path / "docs"
    monkeypatch.setenv(ENV_VAR, str(folder))
    caplog.set_level(logging.INFO, logger="access_warehouse.load")
    toy_ok = load_batch(warehouse_dsn, land_pages(warehouse_dsn, TOY, [toy_records(False)]), TOY)
    toy_bad = load_batch(warehouse_dsn, land_pages(warehouse_dsn, TOY, [toy_records(True)]), TOY)
    signins = load_batch(
        warehouse_dsn, land_pages(warehouse_dsn, SIGNINS, [signin_records()]), SIGNINS
    )
    assert toy_bad.quarantined == 1 and toy_ok.quarantined == 0 and signins.quarantined == 0

    index = folder / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
    assert index.is_file()
    assert caplog.text.count(f"data docs: {index}") == 3  # in the task log, once per load

    page = parse(dump_dom(chromium, index.as_uri(), tmp_path / "profile"))
    text = " ".join(" ".join(page.text).split())
    assert "Latest validation results per source" in text
    assert TOY_SUITE in text and SIGNINS_SUITE in text
    rows = {(row["cells"][3], row["cells"][2]): row for row in page.rows}  # (batch, suite)
    # one result per suite a batch ran: its events' suite, and its kind's raw suite if any
    signin_suites = {SIGNINS_SUITE} | (
        {"raw.entra_signins"} if raw_suite("entra_signins") else set()
    )
    assert set(rows) == {(toy_ok.batch_id, TOY_SUITE), (toy_bad.batch_id, TOY_SUITE)} | {
        (signins.batch_id, suite) for suite in signin_suites
    }
    bad = rows[toy_bad.batch_id, TOY_SUITE]
    status, _time, _suite, _batch, window, evaluated, quarantined, failed = bad["cells"]
    assert (status, quarantined, evaluated) == ("failed", "1", "7")
    assert "event_id" in failed and "1 unexpected" in failed
    assert window.startswith("2020-01-01T00:00:00+00:00 .. 2030-01-01")
    assert rows[toy_ok.batch_id, TOY_SUITE]["cells"][0] == "succeeded"
    for suite in signin_suites:
        status, *_, unmet = rows[signins.batch_id, suite]["cells"]
        assert status == "succeeded"  # warnings, if any, fail nothing
        assert unmet == "-" or all(item.endswith("(warning)") for item in unmet.split(", "))

    # the failed result's own GX page: the bad value and the batch it came from
    link = bad["links"][0]
    result_page = parse(dump_dom(chromium, urljoin(index.as_uri(), link), tmp_path / "p2"))
    result_text = " ".join(" ".join(result_page.text).split())
    assert "Status: Failed" in result_text and "bad-3" in result_text
    assert toy_bad.batch_id in result_text and f"Data asset: {TOY.source_id}" in result_text

    # people rebuild it and get its path from the command line
    index.unlink()
    assert cli.main(["data-docs", "--open-path"]) == 0
    assert index.is_file() and TOY_SUITE in index.read_text()


def test_only_the_latest_results_of_each_source_are_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "docs"))
    validator = AccessEventValidator("toy_events", TOY.expectations, None)
    outcome = validator.validate(
        [TOY.normalise(record, TOY.source_id) for record in toy_records(False)]
    )
    batches = [str(uuid.uuid4()) for _ in range(4)]
    for batch_id in batches:
        index = publish_validation(
            [outcome],
            suites=suites_of(validator),
            source_id=TOY.source_id,
            batch_id=batch_id,
            window_start=datetime(2026, 11, 10, tzinfo=UTC),
            window_end=datetime(2026, 11, 11, tzinfo=UTC),
            keep=2,
        )
    assert index is not None
    site = index.parent
    stored = {
        path.stem
        for path in (tmp_path / "docs" / "gx").rglob("*.json")
        if "validations" in path.parts
    }
    pages = {path.stem for path in (site / "validations").rglob("*.html")}
    assert stored == pages == set(batches[2:])
    assert batches[0] not in index.read_text() and batches[3] in index.read_text()


def test_a_failed_docs_build_warns_and_the_load_commits(
    warehouse_dsn: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(ENV_VAR, str(blocker / "docs"))  # cannot be created, even by root
    caplog.set_level(logging.INFO)

    summary = load_batch(warehouse_dsn, land_pages(warehouse_dsn, TOY, [toy_records(True)]), TOY)

    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert any(r.getMessage().startswith(f"data docs not built in {blocker}") for r in warnings)
    assert "data docs: " not in caplog.text
    with psycopg.connect(warehouse_dsn) as conn:
        batch = conn.execute(
            "SELECT loaded, quarantined FROM audit.batches WHERE batch_id = %s",
            (summary.batch_id,),
        ).fetchone()
        status = conn.execute("SELECT status FROM landing.extract_batches").fetchone()[0]
    assert batch == (6, 1) and status == "loaded"
