"""Retention on a warehouse with 15 months of events (August 2025 to October 2026), enforced
as of 2026-12-20 (events kept 13 months: the cutoff is 2025-11-20).

Every event goes through the real load path (so landing, data quality, access logs, the
manifest chain and the reports are what loads leave, and the verifier checks them), one
window per month, built once per module and copied for each test:

- ``entra:contoso:signins``: alice signs in daily with MFA, bob daily single-factor, failing
  every third day;
- ``toy:appdb`` (the tests' toy kind): 20 accesses a day by alice, bob and a service login;
- ``toy:cardholder``: August 2025 only, kept 25 months by its own policy.

Then the lineage times are set with SQL to when such loads would have run (an hour after each
window), and rows older than the other families' policies are written straight into their
tables (reports of 2019, data quality of 2024, an access log last used in 2019). A legal hold
in the config keeps 10..13 September 2025 of the sign-ins; a hold in the table on the
cardholder source covers October 2025, where it has no rows; a released hold covers all of
October.

So August 2025 stays whole (the cardholder source keeps 25 months), September stays whole (the
hold), October goes, November on is not due.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest
from warehouse_asserts import new_database

from access_warehouse.config import parse_sources
from access_warehouse.integrity.verify import verify_warehouse
from access_warehouse.landing import ExtractWindow, LandingBatch
from access_warehouse.load import BatchNotLoadable, load_batch
from access_warehouse.reporting.build import build_reports
from access_warehouse.reporting.config import SourceRetention, load_reporting_config
from access_warehouse.retention.config import RetentionConfig, parse_retention
from access_warehouse.retention.enforce import RetentionBusy, enforce_retention, plan_retention

NOW = datetime(2026, 12, 20, 6, 0, tzinfo=UTC)
SIGNINS = "entra:contoso:signins"
APPDB = "toy:appdb"
CARD = "toy:cardholder"
MONTHS = [date(2025 + (7 + n) // 12, (7 + n) % 12 + 1, 1) for n in range(15)]
SOURCES = [
    {"kind": "entra", "name": "contoso", "tenant_id": "contoso", "conn_id": "msgraph_default"},
    {"kind": "toy", "name": "appdb", "path": "/nonexistent/appdb.jsonl"},
    {"kind": "toy", "name": "cardholder", "path": "/nonexistent/cardholder.jsonl"},
]
ALICE = ("00000000-0000-4000-8000-00000000000a", "Alice Smith", "alice@contoso.com")
BOB = ("00000000-0000-4000-8000-00000000000b", "Bob Jones", "bob@contoso.com")
PORTAL = ("11111111-0000-4000-8000-000000000001", "Portal")

RETENTION = {
    "policies": {
        "access_events": {"keep": "13 months", "by_source": {CARD: "25 months"}},
        # its completeness records must outlive its events (the config refuses less)
        "data_quality": {"keep": "2 years", "by_source": {CARD: "3 years"}},
    },
    "legal_holds": [
        {
            "id": "LH-2026-004",
            "from": "2025-09-10",
            "to": "2025-09-13",
            "sources": [SIGNINS],
            "reason": "Litigation hold, matter 2026-004",
            "set_by": "legal@contoso.com",
            "set_at": "2026-01-15",
        }
    ],
}


def retention_config(**changes: Any) -> RetentionConfig:
    raw = json.loads(json.dumps(RETENTION))
    raw.update(changes)
    return parse_retention(raw, "test retention.yaml")


def reporting_config() -> Any:
    # the loads ran "now", long after their windows: Entra's own 30-day retention would clip
    # every window; these tests are about the warehouse's retention
    return load_reporting_config().model_copy(
        update={"source_retention_days": SourceRetention(by_kind={})}
    )


def rows(dsn: str, query: str, params: Any = None) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(query, params).fetchall()


def one(dsn: str, query: str, params: Any = None) -> Any:
    return rows(dsn, query, params)[0][0]


def signin(event_id: str, at: str, who: tuple[str, str, str], *, error: int = 0, mfa: bool = True):
    user_id, name, upn = who
    record: dict[str, Any] = {
        "id": event_id,
        "createdDateTime": at,
        "userId": user_id,
        "userDisplayName": name,
        "userPrincipalName": upn,
        "appId": PORTAL[0],
        "appDisplayName": PORTAL[1],
        "ipAddress": "10.0.0.1",
        "location": {"countryOrRegion": "DE", "city": "Berlin"},
        "clientAppUsed": "Browser",
        "status": {"errorCode": error, "failureReason": "bad password" if error else None},
        "authenticationRequirement": (
            "multiFactorAuthentication" if mfa else "singleFactorAuthentication"
        ),
    }
    return record


def month_records(month: date) -> list[dict[str, Any]]:
    end = (month + timedelta(days=32)).replace(day=1)
    records = []
    day = month
    while day < end:
        records.append(signin(f"a-{day}", f"{day}T09:00:00Z", ALICE))
        failing = day.day % 3 == 0
        records.append(
            signin(f"b-{day}", f"{day}T10:00:00Z", BOB, error=50126 if failing else 0, mfa=False)
        )
        day += timedelta(days=1)
    if month == MONTHS[0]:
        records.append({"id": "broken", "userId": BOB[0]})  # no time: quarantined
    return records


def load_month(dsn: str, feed: Any, month: date, records: list[dict[str, Any]]) -> Any:
    end = (month + timedelta(days=32)).replace(day=1)
    window = ExtractWindow(
        datetime.combine(month, datetime.min.time(), UTC),
        datetime.combine(end, datetime.min.time(), UTC),
        timedelta(0),
    )
    batch = LandingBatch(dsn, source_id=feed.source_id, source_kind=feed.record_kind, window=window)
    batch.write_page(records)
    batch.finish("extracted")
    batch.close()
    return load_batch(dsn, batch.batch_id, feed)


def toy_records(name: str, month: date, per_day: int, users: tuple[str, ...]) -> list[dict]:
    end = (month + timedelta(days=32)).replace(day=1)
    records = []
    day = month
    while day < end:
        for n in range(per_day):
            at = datetime.combine(day, datetime.min.time(), UTC) + timedelta(minutes=71 * n)
            records.append(
                {
                    "id": f"toy-{name}-{day}-{n}",
                    "at": at.isoformat().replace("+00:00", "Z"),
                    "user": users[n % len(users)],
                    "resource": "/billing/invoices",
                    "ok": n % 10 != 9,
                }
            )
        day += timedelta(days=1)
    return records


#: Rows older than the other families' policies (as of NOW): reports of 2019, data quality of
#: 2024, a quarantined record of August, an access log last used in 2019.
OLD_ROWS = [
    "INSERT INTO reporting.daily_access (day, source_id, events, evaluable, status, build_id, "
    "built_at) SELECT d, %(signins)s, 1, true, 'complete', gen_random_uuid(), now() "
    "FROM generate_series('2019-06-01'::date, '2019-06-30', '1 day') d",
    "INSERT INTO reporting.mfa_coverage (day, scope, evaluable, status, build_id, built_at) "
    "VALUES ('2019-06-01', 'overall', true, 'complete', gen_random_uuid(), now())",
    "INSERT INTO reporting.evidence_packs (pack_id, period_start, period_end, location, "
    "manifest_sha256) VALUES (gen_random_uuid(), '2019-05-01', '2019-05-31', '/srv/old', 'x')",
    "INSERT INTO dq.validation_runs (validation_id, batch_id, source_id, suite_name, success, "
    "evaluated, failed_rows, run_at, window_start, window_end) VALUES "
    "('30000000-0000-4000-8000-000000000001', gen_random_uuid(), %(signins)s, 'old', true, 1, 0, "
    "'2024-06-02', '2024-06-01', '2024-06-02')",
    "INSERT INTO dq.expectation_results (validation_id, expectation, success) VALUES "
    "('30000000-0000-4000-8000-000000000001', 'expect_column_values_to_not_be_null', true)",
    "INSERT INTO dq.completeness (batch_id, source_id, window_start, window_end, status, "
    "recorded_at) VALUES (gen_random_uuid(), %(signins)s, '2024-06-01', '2024-06-02', "
    "'complete', '2024-06-02')",
    "INSERT INTO audit.access_logs (config_id, external_user_id, scraper_id, created_at, count) "
    "SELECT c.id, u.id, s.source_uuid, '2019-03-01', 7 FROM audit.config_items c, "
    "audit.external_users u, audit.sources s WHERE c.name = 'Portal' AND s.source_id = %(card)s "
    "AND u.principal_name = 'bob@contoso.com'",
    "INSERT INTO audit.access_logs_retired VALUES ((SELECT id FROM audit.config_items WHERE "
    "name = 'Portal'), (SELECT id FROM audit.external_users WHERE principal_name = "
    "'bob@contoso.com'), %(card)s, 7, '2019-03-01', 'old', true, '10.9.9.9')",
]


def _build(dsn: str) -> None:
    config = parse_sources(SOURCES, "test")
    signins, appdb, card = (config.feed(source) for source in (SIGNINS, APPDB, CARD))
    for month in MONTHS:
        load_month(dsn, signins, month, month_records(month))
        load_month(
            dsn,
            appdb,
            month,
            toy_records("appdb", month, 20, (ALICE[2], BOB[2], "svc_batch@contoso.com")),
        )
    load_month(dsn, card, MONTHS[0], toy_records("card", MONTHS[0], 3, ("card_admin@contoso.com",)))
    with psycopg.connect(dsn) as conn:
        # when such loads would have run: an hour after each window
        conn.execute(
            "UPDATE landing.extract_batches SET started_at = window_end + interval '1 hour', "
            "finished_at = window_end + interval '1 hour 5 minutes'"
        )
        for table, column in (("dq.validation_runs", "run_at"), ("dq.completeness", "recorded_at")):
            conn.execute(f"UPDATE {table} SET {column} = window_end + interval '1 hour'")
        conn.execute(
            "UPDATE dq.quarantine q SET quarantined_at = b.window_end + interval '1 hour' "
            "FROM landing.extract_batches b WHERE b.batch_id = q.batch_id"
        )
        for statement in OLD_ROWS:
            conn.execute(statement, {"signins": SIGNINS, "card": CARD})
        conn.execute(
            "INSERT INTO dq.quarantine_history (quarantine_id, outcome, reasons) "
            "SELECT quarantine_id, 'kept', reasons FROM dq.quarantine"
        )
        conn.execute(
            "INSERT INTO etl.legal_holds (hold_id, period_start, period_end, sources, reason, "
            "set_by) VALUES ('LH-card-oct', '2025-10-01', '2025-11-01', %s, "
            "'Card audit, October 2025', 'qsa@contoso.com')",
            ([CARD],),
        )
        conn.execute(
            "INSERT INTO etl.legal_holds (hold_id, period_start, period_end, reason, set_by, "
            "set_at, released_at) VALUES ('LH-old', '2025-10-01', '2025-11-01', "
            "'Closed matter', 'legal@contoso.com', '2026-01-01', '2026-06-01')"
        )
    days = [date(2025, 10, d) for d in range(1, 32)] + [date(2025, 9, 15), date(2026, 10, 2)]
    build_reports(dsn, days, as_of=date(2026, 10, 31), config=reporting_config())


@pytest.fixture(scope="module")
def fifteen_months(pg_server: str, migrated_template: str) -> Iterator[str]:
    """The warehouse, built once for the module; each test gets a copy."""
    with new_database(pg_server, migrated_template) as dsn:
        _build(dsn)
        yield dsn.split("dbname=")[1].split()[0]


@pytest.fixture
def warehouse(pg_server: str, fifteen_months: str) -> Iterator[dict[str, Any]]:
    with new_database(pg_server, fifteen_months) as dsn:
        yield {"dsn": dsn, "feed": parse_sources(SOURCES, "test").feed(SIGNINS)}


def partitions(dsn: str) -> list[str]:
    return [
        name
        for (name,) in rows(
            dsn,
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'audit.access_events'::regclass ORDER BY 1",
        )
    ]


def table_counts(dsn: str) -> dict[str, int]:
    tables = [
        "audit.access_events", "landing.extract_batches", "landing.records",
        "landing.batch_files", "dq.quarantine", "dq.quarantine_history", "dq.validation_runs",
        "dq.expectation_results", "dq.completeness", "audit.access_logs",
        "audit.access_logs_retired", "reporting.daily_access", "reporting.mfa_coverage",
        "reporting.failed_signins", "reporting.source_days", "reporting.evidence_packs",
    ]  # fmt: skip
    return {table: one(dsn, f"SELECT count(*) FROM {table}") for table in tables}


def per_month(dsn: str) -> dict[tuple[str, str], int]:
    return {
        (month, source): count
        for month, source, count in rows(
            dsn,
            "SELECT to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM'), source_id, count(*) "
            "FROM audit.access_events GROUP BY 1, 2",
        )
    }


def records(dsn: str, **where: Any) -> list[dict[str, Any]]:
    clause = " AND ".join(f"{key} = %({key})s" for key in where) or "true"
    with psycopg.connect(dsn) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cursor:
        return cursor.execute(
            f"SELECT * FROM etl.retention_runs WHERE {clause} ORDER BY finished_at", where
        ).fetchall()


BOB_SIGNIN_LOG = (
    "SELECT l.count FROM audit.access_logs l JOIN audit.external_users u "
    "ON u.id = l.external_user_id JOIN audit.sources s ON s.source_uuid = l.scraper_id "
    "WHERE u.principal_name = %s AND s.source_id = %s"
)
REVIEW = """
SELECT external_user_id, config_id, sources, first_access_at, last_access_at, active_days_30,
       active_days_90, events_90, evaluable, status
FROM reporting.access_review ORDER BY 1, 2
"""
ACCESS_LOGS_FROM_SCRATCH = """
SELECT source_id, config_id, external_user_id, max(at), sum(n)::bigint
FROM (
    SELECT source_id, config_id, external_user_id, occurred_at AS at, 1 AS n
    FROM audit.access_events WHERE outcome = 'success' AND config_id IS NOT NULL
    UNION ALL
    SELECT source_id, config_id, external_user_id, last_at, events FROM audit.access_logs_retired
) a
GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
"""
ACCESS_LOGS_STORED = """
SELECT s.source_id, l.config_id, l.external_user_id, l.created_at, l.count
FROM audit.access_logs l JOIN audit.sources s ON s.source_uuid = l.scraper_id
ORDER BY 1, 2, 3
"""


# --- the purge ---------------------------------------------------------------------------------


def test_the_right_partitions_go_held_ones_stay_and_every_purge_is_recorded(
    warehouse: dict[str, Any],
) -> None:
    dsn = warehouse["dsn"]
    before, months_before = table_counts(dsn), per_month(dsn)
    logs_before = rows(dsn, ACCESS_LOGS_STORED)
    assert len(partitions(dsn)) == 15

    summary = enforce_retention(dsn, retention_config(), now=NOW, dag_id="access_retention",
                                run_id="manual__1")  # fmt: skip
    assert summary.partitions_dropped == ["access_events_y2025m10"]
    assert summary.partitions_kept == ["access_events_y2025m08", "access_events_y2025m09"]
    assert "access_events_y2025m10" not in partitions(dsn) and len(partitions(dsn)) == 14
    months_after = per_month(dsn)
    assert {key for key in months_before if key[0] == "2025-10"} == {
        ("2025-10", SIGNINS), ("2025-10", APPDB)
    }  # fmt: skip
    assert months_after == {k: v for k, v in months_before.items() if k[0] != "2025-10"}

    # the drop: one record, per source rows, the policy, and each source's manifest entry
    (dropped,) = records(dsn, action="drop_partition")
    assert dropped["partition_name"] == "access_events_y2025m10"
    assert (dropped["range_start"], dropped["range_end"]) == (
        datetime(2025, 10, 1, tzinfo=UTC), datetime(2025, 11, 1, tzinfo=UTC)
    )  # fmt: skip
    assert (
        dropped["rows"] == months_before[("2025-10", SIGNINS)] + months_before[("2025-10", APPDB)]
    )
    assert {s: v["rows"] for s, v in dropped["details"]["sources"].items()} == {
        SIGNINS: months_before[("2025-10", SIGNINS)], APPDB: months_before[("2025-10", APPDB)]
    }  # fmt: skip
    assert dropped["policy"]["keep"] == "13 months" and dropped["dry_run"] is False
    assert dropped["policy"]["holds_in_force"] == ["LH-2026-004", "LH-card-oct"]
    assert (dropped["dag_id"], dropped["run_id"]) == ("access_retention", "manual__1")
    purges = rows(
        dsn,
        "SELECT source_id, retention_run_id, window_start, window_end, removed_row_count "
        "FROM audit.manifests WHERE kind = 'purge' ORDER BY source_id",
    )
    assert purges == [
        (SIGNINS, dropped["retention_run_id"], dropped["range_start"], dropped["range_end"],
         months_before[("2025-10", SIGNINS)]),
        (APPDB, dropped["retention_run_id"], dropped["range_start"], dropped["range_end"],
         months_before[("2025-10", APPDB)]),
    ]  # fmt: skip

    # kept whole, and why: the cardholder source's own 25 months; the hold on September
    kept = {record["partition_name"]: record for record in records(dsn, action="keep_partition")}
    august, september = kept["access_events_y2025m08"], kept["access_events_y2025m09"]
    assert [r["reason"] for r in august["kept_because"]] == ["source_policy"]
    assert august["kept_because"][0]["source_id"] == CARD
    assert august["kept_because"][0]["due"].startswith("2027-10-01")
    assert (
        august["kept_rows"]
        == months_before[("2025-08", SIGNINS)] + months_before[("2025-08", APPDB)]
    )
    assert [(r["reason"], r.get("hold_id")) for r in september["kept_because"]] == [
        ("legal_hold", "LH-2026-004")
    ]
    assert "Litigation hold" in september["kept_because"][0]["text"]

    # every other purge is recorded with exactly what went
    after = table_counts(dsn)
    deleted = {r["table_name"]: r["rows"] for r in records(dsn, action="delete")}
    assert deleted == {
        "landing.extract_batches": 30,  # all 31 but the held September batch of the sign-ins
        "dq.quarantine": 1,
        "audit.access_logs": 1,
        "reporting.daily_access": 30,
        "reporting.mfa_coverage": 1,
        "reporting.evidence_packs": 1,
        "dq.validation_runs": 1,
        "dq.completeness": 1,
    }
    for table, removed in deleted.items():
        assert before[table] - after[table] == removed, table
    landing = records(dsn, table_name="landing.extract_batches")[0]
    assert landing["details"]["records"] == before["landing.records"] - after["landing.records"]
    assert after["landing.records"] == 60  # September: 30 days x 2 sign-ins
    assert len(landing["details"]["batch_ids"]) == 30
    # landing is the replay store: a purged batch cannot be loaded again, and says why
    with pytest.raises(BatchNotLoadable, match=r"was purged by retention on .* it can no longer"):
        load_batch(dsn, landing["details"]["batch_ids"][0], warehouse["feed"])
    assert landing["kept_rows"] == 1
    assert "legal hold LH-2026-004" in landing["kept_because"][0]["text"]
    assert after["dq.quarantine_history"] == 0
    assert before["dq.expectation_results"] - after["dq.expectation_results"] == 1
    assert after["audit.access_logs_retired"] > 0  # October's accesses, folded in
    assert after["reporting.failed_signins"] == before["reporting.failed_signins"]

    # access logs outlive the events: October's accesses still count; the log last used in
    # 2019 went (with what retention had kept of it)
    stored = rows(dsn, ACCESS_LOGS_STORED)
    assert stored == [row for row in logs_before if row[3].year > 2019]
    assert stored == rows(dsn, ACCESS_LOGS_FROM_SCRATCH)
    # and the verifier reads the drop as a recorded purge
    assert verify_warehouse(dsn).ok

    # a second run the same day finds nothing more to remove
    again = enforce_retention(dsn, retention_config(), now=NOW)
    assert again.removed == {} and again.partitions_kept == summary.partitions_kept


def test_a_dry_run_records_what_would_go_and_changes_nothing(warehouse: dict[str, Any]) -> None:
    dsn = warehouse["dsn"]
    before = table_counts(dsn)
    plan = plan_retention(dsn, retention_config(), now=NOW)
    assert rows(dsn, "SELECT count(*) FROM etl.retention_runs") == [(0,)]
    lines = "\n".join(plan.lines())
    assert "access_events_y2025m10 [2025-10-01 .. 2025-11-01): drop" in lines
    assert "access_events_y2025m09" in lines and "legal hold LH-2026-004" in lines
    assert plan.removes()["landing.extract_batches"] == 30

    summary = enforce_retention(dsn, retention_config(), now=NOW, dry_run=True)
    assert table_counts(dsn) == before and len(partitions(dsn)) == 15
    assert summary.removed == plan.removes() and summary.dry_run
    recorded = records(dsn)
    assert recorded and all(record["dry_run"] for record in recorded)
    assert {(r["action"], r["partition_name"]) for r in recorded if r["partition_name"]} == {
        ("drop_partition", "access_events_y2025m10"),
        ("keep_partition", "access_events_y2025m08"),
        ("keep_partition", "access_events_y2025m09"),
    }
    assert rows(dsn, "SELECT count(*) FROM audit.manifests WHERE kind = 'purge'") == [(0,)]
    # nor does a dry run count as removed in a report
    build_reports(dsn, [date(2025, 10, 5)], as_of=date(2026, 10, 31), config=reporting_config())
    assert (
        one(
            dsn,
            "SELECT status FROM reporting.source_days WHERE day = '2025-10-05' AND source_id = %s",
            (SIGNINS,),
        )
        == "complete"
    )


# --- what remains: reports, access logs, status --------------------------------------------------


def test_reports_after_the_purge_mark_removed_days_and_keep_what_remains(
    warehouse: dict[str, Any],
) -> None:
    dsn = warehouse["dsn"]

    def day(table: str, on: str, columns: str) -> list[tuple]:
        return sorted(
            rows(
                dsn,
                f"SELECT {columns} FROM reporting.{table} WHERE day = %s AND source_id = %s",
                (on, SIGNINS),
            ),
            key=repr,
        )

    review_before = rows(dsn, REVIEW)
    assert review_before
    kept_day = day("daily_access", "2025-10-20", "events, successes, status")
    held_before = day("daily_access", "2025-09-15", "events, successes, with_mfa, status")
    assert sum(events for events, _, _ in kept_day) == 2
    enforce_retention(dsn, retention_config(), now=NOW)
    summary = build_reports(
        dsn,
        [date(2025, 10, 5), date(2025, 9, 15), date(2026, 10, 2)],
        as_of=date(2026, 10, 31),
        config=reporting_config(),
    )
    assert summary.rebuilt_days == ["2025-09-15", "2025-10-05", "2026-10-02"]
    status, evaluable, reason = rows(
        dsn,
        "SELECT status, evaluable, reason FROM reporting.source_days "
        "WHERE day = '2025-10-05' AND source_id = %s",
        (SIGNINS,),
    )[0]
    assert (status, evaluable) == ("removed_by_retention", False)
    removed_on = one(dsn, "SELECT finished_at FROM etl.retention_runs "
                          "WHERE action = 'drop_partition'")  # fmt: skip
    assert reason == (
        f"events removed by retention on {removed_on:%Y-%m-%d} (access_events kept 13 months)"
    )
    # a rebuilt removed day: marker rows, never zeros
    assert day("daily_access", "2025-10-05", "events, successes, config_id, status") == [
        (None, None, None, "removed_by_retention")
    ]
    assert day("failed_signins", "2025-10-05", "failures, status") == [
        (None, "removed_by_retention")
    ]
    assert rows(
        dsn,
        "SELECT sign_ins, evaluable, not_evaluable_sources FROM reporting.mfa_coverage "
        "WHERE day = '2025-10-05' AND scope = 'overall'",
    ) == [(None, False, [SIGNINS])]
    # the held day and a kept day are counted as before the purge
    assert day("daily_access", "2025-09-15", "events, successes, with_mfa, status") == held_before
    assert day("daily_access", "2026-10-02", "sum(events) OVER (), status")[0] == (2, "complete")
    # a removed day not rebuilt keeps what was built when its events were there
    assert day("daily_access", "2025-10-20", "events, successes, status") == kept_day
    # the access review as of the end of October 2026 is unaffected
    assert rows(dsn, REVIEW) == review_before


def test_a_recomputed_access_log_keeps_the_accesses_retention_removed(
    warehouse: dict[str, Any],
) -> None:
    dsn, feed = warehouse["dsn"], warehouse["feed"]
    enforce_retention(dsn, retention_config(), now=NOW)
    bob_before = one(dsn, BOB_SIGNIN_LOG, (BOB[2], SIGNINS))
    # November 2025 again, one of bob's failures now a success: his access log is recomputed
    # from all of his events, and October's (gone) are still counted
    november = month_records(MONTHS[3])
    changed = next(r for r in november if r["id"] == "b-2025-11-03")
    changed["status"] = {"errorCode": 0, "failureReason": None}
    loaded = load_month(dsn, feed, MONTHS[3], november)
    assert loaded.updated == 1
    assert one(dsn, BOB_SIGNIN_LOG, (BOB[2], SIGNINS)) == bob_before + 1
    assert rows(dsn, ACCESS_LOGS_STORED) == rows(dsn, ACCESS_LOGS_FROM_SCRATCH)
    assert verify_warehouse(dsn).ok


def test_the_retention_status_per_table_and_source(warehouse: dict[str, Any]) -> None:
    dsn = warehouse["dsn"]
    october = per_month(dsn)[("2025-10", APPDB)]
    enforce_retention(dsn, retention_config(), now=NOW)
    with psycopg.connect(dsn) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cursor:
        status = {
            (row["table_name"], row["source_id"]): row
            for row in cursor.execute("SELECT * FROM reporting.retention_status")
        }
    events = status[("audit.access_events", SIGNINS)]
    assert (events["policy"], events["policy_origin"]) == ("13 months", "default")
    assert events["cutoff"] == datetime(2025, 11, 20, tzinfo=UTC)
    assert events["oldest_kept"] == datetime(2025, 8, 1, 9, tzinfo=UTC)
    # August and September stay, October is gone: complete only from November
    assert events["complete_since_oldest"] is False
    assert events["complete_from"] == datetime(2025, 11, 1, tzinfo=UTC)
    assert events["kept_past_policy"] == 62 + 60
    assert any(f"{CARD} keeps 25 months" in reason for reason in events["kept_because"])
    assert any("LH-2026-004" in hold for hold in events["holds_in_force"])
    assert not any("LH-card-oct" in hold for hold in events["holds_in_force"])
    # November 2025 is the next of its partitions to fall due: 2025-12-01 + 13 months
    assert events["next_purge"] == date(2027, 1, 1)
    card = status[("audit.access_events", CARD)]
    assert (card["policy"], card["policy_origin"]) == ("25 months", "source")
    assert card["next_purge"] == date(2027, 10, 1)
    assert card["complete_since_oldest"] is True
    assert any("LH-card-oct" in hold for hold in card["holds_in_force"])
    appdb = status[("audit.access_events", APPDB)]
    assert appdb["last_purge_rows"] == october and appdb["last_purge_at"] is not None

    landing = status[("landing.extract_batches", SIGNINS)]
    assert landing["rows_kept"] == 1 and landing["kept_past_policy"] == 1
    assert landing["oldest_kept"] == datetime(2025, 10, 1, 1, tzinfo=UTC)
    assert landing["note"].startswith("replay: the 1 batch landed since 2025-10-01 01:00 UTC")
    assert "14 batches landed before 2026-11-20 were purged by retention and can no longer be " \
        "replayed" in landing["note"]  # fmt: skip
    assert landing["next_purge"] is None  # what is left is held
    reports = status[("reporting.mfa_coverage", "*")]
    assert (reports["policy"], reports["policy_origin"]) == ("7 years", "longest")
    daily = status[("reporting.daily_access", SIGNINS)]
    assert daily["oldest_kept"] == datetime(2025, 9, 15, tzinfo=UTC)
    assert daily["next_purge"] == date(2032, 9, 16)
    assert daily["last_purge_rows"] == 30
    # a hold set now shows at once; the figures are those of the run
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "INSERT INTO etl.legal_holds (hold_id, period_start, period_end, reason, set_by) "
            "VALUES ('LH-new', '2026-01-01', '2026-02-01', 'New matter', 'legal@contoso.com')"
        )
    assert any(
        "LH-new" in hold
        for hold in one(
            dsn,
            "SELECT holds_in_force FROM reporting.retention_status "
            "WHERE table_name = 'dq.validation_runs' AND source_id = %s",
            (SIGNINS,),
        )
    )


# --- holds ------------------------------------------------------------------------------------


def test_releasing_a_hold_lets_the_next_run_purge_and_holds_are_never_deleted(
    warehouse: dict[str, Any],
) -> None:
    dsn = warehouse["dsn"]
    with psycopg.connect(dsn) as conn:
        with pytest.raises(psycopg.errors.IntegrityConstraintViolation, match="never deleted"):
            conn.execute("DELETE FROM etl.legal_holds WHERE hold_id = 'LH-card-oct'")
        conn.rollback()
        with pytest.raises(psycopg.errors.IntegrityConstraintViolation, match="only be released"):
            conn.execute("UPDATE etl.legal_holds SET period_end = '2025-10-02'")
        conn.rollback()
    enforce_retention(dsn, retention_config(), now=NOW)
    assert "access_events_y2025m09" in partitions(dsn)
    # the config's hold released: September goes the next day with everything else due
    released = json.loads(json.dumps(RETENTION))
    released["legal_holds"][0]["released_at"] = "2026-12-20T12:00:00Z"
    config = parse_retention(released, "test retention.yaml")
    summary = enforce_retention(dsn, config, now=NOW + timedelta(days=1))
    assert summary.partitions_dropped == ["access_events_y2025m09"]
    assert summary.removed["landing.extract_batches"] == 1
    # months later: November and December 2025 are due; August waits for its cardholder rows
    later = enforce_retention(dsn, config, now=datetime(2027, 2, 1, tzinfo=UTC))
    assert later.partitions_dropped == ["access_events_y2025m11", "access_events_y2025m12"]
    assert later.partitions_kept == ["access_events_y2025m08"]
    last = enforce_retention(dsn, config, now=datetime(2027, 10, 1, tzinfo=UTC))
    assert "access_events_y2025m08" in last.partitions_dropped
    assert not rows(dsn, "SELECT 1 FROM audit.access_events WHERE source_id = %s", (CARD,))
    assert verify_warehouse(dsn).ok


# --- bounds, locks, one run at a time ----------------------------------------------------------


def test_bounded_batches_and_what_is_left_for_the_next_run(warehouse: dict[str, Any]) -> None:
    dsn = warehouse["dsn"]
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "INSERT INTO reporting.daily_access (day, source_id, config_id, external_user_id, "
            "events, evaluable, status, build_id, built_at) "
            "SELECT '2018-01-01'::date + g / 100, %s, gen_random_uuid(), gen_random_uuid(), 1, "
            "true, 'complete', gen_random_uuid(), now() FROM generate_series(1, 1500) g",
            (APPDB,),
        )
    config = retention_config(batch_rows=100, max_rows_per_purge=1000)
    first = enforce_retention(dsn, config, now=NOW)
    (purge,) = [
        item for item in first.items
        if item["table_name"] == "reporting.daily_access" and item["rows"]
    ]  # fmt: skip
    assert purge["rows"] == 1000
    # the 30 rows of 2019 come after 1000 of the oldest rows: 530 remain
    assert purge["details"]["more_remain"] == 530
    assert purge["details"]["sources"][APPDB]["rows"] == 1000
    second = enforce_retention(dsn, config, now=NOW)
    assert second.removed["reporting.daily_access"] == 530
    assert one(dsn, "SELECT count(*) FROM reporting.daily_access WHERE day < '2020-01-01'") == 0


def test_a_partition_a_load_is_writing_waits_for_the_next_run(warehouse: dict[str, Any]) -> None:
    dsn = warehouse["dsn"]
    with psycopg.connect(dsn) as writer:
        # a load writing a late October event holds the partition (ROW EXCLUSIVE)
        writer.execute("LOCK TABLE audit.access_events_y2025m10 IN ROW EXCLUSIVE MODE")
        summary = enforce_retention(dsn, retention_config(lock_timeout_seconds=1), now=NOW)
        assert summary.skipped == ["access_events_y2025m10"]
        assert summary.partitions_dropped == []
        assert summary.removed["landing.extract_batches"] == 30  # the rest went on
        writer.rollback()
    assert "access_events_y2025m10" in partitions(dsn)
    assert records(dsn, action="drop_partition") == []
    assert enforce_retention(dsn, retention_config(), now=NOW).partitions_dropped == [
        "access_events_y2025m10"
    ]


def test_the_loading_role_enforces_retention(warehouse: dict[str, Any]) -> None:
    """As the Airflow workers' login runs it: a member of warehouse_loader, which has no DDL
    (the partition goes through the owner's function) and only appends to etl."""
    dsn = warehouse["dsn"]
    database = dsn.split("dbname=")[1].split()[0]
    loader = f"ldr_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {loader} LOGIN IN ROLE warehouse_loader")
        # database privileges are not copied to a test's clone of the template
        conn.execute(f'GRANT CONNECT, TEMPORARY ON DATABASE "{database}" TO warehouse_loader')
    try:
        as_loader = dsn.replace("user=postgres", f"user={loader}")
        with (
            psycopg.connect(as_loader) as conn,
            pytest.raises(psycopg.errors.InsufficientPrivilege),
        ):
            conn.execute("DROP TABLE audit.access_events_y2025m10")
        summary = enforce_retention(as_loader, retention_config(), now=NOW)
        assert summary.partitions_dropped == ["access_events_y2025m10"]
        assert summary.removed["landing.extract_batches"] == 30
        assert summary.status_rows > 0
        assert verify_warehouse(as_loader).ok
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"DROP ROLE {loader}")


def test_one_run_at_a_time(warehouse: dict[str, Any]) -> None:
    dsn = warehouse["dsn"]
    holding = threading.Event()
    release = threading.Event()

    def hold_the_lock() -> None:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("SELECT pg_advisory_lock(hashtext('access_retention'))")
            holding.set()
            release.wait(30)

    thread = threading.Thread(target=hold_the_lock)
    thread.start()
    try:
        assert holding.wait(30)
        with pytest.raises(RetentionBusy):
            enforce_retention(dsn, retention_config(), now=NOW)
    finally:
        release.set()
        thread.join()
    assert records(dsn) == []


def test_the_cli_dry_run_prints_the_plan(warehouse: dict[str, Any], tmp_path, capsys) -> None:
    import yaml

    from access_warehouse.cli import main

    dsn = warehouse["dsn"]
    path = tmp_path / "retention.yaml"
    path.write_text(yaml.safe_dump({**RETENTION, "retired_sources": [CARD]}))
    code = main(["retention", "--dsn", dsn, "--dry-run", "--now", "2026-12-20T06:00:00Z",
                 "--config", str(path)])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert "access_events_y2025m10 [2025-10-01 .. 2025-11-01): drop" in out
    assert "retention " in out and "(dry run)" in out
    assert len(partitions(dsn)) == 15
    with pytest.raises(SystemExit):
        main(["retention", "--dsn", dsn, "--now", "yesterday", "--config", str(path)])
    assert "not a time" in capsys.readouterr().err
    path.write_text(yaml.safe_dump(RETENTION))  # the cardholder source is in no config
    assert main(["retention", "--dsn", dsn, "--config", str(path)]) == 2
    error = capsys.readouterr().err
    assert f"policies.access_events.by_source: '{CARD}' is not a source" in error


def test_the_demo_step_shows_the_status_and_a_dry_run(warehouse: dict[str, Any]) -> None:
    from devtools.demo_retention import retention_step

    dsn = warehouse["dsn"]
    lines = "\n".join(retention_step(dsn, now=NOW))  # the shipped policies: no hold, no override
    assert "access_events 13 months" in lines and "partitions dropped 3" in lines
    status = lines.split("reporting.retention_status:")[1].split("dry run as of")[0]
    landing = [line for line in status.splitlines() if line.startswith("landing.extract_batches")]
    # one line per table over its three sources
    assert len(landing) == 1 and "replay: no landed batch is left" in landing[0]
    assert re.match(r"landing\.extract_batches\s+30 days\s+3\s", landing[0]), landing
    assert "dry run as of 2028-02-20 (recorded with dry_run = true, nothing removed):" in lines
    assert "access_events_y2026m10 [2026-10-01 .. 2026-11-01): drop" in lines
    assert "access_events_y2026m10" in partitions(dsn)
