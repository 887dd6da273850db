"""Command line over the same functions the DAG tasks call (no Airflow needed but for the
connections a source's client reads).

    python -m access_warehouse.cli kinds            registered source kinds, an example each
    python -m access_warehouse.cli sources          configured feeds: DAG id, source id, selection
    python -m access_warehouse.cli check-config     validate include/config/sources.yaml
    python -m access_warehouse.cli migrate --dsn DSN
    python -m access_warehouse.cli run --dsn DSN --source-id ID [--start T --end T]
    python -m access_warehouse.cli find-text --dsn DSN   which tables hold a text (read, not echoed)
    python -m access_warehouse.cli daily-summary [--dsn DSN] [--days N] [--source SOURCE_ID]
    python -m access_warehouse.cli data-docs [--open-path]   rebuild the GX Data Docs, print index
    python -m access_warehouse.cli reprocess-quarantine SOURCE_ID --dsn DSN [--batch ID]
        [--reason-like TEXT] [--id N ...] [--dry-run]   re-load quarantined records after a fix
    python -m access_warehouse.cli build-reports --from YYYY-MM-DD --to YYYY-MM-DD --dsn DSN
        [--as-of YYYY-MM-DD]   rebuild the reporting tables for those days
    python -m access_warehouse.cli evidence-pack --from YYYY-MM-DD --to YYYY-MM-DD --dsn DSN
        [--out DIR]   freeze a review period's population and access into an evidence pack
    python -m access_warehouse.cli evidence-verify DIR [--dsn DSN]   check a pack's files and
        manifest (and, with --dsn, the warehouse's record of it); exit 1 on any problem
    python -m access_warehouse.cli snapshot-populations [--population ID] --dsn DSN
        [--config PATH]   snapshot who exists (include/config/populations.yaml); exit 1
        when one failed (the others still run)
    python -m access_warehouse.cli retention --dsn DSN [--dry-run] [--now ISO] [--config PATH]
        enforce include/config/retention.yaml (README "Retention"); --dry-run records and
        prints what would go, changing nothing else
    python -m access_warehouse.cli verify-warehouse --dsn DSN [--source ID]
        [--expect-head SOURCE=ENTRY_NO:HASH ...]   recompute the manifest chains from the rows
        (and check heads published earlier); exit 1 naming each finding
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import yaml


def _kinds(_: argparse.Namespace) -> int:
    from access_warehouse.sources.registry import registered_kinds

    for kind in registered_kinds().values():
        print(f"{kind.name}: {kind.summary}")
        example = yaml.safe_dump([{"kind": kind.name, **kind.example}], sort_keys=False)
        print("  " + example.replace("\n", "\n  ").rstrip())
    return 0


def _sources(args: argparse.Namespace) -> int:
    from access_warehouse.config import load_sources

    for feed in load_sources(args.path).feeds():
        print(
            f"{feed.dag_id:<30} {feed.source_id:<36} {feed.record_kind:<24} "
            f"{feed.schedule:<12} {feed.selection.describe()}"
        )
    return 0


def _check_config(args: argparse.Namespace) -> int:
    from access_warehouse.config import ConfigError, load_sources

    try:
        config = load_sources(args.path)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"ok: {len(config.sources)} sources, {len(config.feeds())} feeds")
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from access_warehouse.warehouse import apply_migrations

    print("\n".join(apply_migrations(args.dsn)) or "up to date")
    return 0


def _run(args: argparse.Namespace) -> int:
    from access_warehouse.config import load_sources
    from access_warehouse.extract import extract
    from access_warehouse.load import load_batch
    from access_warehouse.sources.base import TimeWindow
    from access_warehouse.windows import resolve_window

    feed = load_sources(args.path).feed(args.source_id)
    window = None
    if isinstance(feed.selection, TimeWindow):
        window = resolve_window(
            interval_start=None,
            interval_end=None,
            params={"window_start": args.start, "window_end": args.end},
            lookback=feed.selection.lookback,
        )
    extracted = extract(args.dsn, feed, window=window)
    loaded = load_batch(args.dsn, extracted.batch_id, feed)
    print(json.dumps(loaded.as_xcom(), default=str, indent=2))
    return 0


def _find_text(args: argparse.Namespace) -> int:
    """Exit 0 when no warehouse table holds the text, 1 (listing them) when some do."""
    import getpass

    from access_warehouse.warehouse import tables_containing

    # Asked for, never an argument: a password on the command line lands in shell history
    # and in every process listing.
    text = (
        sys.stdin.readline().rstrip("\n")
        if not sys.stdin.isatty()
        else getpass.getpass("text to look for (not echoed): ")
    )
    if len(text) < 4:
        print("give at least 4 characters", file=sys.stderr)
        return 2
    found = tables_containing(args.dsn, text)
    for relation in found:
        print(relation)
    print(f"found in {len(found)} tables or views" if found else "found in no table or view")
    return 1 if found else 0


def _reprocess_quarantine(args: argparse.Namespace) -> int:
    from access_warehouse.config import load_sources
    from access_warehouse.quality.reprocess import reprocess_quarantine

    summary = reprocess_quarantine(
        args.dsn,
        load_sources(args.path).feed(args.source_id),
        batch_id=args.batch,
        reason_like=args.reason_like,
        ids=args.id,
        dry_run=args.dry_run,
    )
    print(json.dumps(summary.as_xcom(), indent=2))
    return 0


def _data_docs(args: argparse.Namespace) -> int:
    """Rebuild the Data Docs site from the stored results; print its index (a file:// URL to
    open with --open-path)."""
    from access_warehouse.quality.data_docs import build_data_docs

    index = build_data_docs()
    print(index.as_uri() if args.open_path else index)
    return 0


def _daily_summary(args: argparse.Namespace) -> int:
    """One page: per day and source, what was extracted, loaded, quarantined, excluded, the
    failed checks and whether the windows reconcile (``dq.daily_summary``)."""
    from access_warehouse.quality.completeness import daily_summary, format_daily_summary

    dsn = args.dsn
    if dsn is None:  # the DAGs' own warehouse: the Airflow connection `warehouse`
        from access_warehouse.airflow_adapters.connections import warehouse_dsn

        dsn = warehouse_dsn()
    rows = daily_summary(dsn, args.days, args.source)
    print(format_daily_summary(rows, args.days))
    return 0


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a day YYYY-MM-DD: {text!r}") from None


def _build_reports(args: argparse.Namespace) -> int:
    """Rebuild the reporting tables for a range of days (exit 2 for a bad range)."""
    from access_warehouse.reporting.build import ReportingError, build_reports, days_between

    try:
        summary = build_reports(
            args.dsn, days_between(args.day_from, args.day_to), as_of=args.as_of, trigger="cli"
        )
    except ReportingError as exc:
        print(f"build-reports: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(summary.as_xcom(), indent=2))
    return 0


def _evidence_pack(args: argparse.Namespace) -> int:
    """Freeze a review period into an evidence pack; print the folder, each file's rows and
    SHA-256, and the manifest's SHA-256 (exit 2 when the period or the folder is refused)."""
    from access_warehouse.reporting.evidence import (
        EvidencePackError,
        default_pack_dir,
        write_evidence_pack,
    )

    out = args.out or default_pack_dir(args.period_from, args.period_to)
    try:
        pack = write_evidence_pack(args.dsn, args.period_from, args.period_to, out)
    except EvidencePackError as exc:
        print(f"evidence-pack: {exc}", file=sys.stderr)
        return 2
    print(f"evidence pack {pack.pack_id}: {pack.period_start} .. {pack.period_end} (UTC days)")
    print(f"folder: {pack.directory}")
    width = max(len(f.name) for f in pack.files)
    for f in pack.files:
        print(f"  {f.name:<{width}}  {f.rows:>9} rows  {f.bytes:>11} bytes  sha256 {f.sha256}")
    print(f"manifest.json sha256 {pack.manifest_sha256}")
    head = pack.chain_head.get("latest")
    print(
        f"chain head: batch {head['sequence_no']} ({head['source_id']}) {head['batch_hash']}"
        if head
        else "chain head: no batches loaded"
    )
    not_evaluable = pack.completeness["not_evaluable"]
    print(
        "coverage: every source evaluable on every day of the period"
        if not not_evaluable
        else "coverage: not evaluable on "
        + "; ".join(f"{source}: {len(days)} day(s)" for source, days in not_evaluable.items())
        + " (coverage.csv says why)"
    )
    print("keep the manifest's sha256 outside the warehouse too (e.g. in the review ticket)")
    return 0


def _evidence_verify(args: argparse.Namespace) -> int:
    """Exit 0 when the pack verifies, 1 naming every problem."""
    from access_warehouse.reporting.evidence import verify_evidence_pack

    result = verify_evidence_pack(args.dir, args.dsn)
    for problem in result.problems:
        print(problem)
    if not result.ok:
        print(f"NOT VERIFIED: {len(result.problems)} problem(s) in {args.dir}")
        return 1
    start, end = result.period or ("?", "?")
    against = (
        "; the warehouse's record and chain heads match"
        if result.database_checked
        else "; not compared with the warehouse (no --dsn)"
    )
    print(
        f"verified: pack {result.pack_id} ({start} .. {end}), {result.files_checked} files, "
        f"manifest sha256 {result.manifest_sha256}{against}"
    )
    return 0


def _snapshot_populations(args: argparse.Namespace) -> int:
    """Snapshot every enabled population (or ``--population``), one after the other; a failure
    is printed and the others still run (exit 1 when one failed, 2 for a bad config or id)."""
    from access_warehouse.config import ConfigError, load_sources
    from access_warehouse.populations.config import load_populations
    from access_warehouse.populations.snapshot import snapshot_population

    try:
        config = load_populations(args.config, load_sources(args.path))
        chosen = [config.population(args.population)] if args.population else config.enabled()
    except (ConfigError, KeyError) as exc:
        print(f"snapshot-populations: {exc.args[0]}", file=sys.stderr)
        return 2
    failed = 0
    for population in chosen:
        try:
            summary = snapshot_population(args.dsn, population)
        except Exception as exc:  # the failed snapshot is recorded; the next one still runs
            failed += 1
            print(f"{population.population_id}: failed: {type(exc).__name__}: {exc}")
            continue
        print(json.dumps(summary.as_xcom()))
    return 1 if failed else 0


def _verify_warehouse(args: argparse.Namespace) -> int:
    """Exit 0 when every chain and every batch's rows verify, 1 printing each finding."""
    from access_warehouse.integrity.verify import verify_warehouse

    heads = {}
    for given in args.expect_head or []:
        source, _, head = given.rpartition("=")
        entry_no, _, entry_hash = head.partition(":")
        if not source or not entry_no.isdigit() or not entry_hash:
            print(
                f"verify-warehouse: --expect-head {given!r}: want SOURCE=ENTRY_NO:HASH",
                file=sys.stderr,
            )
            return 2
        heads[source] = (int(entry_no), entry_hash)
    report = verify_warehouse(args.dsn, source_id=args.source, expected_heads=heads)
    print("\n".join(report.lines()))
    return 0 if report.ok else 1


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a time (ISO 8601, UTC): {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _retention(args: argparse.Namespace) -> int:
    """Enforce the retention policies (or, with --dry-run, record and print what would go);
    exit 2 for a bad config or another run under way."""
    from access_warehouse.config import ConfigError, load_sources
    from access_warehouse.retention.config import load_retention_config
    from access_warehouse.retention.enforce import RetentionBusy, enforce_retention

    try:
        config = load_retention_config(args.config, load_sources(args.path))
        summary = enforce_retention(args.dsn, config, now=args.now, dry_run=args.dry_run)
    except (ConfigError, RetentionBusy) as exc:
        print(f"retention: {exc}", file=sys.stderr)
        return 2
    print("\n".join(summary.lines) or "nothing is past its policy")
    print(summary.summary_line())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m access_warehouse.cli", description=__doc__)
    parser.add_argument("--path", type=Path, help="a sources.yaml other than the shipped one")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("kinds", help="registered source kinds").set_defaults(func=_kinds)
    commands.add_parser("sources", help="configured feeds").set_defaults(func=_sources)
    commands.add_parser("check-config", help="validate the config").set_defaults(func=_check_config)
    migrate = commands.add_parser("migrate", help="apply migrations and views")
    migrate.add_argument("--dsn", required=True)
    migrate.set_defaults(func=_migrate)
    run = commands.add_parser("run", help="extract and load one window of one feed")
    run.add_argument("--dsn", required=True)
    run.add_argument("--source-id", required=True)
    run.add_argument("--start", help="ISO 8601 UTC (time-window feeds); default: yesterday")
    run.add_argument("--end", help="ISO 8601 UTC")
    run.set_defaults(func=_run)
    find = commands.add_parser(
        "find-text", help="which warehouse tables hold a text, e.g. a password (read from stdin)"
    )
    find.add_argument("--dsn", required=True)
    find.set_defaults(func=_find_text)
    summary = commands.add_parser(
        "daily-summary", help="per source and day: counts, failed checks, reconciliation"
    )
    summary.add_argument("--dsn", help="default: the Airflow connection `warehouse`")
    summary.add_argument("--days", type=int, default=7, help="UTC days back, today included")
    summary.add_argument("--source", metavar="SOURCE_ID", help="one source id only")
    summary.set_defaults(func=_daily_summary)
    docs = commands.add_parser(
        "data-docs", help="rebuild the GX Data Docs (ACCESS_WAREHOUSE_DATA_DOCS), print its index"
    )
    docs.add_argument("--open-path", action="store_true", help="print a file:// URL to open")
    docs.set_defaults(func=_data_docs)
    reprocess = commands.add_parser(
        "reprocess-quarantine",
        help="load a source's open quarantined records again with the current code and config",
    )
    reprocess.add_argument("source_id", metavar="SOURCE_ID")
    reprocess.add_argument("--dsn", required=True)
    reprocess.add_argument("--batch", help="only records first quarantined by this batch id")
    reprocess.add_argument(
        "--reason-like", help="only records with a reason containing TEXT (case-insensitive)"
    )
    reprocess.add_argument(
        "--id", type=int, action="append", help="only this dq.quarantine id (repeatable)"
    )
    reprocess.add_argument("--dry-run", action="store_true", help="count, change nothing")
    reprocess.set_defaults(func=_reprocess_quarantine)
    reports = commands.add_parser(
        "build-reports", help="rebuild the reporting tables for a range of days"
    )
    reports.add_argument("--from", dest="day_from", type=_day, required=True, help="first day")
    reports.add_argument("--to", dest="day_to", type=_day, required=True, help="last day")
    reports.add_argument("--as-of", type=_day, help="default: the latest complete UTC day")
    reports.add_argument("--dsn", required=True)
    reports.set_defaults(func=_build_reports)
    pack = commands.add_parser(
        "evidence-pack",
        help="freeze a review period's population and access into files with a manifest",
    )
    pack.add_argument("--from", dest="period_from", type=_day, required=True, help="first day")
    pack.add_argument("--to", dest="period_to", type=_day, required=True, help="last day")
    pack.add_argument("--dsn", required=True)
    pack.add_argument(
        "--out", type=Path, help="a new or empty folder; default: under ACCESS_WAREHOUSE_EVIDENCE"
    )
    pack.set_defaults(func=_evidence_pack)
    verify = commands.add_parser(
        "evidence-verify", help="check an evidence pack; exit 1 on any problem"
    )
    verify.add_argument("dir", type=Path, metavar="DIR")
    verify.add_argument("--dsn", help="also compare with the warehouse's record of the pack")
    verify.set_defaults(func=_evidence_verify)
    populations = commands.add_parser(
        "snapshot-populations", help="snapshot who exists: directory users, database logins"
    )
    populations.add_argument("--population", metavar="ID", help="e.g. entra:contoso; default: all")
    populations.add_argument("--dsn", required=True)
    populations.add_argument(
        "--config", type=Path, help="a populations.yaml other than the shipped one"
    )
    populations.set_defaults(func=_snapshot_populations)
    verify_chain = commands.add_parser(
        "verify-warehouse",
        help="recompute the manifest chains from the rows; exit 1 on any mismatch",
    )
    verify_chain.add_argument("--dsn", required=True)
    verify_chain.add_argument("--source", metavar="ID", help="one source id only")
    verify_chain.add_argument(
        "--expect-head",
        action="append",
        metavar="SOURCE=ENTRY_NO:HASH",
        help="a chain head published earlier that must still be there (repeatable)",
    )
    verify_chain.set_defaults(func=_verify_warehouse)
    retention = commands.add_parser(
        "retention", help="enforce the retention policies and legal holds (or a dry run)"
    )
    retention.add_argument("--dsn", required=True)
    retention.add_argument(
        "--dry-run", action="store_true", help="record and print what would go, remove nothing"
    )
    retention.add_argument(
        "--now", type=_moment, help="the time the policies count back from (default: now)"
    )
    retention.add_argument(
        "--config", type=Path, help="a retention.yaml other than the shipped one"
    )
    retention.set_defaults(func=_retention)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
