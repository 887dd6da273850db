"""A kind defined only in the tests gets its DAG, config validation and bookmarks from the
shared path: real ``dag.test()`` runs into a real warehouse."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
import toy_kind
from dag_runs import load_dags, run, use_config, use_warehouse
from toy_kind import DOC, toy_line
from warehouse_asserts import audit_snapshot, event_ids

from access_warehouse.config import ConfigError, load_sources

DAY = datetime(2026, 11, 10, tzinfo=UTC)


def sources(path: Path, mode: str, **extra: str) -> str:
    lines = "".join(f"    {key}: {value}\n" for key, value in extra.items())
    return f"sources:\n  - kind: toy\n    name: demo\n    path: {path}\n    mode: {mode}\n{lines}"


@pytest.fixture
def toy_file(tmp_path: Path) -> Path:
    return tmp_path / "toy.jsonl"


@pytest.fixture
def warehouse(
    warehouse_dsn: str, pg_server: str, airflow_db: Path, monkeypatch: pytest.MonkeyPatch
) -> str:
    use_warehouse(monkeypatch, pg_server, warehouse_dsn)
    return warehouse_dsn


def write_lines(path: Path, lines: list[str]) -> None:
    with path.open("a") as handle:
        handle.writelines(line + "\n" for line in lines)


def batches(dsn: str) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT extracted, loaded, quarantined, bookmark_from, bookmark_to"
            " FROM audit.batches ORDER BY sequence_no"
        ).fetchall()


def bookmark(dsn: str) -> dict | None:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT position FROM audit.bookmarks WHERE source_id = 'toy:demo'"
        ).fetchone()
    return row[0] if row else None


def test_toy_window_kind_gets_its_dag_doc_and_runs(
    warehouse: str, toy_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inside = [toy_line(n, at=DAY + timedelta(hours=n)) for n in range(5)]
    outside = [toy_line(9, at=DAY + timedelta(days=2))]
    write_lines(toy_file, [*inside, *outside, toy_line(10, at=DAY).replace("toy-10", "bad-10")])
    use_config(tmp_path, monkeypatch, sources(toy_file, "window"))

    dag = load_dags()["toy_demo"]
    assert DOC in dag.doc_md and "time window on `at`" in dag.doc_md
    assert set(dag.params) == {"window_start", "window_end", "reprocess_quarantine"}
    assert set(dag.tags) == {"toy"}
    assert run(dag, DAY) == "success"

    assert sorted(event_ids(warehouse, "toy:demo")) == [f"toy-{n}" for n in range(5)]
    # the kind's own expectation (ids start with toy-) quarantined the last record
    assert batches(warehouse) == [(6, 5, 1, None, None)]
    with psycopg.connect(warehouse) as conn:
        reasons = conn.execute("SELECT reasons FROM dq.quarantine").fetchone()[0]
        suite = conn.execute("SELECT suite_name FROM dq.validation_runs").fetchone()[0]
    # the kind's own expectation (in code), named by its column, then the GX expectation
    assert reasons == ["expectation: kind.event_id: expect_column_values_to_match_regex(event_id)"]
    assert suite == "access_events.toy_events"


def test_toy_config_errors_name_the_key_and_source(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(sources(tmp_path / "x.jsonl", "sometimes", schedule="'often'"))
    with pytest.raises(ConfigError) as error:
        load_sources(path)
    message = str(error.value)
    assert "sources.0.mode (source 'demo', kind 'toy'): Input should be 'window' or 'bookmark'" in (
        message
    )
    assert "sources.0.schedule (source 'demo', kind 'toy')" in message and "cron" in message


def test_source_names_are_unique_per_kind_and_dag_ids_across_kinds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(
        "sources:\n"
        "  - {kind: toy, name: signins, path: /x}\n"
        "  - {kind: entra, name: a, tenant_id: a, conn_id: msgraph_a}\n"
    )
    assert {f.dag_id for f in load_sources(path).feeds()} == {
        "toy_signins",
        "entra_signins",
        "entra_directory_audits",
    }
    path.write_text(
        "sources:\n  - {kind: toy, name: x, path: /x}\n  - {kind: toy, name: x, path: /y}\n"
    )
    with pytest.raises(ConfigError, match=r"unique per kind; repeated: \['toy:x'\]"):
        load_sources(path)
    # a kind whose DAG ids collide with another source's: refused before any DAG is built
    feeds = toy_kind.ToySource.feeds
    monkeypatch.setattr(
        toy_kind.ToySource,
        "feeds",
        lambda self: [replace(feed, dag_id="entra_signins") for feed in feeds(self)],
    )
    path.write_text(
        "sources:\n"
        "  - {kind: toy, name: y, path: /x}\n"
        "  - {kind: entra, name: a, tenant_id: a, conn_id: msgraph_a}\n"
    )
    with pytest.raises(
        ConfigError, match=r"two feeds would have the same dag_id: \['entra_signins'\]"
    ):
        load_sources(path)


def test_bookmark_moves_only_with_committed_loads_and_never_past_an_unloaded_record(
    warehouse: str, toy_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # seq values repeat, so pages (3 records) end inside groups of equal seq: the line number
    # breaks the ties
    write_lines(toy_file, [toy_line(n, seq=n // 4) for n in range(7)])
    use_config(tmp_path, monkeypatch, sources(toy_file, "bookmark"))
    dag = load_dags()["toy_demo"]
    assert set(dag.params) == {"reprocess_quarantine"}  # no window to choose
    assert "forward-only bookmark" in dag.doc_md

    assert run(dag, DAY) == "success"
    assert sorted(event_ids(warehouse, "toy:demo")) == sorted(f"toy-{n}" for n in range(7))
    assert bookmark(warehouse) == {"cursor": 1, "key": 7}

    # new records, two of them with the seq of the last one: only they are read next time
    write_lines(toy_file, [toy_line(n, seq=1) for n in (7, 8)] + [toy_line(9, seq=5)])
    assert run(dag, DAY + timedelta(days=1)) == "success"
    assert [row[0] for row in batches(warehouse)] == [7, 3]
    assert bookmark(warehouse) == {"cursor": 5, "key": 10}

    # a load that fails leaves the bookmark where it was; the next run reads the same records
    write_lines(toy_file, [toy_line(n, seq=6) for n in (10, 11)])
    before = audit_snapshot(warehouse)

    def crashes(record: dict, source_id: str) -> dict:
        raise MemoryError("simulated: the load dies")

    normalise = toy_kind.normalise_toy
    monkeypatch.setattr(toy_kind, "normalise_toy", crashes)
    assert run(dag, DAY + timedelta(days=2)) == "failed"
    assert bookmark(warehouse) == {"cursor": 5, "key": 10}
    assert audit_snapshot(warehouse) == before
    monkeypatch.setattr(toy_kind, "normalise_toy", normalise)
    assert run(dag, DAY + timedelta(days=3)) == "success"
    assert bookmark(warehouse) == {"cursor": 6, "key": 12}

    # a quarantined record is accounted for: the bookmark moves past it
    write_lines(toy_file, ['{"id": "toy-12", "seq": 7}'])  # no time: quarantined
    assert run(dag, DAY + timedelta(days=4)) == "success"
    assert batches(warehouse)[-1][:3] == (1, 0, 1)
    assert bookmark(warehouse) == {"cursor": 7, "key": 13}

    # nothing new: an empty batch, the bookmark stays
    assert run(dag, DAY + timedelta(days=5)) == "success"
    assert batches(warehouse)[-1][:3] == (0, 0, 0)
    assert bookmark(warehouse) == {"cursor": 7, "key": 13}
    assert sorted(event_ids(warehouse, "toy:demo")) == sorted(f"toy-{n}" for n in range(12))
