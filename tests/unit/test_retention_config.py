"""``include/config/retention.yaml``: periods, policies, overrides, legal holds, the errors, and
the pure decisions built on them (which partition goes, when the next purge is)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from access_warehouse.config import ConfigError, parse_sources
from access_warehouse.retention.config import (
    FAMILIES,
    Keep,
    load_retention_config,
    parse_keep,
    parse_retention,
)
from access_warehouse.retention.enforce import Hold, _judge_partition, _Partition, _partition_due
from access_warehouse.retention.status import _next_row_purge

SIGNINS = "entra:contoso:signins"
AUDITS = "entra:contoso:directory_audits"
SOURCES = parse_sources(
    [{"kind": "entra", "name": "contoso", "tenant_id": "contoso", "conn_id": "msgraph_default"}],
    "test",
)


def error_of(raw: Any, sources: Any = None) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_retention(raw, "include/config/retention.yaml", sources)
    return str(caught.value)


def test_the_shipped_policies_are_the_issues() -> None:
    config = load_retention_config()
    assert {family: str(config.policies.family(family).keep) for family in FAMILIES} == {
        "landing": "30 days",
        "quarantine": "90 days",
        "access_events": "13 months",
        "access_logs": "7 years",
        "reporting": "7 years",
        "data_quality": "2 years",
    }
    assert config.schedule == "30 3 * * *" and config.batch_rows == 10_000
    assert config.legal_holds == () and config.retired_sources == ()
    # an empty file means the same defaults
    assert parse_retention({}, "empty.yaml") == config


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30 days", Keep(30, "days")),
        ("1 day", Keep(1, "days")),
        (" 13 Months ", Keep(13, "months")),
        ("7 years", Keep(7, "years")),
        ("1 year", Keep(1, "years")),
        ("forever", Keep(None, "forever")),
    ],
)
def test_periods(text: str, expected: Keep) -> None:
    assert parse_keep(text) == expected
    assert parse_keep(str(expected)) == expected  # written back as read


@pytest.mark.parametrize("text", ["13 moons", "0 days", "-3 days", "30", "13months ago", 30, None])
def test_what_is_not_a_period(text: Any) -> None:
    with pytest.raises(ValueError, match="not a retention period"):
        parse_keep(text)


def test_cutoffs_count_back_from_the_start_of_the_utc_day_in_calendar_units() -> None:
    afternoon = datetime(2026, 12, 20, 15, 30, tzinfo=UTC)
    assert parse_keep("13 months").cutoff(afternoon) == datetime(2025, 11, 20, tzinfo=UTC)
    assert parse_keep("30 days").cutoff(afternoon) == datetime(2026, 11, 20, tzinfo=UTC)
    assert parse_keep("7 years").cutoff(afternoon) == datetime(2019, 12, 20, tzinfo=UTC)
    # the day is clamped to the month's last
    assert parse_keep("1 month").cutoff(datetime(2026, 3, 31, tzinfo=UTC)) == datetime(
        2026, 2, 28, tzinfo=UTC
    )
    assert parse_keep("1 year").cutoff(datetime(2028, 2, 29, tzinfo=UTC)) == datetime(
        2027, 2, 28, tzinfo=UTC
    )
    # naive times are UTC; another zone is converted first
    assert parse_keep("30 days").cutoff(datetime(2026, 12, 20, 23, 0)) == datetime(
        2026, 11, 20, tzinfo=UTC
    )
    assert parse_keep("forever").cutoff(afternoon) is None


def _first_of_month_before(day: date, months: int) -> datetime:
    index = day.year * 12 + day.month - 1 - months
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("day", [date(2026, 1, 1), date(2026, 6, 15), date(2026, 12, 31)])
def test_thirteen_months_keeps_twelve_full_months_online(day: date) -> None:
    cutoff = parse_keep("13 months").cutoff(datetime(day.year, day.month, day.day, 12, tzinfo=UTC))
    # nothing of the twelve full months before the current one is past the policy (a partition
    # goes only when it ends at or before the cutoff), and nothing older than 13 months stays
    # past it
    assert cutoff is not None
    assert _first_of_month_before(day, 13) <= cutoff < _first_of_month_before(day, 12)


def test_overrides_win_and_rows_of_no_source_keep_the_longest() -> None:
    config = parse_retention(
        {
            "policies": {
                "reporting": {"keep": "7 years", "by_source": {SIGNINS: "10 years"}},
                "access_events": {"keep": "13 months", "by_source": {AUDITS: "6 months"}},
            }
        },
        "f.yaml",
        SOURCES,
    )
    assert config.policy("reporting", SIGNINS) == (Keep(10, "years"), "source")
    assert config.policy("reporting", AUDITS) == (Keep(7, "years"), "default")
    assert config.policies.reporting.longest() == Keep(10, "years")
    # the shortest period decides how far a run looks at partitions
    now = datetime(2026, 12, 20, tzinfo=UTC)
    assert config.policies.access_events.latest_cutoff(now) == datetime(2026, 6, 20, tzinfo=UTC)


def test_errors_name_the_file_the_key_and_what_is_wrong() -> None:
    message = error_of(
        {
            "policies": {"events": {"keep": "1 year"}, "landing": {"keep": "3 moons"}},
            "batch_rows": 5,
            "schedule": "daily",
        }
    )
    assert message.startswith("include/config/retention.yaml: invalid configuration")
    assert "policies.events: Extra inputs are not permitted" in message
    assert "policies.landing.keep: Value error, not a retention period: '3 moons'" in message
    assert "batch_rows: Input should be greater than or equal to 100" in message
    assert "schedule: Value error, not a valid cron expression: 'daily'" in message


def test_what_speaks_for_events_may_not_go_before_them() -> None:
    message = error_of({"policies": {"access_logs": {"keep": "1 year"}}})
    assert "policies.access_logs: the default keeps 1 year, less than its access_events " \
        "(13 months)" in message  # fmt: skip
    message = error_of(
        {"policies": {"access_events": {"keep": "13 months", "by_source": {SIGNINS: "3 years"}}}}
    )
    assert f"policies.data_quality: source '{SIGNINS}' keeps 2 years, less than its " \
        "access_events (3 years)" in message  # fmt: skip


HOLD = {
    "id": "LH-1",
    "from": "2025-09-01",
    "to": "2025-10-01",
    "sources": [SIGNINS],
    "reason": "Litigation hold",
    "set_by": "legal@contoso.com",
    "set_at": "2026-01-15",
}


def test_legal_holds() -> None:
    config = parse_retention({"legal_holds": [HOLD]}, "f.yaml", SOURCES)
    (hold,) = config.legal_holds
    assert (hold.from_, hold.to) == (
        datetime(2025, 9, 1, tzinfo=UTC),
        datetime(2025, 10, 1, tzinfo=UTC),
    )
    assert hold.in_force(datetime(2030, 1, 1, tzinfo=UTC))
    released = parse_retention(
        {"legal_holds": [{**HOLD, "released_at": "2026-06-01T12:00:00+02:00"}]}, "f.yaml"
    ).legal_holds[0]
    assert released.released_at == datetime(2026, 6, 1, 10, tzinfo=UTC)
    assert released.in_force(datetime(2026, 6, 1, 9, tzinfo=UTC))
    assert not released.in_force(datetime(2026, 6, 1, 10, tzinfo=UTC))
    assert config.holds_in_force(datetime(2026, 1, 1, tzinfo=UTC)) == [hold]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"to": "2025-09-01"}, "legal_holds.0: Value error, the period ends (2025-09-01) before it "
                               "starts (2025-09-01); `to` is exclusive"),
        ({"reason": "  "}, "legal_holds.0.reason: Value error, must not be blank"),
        ({"set_by": ""}, "legal_holds.0.set_by: String should have at least 1 character"),
        ({"id": "has space"}, "legal_holds.0.id: String should match pattern"),
        ({"from": "last year"}, "legal_holds.0.from: Value error, not a day or time"),
        ({"released_at": "2025-01-01"}, "legal_holds.0: Value error, released_at is before set_at"),
        ({"until": "2027-01-01"}, "legal_holds.0.until: Extra inputs are not permitted"),
    ],
)  # fmt: skip
def test_what_a_hold_may_not_be(change: dict[str, Any], expected: str) -> None:
    assert expected in error_of({"legal_holds": [{**HOLD, **change}]})


def test_hold_ids_are_unique() -> None:
    assert "hold ids must be unique; twice: ['LH-1']" in error_of({"legal_holds": [HOLD, HOLD]})


def test_source_ids_must_be_configured_or_retired() -> None:
    raw = {
        "policies": {"access_events": {"keep": "13 months", "by_source": {"db:old": "2 years"}}},
        "legal_holds": [{**HOLD, "sources": ["entra:contso:signins"]}],
    }
    message = error_of(raw, SOURCES)
    assert "policies.access_events.by_source: 'db:old' is not a source of the sources config" \
        in message  # fmt: skip
    assert "legal_holds.0.sources: 'entra:contso:signins' is not a source" in message
    assert "add it to retired_sources" in message
    raw["retired_sources"] = ["db:old", "entra:contso:signins"]
    assert parse_retention(raw, "f.yaml", SOURCES).retired_sources == (
        "db:old",
        "entra:contso:signins",
    )


def test_the_file_itself(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_retention_config(tmp_path / "missing.yaml", SOURCES)
    bad = tmp_path / "retention.yaml"
    bad.write_text("policies: [")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_retention_config(bad, SOURCES)
    bad.write_text("- a list\n")
    with pytest.raises(ConfigError, match="expected a mapping at the top level"):
        load_retention_config(bad, SOURCES)


# --- decisions ---------------------------------------------------------------------------------

NOW = datetime(2026, 12, 20, 6, tzinfo=UTC)  # 13 months back: 2025-11-20
OCTOBER = _Partition("access_events_y2025m10", datetime(2025, 10, 1, tzinfo=UTC),
                     datetime(2025, 11, 1, tzinfo=UTC))  # fmt: skip
CARD = "postgres_audit_trigger:cardholder"


def hold(sources: tuple[str, ...], start: str = "2025-10-10", end: str = "2025-10-11") -> Hold:
    return Hold("H", datetime.fromisoformat(start).replace(tzinfo=UTC),
                datetime.fromisoformat(end).replace(tzinfo=UTC), sources, "why", "me",
                "table")  # fmt: skip


def judge(sources: list[str], holds: list[Hold], **policies: Any) -> tuple:
    config = parse_retention({"policies": policies}, "f.yaml")
    action, due, reasons, _ = _judge_partition(OCTOBER, sources, config, NOW, holds)
    return action, due, [reason["reason"] for reason in reasons]


def test_a_partition_goes_when_all_its_sources_are_past_their_policy_and_nothing_holds_it():
    assert judge([SIGNINS, AUDITS], []) == ("drop_partition", [SIGNINS, AUDITS], [])
    # a hold on a source with no rows in the partition does not keep it
    assert judge([SIGNINS], [hold((CARD,))])[0] == "drop_partition"
    # a hold outside the partition's month neither
    assert judge([SIGNINS], [hold((), "2025-11-01", "2025-12-01")])[0] == "drop_partition"
    # an empty partition past the default policy goes too
    assert judge([], [hold(())])[0] == "drop_partition"


def test_a_partition_stays_whole_for_a_longer_policy_or_a_hold() -> None:
    longer = {"access_events": {"keep": "13 months", "by_source": {CARD: "25 months"}},
              "data_quality": {"keep": "3 years"}}  # fmt: skip
    assert judge([SIGNINS, CARD], [], **longer) == (
        "keep_partition", [SIGNINS], ["source_policy"]
    )  # fmt: skip
    assert judge([SIGNINS, AUDITS], [hold((AUDITS,))]) == (
        "keep_partition", [SIGNINS, AUDITS], ["legal_hold"]
    )  # fmt: skip
    assert judge([SIGNINS], [hold(())])[0] == "keep_partition"  # every source
    # no source is past its policy: nothing to say
    assert judge([CARD], [], **longer) == (None, [], [])
    # a source with a shorter policy than the partition's other sources keeps waiting for them
    shorter = {"access_events": {"keep": "13 months", "by_source": {AUDITS: "6 months"}}}
    later = _Partition("access_events_y2026m05", datetime(2026, 5, 1, tzinfo=UTC),
                       datetime(2026, 6, 1, tzinfo=UTC))  # fmt: skip
    config = parse_retention({"policies": shorter}, "f.yaml")
    action, due, reasons, _ = _judge_partition(later, [SIGNINS, AUDITS], config, NOW, [])
    assert (action, due) == ("keep_partition", [AUDITS])
    assert reasons[0]["text"] == f"{SIGNINS} keeps 13 months (its rows here are due 2027-07-01)"


def test_when_the_next_purge_comes() -> None:
    months = parse_keep("13 months")
    # a partition: the first day its end is at or before the cutoff
    assert _partition_due(OCTOBER, [months]) == datetime(2026, 12, 1, tzinfo=UTC)
    assert _partition_due(OCTOBER, [months, parse_keep("25 months")]) == datetime(
        2027, 12, 1, tzinfo=UTC
    )
    assert _partition_due(OCTOBER, [months, parse_keep("forever")]) is None
    # a row: the first day whose cutoff is later than its time
    assert _next_row_purge(parse_keep("30 days"), datetime(2026, 12, 1, 9, tzinfo=UTC)) == date(
        2027, 1, 1
    )
    assert _next_row_purge(parse_keep("30 days"), datetime(2026, 12, 1, tzinfo=UTC)) == date(
        2027, 1, 1
    )
    assert _next_row_purge(parse_keep("forever"), datetime(2026, 12, 1, tzinfo=UTC)) is None
    assert _next_row_purge(months, None) is None
