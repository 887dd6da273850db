"""`cli find-text`: how a user shows that a text (a password) reached no warehouse table."""

from __future__ import annotations

import io

import pytest
from warehouse_asserts import land_pages

from access_warehouse.cli import main
from access_warehouse.config import parse_sources

pytestmark = pytest.mark.integration


def _find(monkeypatch: pytest.MonkeyPatch, dsn: str, text: str) -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(text + "\n"))
    return main(["find-text", "--dsn", dsn])


def test_find_text_names_the_tables_that_hold_it(
    warehouse_dsn: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    feed = parse_sources([{"kind": "toy", "name": "t", "path": "/x"}], "test").feeds()[0]
    # one record lands as jsonb, one (with a NUL) as raw bytes: both are searched
    land_pages(
        warehouse_dsn,
        feed,
        [
            [
                {"id": "1", "note": "kept hunter2-as-json"},
                {"id": "2", "note": "bytes-\x00-s3cr3t-raw"},
            ]
        ],
    )
    assert _find(monkeypatch, warehouse_dsn, "hunter2-as-json") == 1
    assert capsys.readouterr().out.splitlines() == ["landing.records", "found in 1 tables or views"]
    assert _find(monkeypatch, warehouse_dsn, "s3cr3t-raw") == 1
    assert "landing.records" in capsys.readouterr().out
    assert _find(monkeypatch, warehouse_dsn, "never-stored-text") == 0
    assert capsys.readouterr().out.strip() == "found in no table or view"
    assert _find(monkeypatch, warehouse_dsn, "ab") == 2  # too short to mean anything
