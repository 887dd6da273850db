"""Materialise the reporting tables for the days a load touched (and nothing else).

:func:`build_reports` runs in one transaction (one build at a time, an advisory lock), in this
order, with SQL from ``include/sql/reporting/``:

1. ``reporting.source_categories``: the event categories each source produced on the days.
2. ``reporting.source_days``: per source and day, whether its loaded, reconciled windows cover
   the day (``source_day.sql`` says how), for the touched days and for every day of the
   evaluation period before the as-of day (the dormancy and review windows need it). A day
   whose coverage changed without new events (a failed window, a rerun that now reconciles) is
   rebuilt too, so its marker rows follow.
3. Per rebuilt day: ``daily_access``, ``mfa_coverage``, ``failed_signins``,
   ``privileged_changes`` are deleted and inserted again; ``failed_signin_bursts`` for the day
   and the day before (a burst's window reaches into the next day). Rebuilding a day gives the
   same rows (only the build stamps differ); days not rebuilt keep their rows and stamps. Each
   day reads only that day's events (a BRIN index on ``occurred_at``, monthly partitions).
4. ``access_review`` and ``dormant_accounts`` as of the as-of day: history for the pairs whose
   days were rebuilt, windowed figures from at most the evaluation period of daily rows; rows
   change only where a value does.

Everything a report cannot see is said, not counted as zero: see ``reporting.source_days``.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql as pgsql
from psycopg.types.json import Jsonb

from access_warehouse.reporting.config import ReportingConfig, load_reporting_config
from access_warehouse.warehouse import connect, execute, sql

log = logging.getLogger(__name__)

#: Tables keyed by day that a rebuilt day deletes and inserts again (bursts apart: see above).
DAY_TABLES = ("daily_access", "mfa_coverage", "failed_signins", "privileged_changes")
#: A build asked for more days than this is refused: it would hold the reporting lock for long;
#: ask for ranges one after the other instead.
MAX_DAYS = 3660


class ReportingError(ValueError):
    """A build was asked for something it cannot do (no days, too many, a bad range)."""


@dataclass(frozen=True)
class BuildSummary:
    build_id: str
    as_of: str
    #: days asked for (touched by loads, or a requested range)
    days: list[str]
    #: days rebuilt: those asked for, plus days whose coverage changed
    rebuilt_days: list[str]
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def as_xcom(self) -> dict[str, Any]:
        return asdict(self)


def latest_complete_day(now: datetime | None = None) -> date:
    """The last UTC day that has ended: the default as-of day."""
    return ((now or datetime.now(UTC)).astimezone(UTC) - timedelta(days=1)).date()


def days_between(first: date, last: date) -> list[date]:
    """Every day from ``first`` to ``last``, both included."""
    if last < first:
        raise ReportingError(f"the range ends ({last}) before it starts ({first})")
    count = (last - first).days + 1
    if count > MAX_DAYS:
        raise ReportingError(f"{count} days asked for; build at most {MAX_DAYS} at a time")
    return [first + timedelta(days=offset) for offset in range(count)]


def parse_days(values: Iterable[Any]) -> list[date]:
    """Dates from what an asset event's extra or a param holds (ISO texts or dates)."""
    days: set[date] = set()
    for value in values:
        if isinstance(value, datetime):
            days.add(value.astimezone(UTC).date())
        elif isinstance(value, date):
            days.add(value)
        else:
            try:
                days.add(date.fromisoformat(str(value)[:10]))
            except ValueError:
                raise ReportingError(f"not a day (YYYY-MM-DD): {value!r}") from None
    return sorted(days)


def _bounds(day: date) -> dict[str, Any]:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return {"day": day, "day_start": start, "day_end": start + timedelta(days=1)}


def _retention(conn: psycopg.Connection, config: ReportingConfig) -> dict[str, int]:
    """Days each registered source keeps its own events (sources without a limit left out)."""
    retention = {}
    for source_id, kind in execute(conn, "reporting/sources.sql").fetchall():
        days = config.source_retention_days.days(source_id, kind)
        if days is not None:
            retention[source_id] = days
    return retention


def _rules(rules: Iterable[Any]) -> Jsonb:
    return Jsonb([rule.model_dump(exclude_none=True) for rule in rules])


def build_reports(
    dsn: str,
    days: Iterable[date | str],
    *,
    as_of: date | None = None,
    config: ReportingConfig | None = None,
    trigger: str = "manual",
    dag_id: str | None = None,
    run_id: str | None = None,
) -> BuildSummary:
    """Rebuild the reporting tables for ``days`` (UTC) and the as-of tables as of ``as_of``
    (default: the latest complete UTC day)."""
    config = config or load_reporting_config()
    asked = parse_days(days)
    if len(asked) > MAX_DAYS:
        raise ReportingError(f"{len(asked)} days asked for; build at most {MAX_DAYS} at a time")
    as_of = as_of or latest_complete_day()
    build_id = uuid.uuid4()
    started = time.monotonic()
    rows: dict[str, int] = {}

    def count(table: str, cursor: psycopg.Cursor) -> None:
        rows[table] = rows.get(table, 0) + max(cursor.rowcount, 0)

    with connect(dsn) as conn:
        execute(conn, "reporting/lock.sql")
        built_at = conn.execute("SELECT clock_timestamp()").fetchone()[0]  # type: ignore[index]
        stamp = {"build_id": build_id, "built_at": built_at}
        execute(
            conn,
            "reporting/start_build.sql",
            {
                **stamp,
                "trigger": trigger,
                "dag_id": dag_id,
                "run_id": run_id,
                "days": asked,
                "as_of": as_of,
            },
        )
        for day in asked:
            execute(conn, "reporting/source_categories.sql", _bounds(day))
        retention = Jsonb(_retention(conn, config))
        window = days_between(as_of - timedelta(days=config.evaluation_days - 1), as_of)
        changed: set[date] = set()
        for day in sorted(set(asked) | set(window)):
            cursor = execute(
                conn, "reporting/source_day.sql", {**_bounds(day), **stamp, "retention": retention}
            )
            count("source_days", cursor)
            if cursor.fetchall():
                changed.add(day)
        rebuild = sorted(set(asked) | changed)
        log.info(
            "reporting build %s: %d days asked, %d rebuilt (%d more whose coverage changed), "
            "as of %s",
            build_id,
            len(asked),
            len(rebuild),
            len(set(rebuild) - set(asked)),
            as_of,
        )
        _rebuild_days(conn, rebuild, config, stamp, count)
        periods = {
            "as_of": as_of,
            "short_days": config.review_windows_days[0],
            "long_days": config.review_windows_days[1],
            "dormant_days": config.dormant_after_days,
            "days": rebuild,
        }
        count(
            "access_review",
            execute(conn, "reporting/access_review_history.sql", {**periods, **stamp}),
        )
        count(
            "access_review",
            execute(conn, "reporting/access_review_window.sql", {**periods, **stamp}),
        )
        count(
            "dormant_accounts",
            execute(conn, "reporting/dormant_accounts.sql", {**periods, **stamp}),
        )
        execute(
            conn,
            "reporting/finish_build.sql",
            {"build_id": build_id, "rows_written": Jsonb(rows), "days": rebuild},
        )
    summary = BuildSummary(
        build_id=str(build_id),
        as_of=as_of.isoformat(),
        days=[day.isoformat() for day in asked],
        rebuilt_days=[day.isoformat() for day in rebuild],
        rows=rows,
        seconds=round(time.monotonic() - started, 3),
    )
    log.info(
        "reporting build %s done in %.1f s: %s",
        build_id,
        summary.seconds,
        ", ".join(f"{table} {written}" for table, written in sorted(rows.items())) or "no rows",
    )
    return summary


def _rebuild_days(
    conn: psycopg.Connection,
    days: list[date],
    config: ReportingConfig,
    stamp: dict[str, Any],
    count: Any,
) -> None:
    rules = config.failed_signins
    lockouts = list(rules.lockout_error_codes)
    window = timedelta(minutes=rules.window_minutes)
    burst_params = {
        "lockout_codes": lockouts,
        "window": window,
        "min_principals": rules.spraying_min_principals,
        "min_failures": rules.brute_force_min_failures,
        "thresholds": Jsonb(rules.model_dump(mode="json")),
    }
    changes = {
        "directory_rules": _rules(config.privileged_changes.directory),
        "database_rules": _rules(config.privileged_changes.database),
    }
    conn.execute(sql("reporting/touched_pairs_create.sql"))  # type: ignore[arg-type]
    conn.execute(sql("reporting/burst_failures_create.sql"))  # type: ignore[arg-type]
    for number, day in enumerate(days, start=1):
        params = {**_bounds(day), **stamp}
        execute(conn, "reporting/touched_pairs_add.sql", params)
        for table in DAY_TABLES:
            _delete_day(conn, table, day)
        count("daily_access", execute(conn, "reporting/daily_access.sql", params))
        count("mfa_coverage", execute(conn, "reporting/mfa_coverage.sql", params))
        count(
            "failed_signins",
            execute(conn, "reporting/failed_signins.sql", {**params, "lockout_codes": lockouts}),
        )
        count(
            "privileged_changes",
            execute(conn, "reporting/privileged_changes.sql", {**params, **changes}),
        )
        execute(conn, "reporting/touched_pairs_add.sql", params)
        if number % 30 == 0 or number == len(days):
            log.info("reporting: %d of %d days rebuilt (last %s)", number, len(days), day)
    # a burst's window reaches into the next day: a day's new failures can change the bursts
    # of the day before
    burst_days = sorted(set(days) | {day - timedelta(days=1) for day in days})
    for day in burst_days:
        params = {**_bounds(day), **stamp, **burst_params}
        _delete_day(conn, "failed_signin_bursts", day)
        execute(conn, "reporting/burst_failures_clear.sql")
        execute(conn, "reporting/burst_failures_fill.sql", params)
        count("failed_signin_bursts", execute(conn, "reporting/bursts.sql", params))


def _delete_day(conn: psycopg.Connection, table: str, day: date) -> None:
    template = pgsql.SQL(sql("reporting/delete_day.sql"))  # type: ignore[arg-type]
    conn.execute(template.format(table=pgsql.Identifier(table)), {"day": day})
