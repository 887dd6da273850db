"""Does a reporting build cost what the touched days cost, whatever the history?

Two warehouses on one embedded Postgres, the same sign-ins per day, one with ``--short`` days of
history and one with ``--long`` (4x by default), every day built once (the first build of a
warehouse reads all of it). Then, alternating between the two so that the machine's noise hits
both alike, ``--repeat`` builds of the last day (what a daily load touches), and in the long
history builds of the last 7 days. Printed: median seconds, and the ratios that matter:

- long / short history, 1 day touched: ~1 when the cost does not grow with history;
- 7 days / 1 day touched (long history): what a touched day costs beyond the build's fixed part
  (coverage of the 90-day evaluation period, the as-of tables).

    .venv/bin/python benchmarks/reporting_build.py [--per-day 10000] [--short 30] [--long 120]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import date, timedelta
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".data" / "bench-reporting"
HISTORY_SQL = ROOT / "devtools" / "sql" / "reporting_history.sql"
LAST_DAY = date(2026, 11, 30)


def fill(dsn: str, days: int, per_day: int) -> None:
    """``days`` of synthetic history (one statement at a time: they take parameters)."""
    params = {"days": days, "per_day": per_day, "last_day": LAST_DAY}
    with psycopg.connect(dsn, autocommit=True) as conn:
        for statement in HISTORY_SQL.read_text().split(";\n"):
            if statement.strip():
                conn.execute(statement, params)  # type: ignore[arg-type]


def build(dsn: str, days: list[date]) -> float:
    from access_warehouse.reporting.build import build_reports

    started = time.perf_counter()
    build_reports(dsn, days, as_of=LAST_DAY, trigger="benchmark")
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-day", type=int, default=10_000)
    parser.add_argument("--short", type=int, default=30)
    parser.add_argument("--long", type=int, default=120)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    import logging

    logging.basicConfig(level=logging.WARNING)
    from access_warehouse.warehouse import apply_migrations
    from devtools.embedded import start_embedded_warehouse

    DATA.mkdir(parents=True, exist_ok=True)
    warehouses = {}
    for name, days in (("short", args.short), ("long", args.long)):
        dsn = start_embedded_warehouse(DATA, database=f"reporting_{name}")
        with psycopg.connect(dsn) as conn:
            # a fresh warehouse each run (the migrations record their own state in etl)
            conn.execute(
                "DROP SCHEMA IF EXISTS landing, audit, dq, reporting, auditor, etl CASCADE"
            )
        apply_migrations(dsn)
        started = time.perf_counter()
        fill(dsn, days, args.per_day)
        filled = time.perf_counter() - started
        history = [LAST_DAY - timedelta(days=n) for n in range(days)]
        initial = build(dsn, history)
        warehouses[name] = dsn
        print(
            f"{name}: {days} days x {args.per_day} events generated in {filled:.1f} s; "
            f"first build of every day {initial:.1f} s",
            flush=True,
        )
    one_day, week = [LAST_DAY], [LAST_DAY - timedelta(days=n) for n in range(7)]
    timings: dict[str, list[float]] = {"short_1": [], "long_1": [], "long_7": []}
    for _ in range(args.repeat):
        timings["short_1"].append(build(warehouses["short"], one_day))
        timings["long_1"].append(build(warehouses["long"], one_day))
        timings["long_7"].append(build(warehouses["long"], week))
    medians = {key: statistics.median(values) for key, values in timings.items()}
    result = {
        "per_day": args.per_day,
        "history_days": {"short": args.short, "long": args.long},
        "median_s": {key: round(value, 3) for key, value in medians.items()},
        "long_over_short_1_day": round(medians["long_1"] / medians["short_1"], 2),
        "seven_over_one_day": round(medians["long_7"] / medians["long_1"], 2),
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
