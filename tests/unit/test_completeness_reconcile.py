"""Reconciliation of a window's numbers (``quality.completeness.reconcile``): each rule alone."""

from __future__ import annotations

from typing import Any

from access_warehouse.quality.completeness import DailySummaryRow, format_daily_summary, reconcile


def verdict(**overrides: Any) -> tuple[str, list[str]]:
    numbers: dict[str, Any] = {
        "extracted": 10,
        "loaded": 7,
        "quarantined": 2,
        "excluded": 1,
        "source_count": None,
        "source_said": {},
    }
    return reconcile(**{**numbers, **overrides})


def test_numbers_that_agree_are_complete() -> None:
    assert verdict() == ("complete", [])
    assert verdict(source_count=10, source_said={"paging_ended": True}) == ("complete", [])


def test_records_neither_loaded_quarantined_nor_excluded() -> None:
    assert verdict(loaded=6) == (
        "not_reconciled",
        ["extracted 10 records but loaded 6 + quarantined 2 + excluded 1 = 9 (+1 unaccounted)"],
    )


def test_a_source_count_above_the_records_extracted() -> None:
    status, problems = verdict(source_count=12)
    assert status == "not_reconciled"
    assert problems == ["the source counted 12 records, 10 were extracted (2 missing)"]
    # whether or not the count shares the read's snapshot
    assert verdict(source_count=12, source_said={"count_snapshot": False})[0] == "not_reconciled"


def test_a_source_count_below_is_wrong_only_in_the_same_snapshot() -> None:
    status, problems = verdict(source_count=9, source_said={"count_snapshot": True})
    assert status == "not_reconciled" and "1 more than it holds" in problems[0]
    # a live table counted apart from the read: rows written after the count
    assert verdict(source_count=9, source_said={"count_snapshot": False}) == ("complete", [])


def test_paging_that_did_not_end() -> None:
    said = {
        "paging_ended": False,
        "streams": {"all": {"paging_ended": True}, "x": {"paging_ended": False}},
    }
    assert verdict(source_said=said) == (
        "not_reconciled",
        ["paging did not end: the last page read still had a next link (stream x)"],
    )


def test_a_file_not_read_fully() -> None:
    said = {"files": {"/a.jsonl": {"lines": 4, "read": 4}, "/b.jsonl": {"lines": 5, "read": 3}}}
    assert verdict(source_said=said) == (
        "not_reconciled",
        ["file /b.jsonl: 5 lines counted, 3 read"],
    )


def test_the_page_lists_problems_under_their_day() -> None:
    from datetime import date

    row = DailySummaryRow(
        date(2026, 11, 20), "s:1", 2, 2, 10, 9, 0, 0, 0, 1, "not_reconciled", ["a", "b", "c"]
    )
    text = format_daily_summary([row, row], 3).splitlines()
    assert text[0] == "daily summary, last 3 days (UTC): 1 sources, 2 source-days, 2 not complete"
    assert text[3].startswith("2026-11-20  s:1") and text[3].endswith("not_reconciled")
    assert [line.strip() for line in text[4:7]] == ["! a", "! b", "! ... and 1 more problems"]
    assert text[7].startswith("            s:1")  # the same day is not repeated
