"""``make bench [N=...]``: the shared load path against the loaders a data engineer would pick.

N synthetic Graph beta sign-ins (the simulator's generator, no HTTP) are written once as JSON
lines; then each measurement runs in a fresh process on the same records and the same embedded
Postgres, and the figures are compared as ratios within this one run (the machine is shared):

- ``floor``: COPY of the raw JSON lines into a plain jsonb table;
- ``pipeline``: landing (pages of 1000, as an extract lands them) and the load (normalise,
  validate, resolve, upsert, access logs), the functions the DAG tasks call;
- ``insert_rows``: the normalised rows through ``PostgresHook.insert_rows(..., replace=True)``,
  what a plain Airflow DAG would do;
- ``dlt``: dlt's ``merge`` load (primary key ``id``) of the same records, from its own
  virtualenv (``.venv-bench``, ``benchmarks/requirements.txt``).

Extraction is measured apart, against the Graph simulator in its own process (HTTPS, page size
1000, the simulator's synthetic tenant):

- ``extract_throttled``: the shared extract with Microsoft's throttle on (5 requests per 10 s per
  app and tenant, 60+ requests), paced as configured by default: the data requests it achieved
  against the most that limit allows in the same time (all records arrive);
- ``extract_throttled_unpaced``: the same without pacing, so the server answers 429s: every one
  is retried;
- ``extract`` and ``httpx_paging``: with throttling off, the shared extract (fetch and landing)
  against bare ``httpx`` paging of the same pages, which keeps nothing.

It prints a table, one JSON object per measurement (``name``, ``records``, ``seconds``,
``records_per_s``, ``peak_rss_mb`` and the stages), then the ratios.

    python benchmarks/bench.py --records 1000000 [--only floor pipeline ...]
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "plugins"), str(ROOT)]

DAY = datetime(2026, 11, 2, tzinfo=UTC)
DATA = ROOT / ".data" / "bench"
LOADS = ("floor", "pipeline", "insert_rows", "dlt")
EXTRACTS = ("extract_throttled", "extract_throttled_unpaced", "extract", "httpx_paging")
MEASUREMENTS = LOADS + EXTRACTS
PAGE = 1000
#: Microsoft Graph's documented limit for audit logs, as the simulator enforces it
THROTTLE_LIMIT, THROTTLE_WINDOW_S = 5, 10.0


def peak_rss_mb() -> float:
    """This process's peak resident memory since it started its program (VmHWM): not
    ``ru_maxrss``, which Linux carries over from the parent through fork and exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def generate(path: Path, records: int) -> None:
    """``records`` beta sign-ins of one day as JSON lines (reused when already there)."""
    if path.exists() and sum(1 for _ in path.open("rb")) == records:
        return
    from devtools.graph_simulator.tenant import SyntheticTenant, TenantConfig

    tenant = SyntheticTenant(TenantConfig(signins_per_day=records, users=5000, apps=200))
    lo = int(DAY.timestamp())
    rows = tenant.query(lo, lo + 86_400)
    with path.open("w") as out:
        for row in rows:
            out.write(tenant.render_json(row, "beta") + "\n")


def pages(path: Path) -> Any:
    """The file as pages of parsed records, as a fetch yields them."""
    import orjson

    page: list[Any] = []
    with path.open("rb") as handle:
        for line in handle:
            page.append(orjson.loads(line))
            if len(page) == PAGE:
                yield page
                page = []
    if page:
        yield page


def measure_floor(dsn: str, path: Path) -> dict[str, Any]:
    import psycopg

    with psycopg.connect(dsn) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_floor")
        conn.execute("CREATE TABLE bench_floor (payload jsonb NOT NULL)")
        # CSV with quote and delimiter characters that JSON never holds: lines pass unchanged
        copy_sql = "COPY bench_floor FROM STDIN (FORMAT csv, QUOTE e'\\x01', DELIMITER e'\\x02')"
        with conn.cursor() as cursor, cursor.copy(copy_sql) as copy, path.open("rb") as handle:
            while block := handle.read(1 << 20):
                copy.write(block)
        return {"records": conn.execute("SELECT count(*) FROM bench_floor").fetchone()[0]}


def measure_pipeline(dsn: str, path: Path) -> dict[str, Any]:
    import psycopg

    from access_warehouse.landing import ExtractWindow, LandingBatch
    from access_warehouse.load import load_batch
    from access_warehouse.sources.entra import EntraSource

    feed = EntraSource(
        kind="entra", name="bench", tenant_id="contoso", conn_id="msgraph_default"
    ).feed("signins")
    started = time.perf_counter()
    batch = LandingBatch(
        dsn,
        source_id=feed.source_id,
        source_kind=feed.record_kind,
        window=ExtractWindow(DAY, DAY + timedelta(days=1)),
    )
    for page in pages(path):
        batch.write_page(page)
    batch.finish("extracted")
    batch.close()
    landed = time.perf_counter()
    summary = load_batch(dsn, batch.batch_id, feed)
    loaded = time.perf_counter()
    with psycopg.connect(dsn) as conn:
        # the GX suites' share, timed inside the load (raw and event suites, every chunk)
        (validation_s,) = conn.execute(
            "SELECT (details ->> 'validation_s')::float8 FROM audit.batches WHERE batch_id = %s",
            (batch.batch_id,),
        ).fetchone()
    return {
        "records": summary.extracted,
        "loaded": summary.loaded,
        "stages": {
            "land_s": round(landed - started, 2),
            "load_s": round(loaded - landed, 2),
            "validation_s": round(validation_s, 2),
        },
    }


def measure_insert_rows(dsn: str, path: Path) -> dict[str, Any]:
    import psycopg
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    from access_warehouse.contract import NORMALISED_COLUMNS
    from access_warehouse.normalise import normalise_record
    from access_warehouse.sources.entra.signins import normalise_signin

    with psycopg.connect(dsn) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_insert_rows")
        conn.execute("CREATE TABLE bench_insert_rows (LIKE audit.access_events INCLUDING DEFAULTS)")
        conn.execute("ALTER TABLE bench_insert_rows ADD PRIMARY KEY (source_id, event_id)")
        for column in ("external_user_id", "batch_id", "ingested_at", "content_hash"):
            conn.execute(f"ALTER TABLE bench_insert_rows ALTER COLUMN {column} DROP NOT NULL")
    hook = PostgresHook(postgres_conn_id="warehouse")
    records = 0
    for page in pages(path):
        rows = []
        for record in page:
            for event in normalise_record(normalise_signin, record, "entra:bench:signins"):
                rows.append(
                    [
                        json.dumps(event[c], default=str) if c == "properties" else event[c]
                        for c in NORMALISED_COLUMNS
                    ]
                )
        hook.insert_rows(
            "bench_insert_rows",
            rows,
            target_fields=list(NORMALISED_COLUMNS),
            replace=True,
            replace_index=["source_id", "event_id"],
            commit_every=PAGE,
        )
        records += len(page)
    return {"records": records}


def _bench_tenant(paced: bool = True) -> Any:
    """The bench tenant as configured by default; unpaced: without client-side pacing."""
    from access_warehouse.sources.entra import EntraSource

    return EntraSource.model_validate(
        {
            "kind": "entra",
            "name": "bench",
            "tenant_id": "contoso",
            "conn_id": "msgraph_default",
            "signins": {} if paced else {"max_requests_per_10s": None},
        }
    )


def _extract(dsn: str, paced: bool = True) -> dict[str, Any]:
    from access_warehouse.extract import extract
    from access_warehouse.landing import ExtractWindow

    started = time.perf_counter()
    feed = _bench_tenant(paced).feed("signins")
    summary = extract(dsn, feed, window=ExtractWindow(DAY, DAY + timedelta(days=1)))
    requests = {key: summary.requests[key] for key in ("requests", "throttled", "retries")}
    return {
        "records": summary.records,
        "pages": summary.pages,
        "extract_s": round(time.perf_counter() - started, 2),
        "requests": requests,
    }


def measure_extract_throttled(dsn: str, path: Path) -> dict[str, Any]:
    return _extract(dsn)


def measure_extract_throttled_unpaced(dsn: str, path: Path) -> dict[str, Any]:
    return _extract(dsn, paced=False)


def measure_extract(dsn: str, path: Path) -> dict[str, Any]:
    # throttling off: pacing to Graph's limit would measure the limit, not the extract
    return _extract(dsn, paced=False)


def measure_httpx_paging(dsn: str, path: Path) -> dict[str, Any]:
    """The baseline: the same pages through bare httpx, parsed and thrown away."""
    import httpx

    from access_warehouse.sources.graph import window_filter

    sim = json.loads(path.read_text())
    query = _bench_tenant().graph_query("signins")
    base = sim["base_url"]
    records = pages = 0
    with httpx.Client(verify=False, timeout=60) as client:
        token = client.post(
            f"{base}/{sim['tenant_id']}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": sim["client_id"],
                "client_secret": sim["client_secret"],
                "scope": "https://graph.microsoft.com/.default",
            },
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        for stream in query.streams:
            url: str | None = f"{base}/{query.api_version}/{query.path}"
            params: dict[str, Any] | None = {
                "$filter": window_filter(query.time_field, DAY, DAY + timedelta(days=1), stream),
                "$top": query.page_size,
            }
            while url:
                page = client.get(url, params=params, headers=headers)
                page.raise_for_status()
                body = page.json()
                records += len(body["value"])
                pages += 1
                url, params = body.get("@odata.nextLink"), None
    return {"records": records, "pages": pages}


DLT_CHILD = """
from pathlib import Path
import json, sys, time
import dlt, orjson
path, dsn_url = sys.argv[1], sys.argv[2]
def records():
    with open(path, "rb") as handle:
        for line in handle:
            yield orjson.loads(line)
pipeline = dlt.pipeline(pipeline_name="bench", destination=dlt.destinations.postgres(dsn_url),
                        dataset_name="dlt_bench", pipelines_dir=sys.argv[3])
pipeline.run(records(), table_name="signins", write_disposition="merge", primary_key="id")
with pipeline.sql_client() as client:
    rows = client.execute_sql("SELECT count(*) FROM signins")[0][0]
print(json.dumps({"records": rows,
                  "peak_rss_mb": peak_rss_mb()}))
"""


@contextmanager
def simulator(records: int, throttle: bool) -> Any:
    """The Graph simulator in its own process, serving ``records`` sign-ins on DAY; yields the
    path of its state file (URL and credentials) and the environment that points Airflow's
    ``msgraph_default`` connection at it."""
    from devtools.demo import start_simulator_process
    from devtools.local_env import airflow_env, msgraph_connection, warehouse_connection

    flags = ["--no-late-arrival", "--now", "2026-11-20T00:00:00Z"]
    flags += (
        ["--throttle-limit", str(THROTTLE_LIMIT), "--throttle-window", str(THROTTLE_WINDOW_S)]
        if throttle
        else ["--no-throttle"]
    )
    process, sim = start_simulator_process(
        DATA, signins_per_day=records, tenant_id="contoso", extra_args=flags
    )
    try:
        connection = msgraph_connection(
            urlparse(sim["base_url"]).netloc,
            sim["tenant_id"],
            sim["client_id"],
            sim["client_secret"],
        )
        connections = {
            "warehouse": warehouse_connection(DATA / "pg"),
            "msgraph_default": connection,
        }
        yield DATA / "simulator.json", airflow_env(DATA, connections)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def throttle_efficiency(result: dict[str, Any]) -> float:
    """Data pages achieved against the most a sliding limit of THROTTLE_LIMIT requests per
    THROTTLE_WINDOW_S allows in the extract's time: LIMIT x (1 + whole windows elapsed)."""
    ceiling = THROTTLE_LIMIT * (1 + int(result["extract_s"] // THROTTLE_WINDOW_S))
    return result["pages"] / ceiling


def run_child(name: str, dsn: str, path: Path, env: dict[str, str]) -> dict[str, Any]:
    """One measurement in a fresh process; its last output line is a JSON object."""
    started = time.perf_counter()
    if name == "dlt":
        python = ROOT / ".venv-bench" / "bin" / "python"
        pgdata = dsn.split("host=")[1].split()[0]
        # dlt insists on a password; the embedded server trusts local connections and ignores it
        url = f"postgresql://postgres:unused@localhost/warehouse?host={pgdata}"
        program = inspect.getsource(peak_rss_mb) + DLT_CHILD  # the same memory measure
        command = [str(python), "-c", program, str(path), url, str(DATA / "dlt")]
    else:
        command = [sys.executable, __file__, "--child", name, "--dsn", dsn, "--file", str(path)]
    output = subprocess.run(command, capture_output=True, text=True, env=env)
    if output.returncode:
        raise RuntimeError(f"{name} failed:\n{output.stderr[-3000:]}")
    result = json.loads(output.stdout.strip().splitlines()[-1])
    result["seconds"] = round(time.perf_counter() - started, 2)
    return result


def empty_warehouse(dsn: str) -> None:
    """Every measurement starts from an empty warehouse."""
    from access_warehouse.warehouse import connect

    with connect(dsn) as conn:
        conn.execute(
            "TRUNCATE audit.access_events, audit.access_logs, audit.external_users,"
            " audit.external_user_aliases, audit.config_items, audit.batches,"
            " landing.records, landing.extract_batches, dq.quarantine,"
            " dq.expectation_results, dq.validation_runs CASCADE"
        )
        conn.execute("DROP SCHEMA IF EXISTS dlt_bench CASCADE")


def child(args: argparse.Namespace) -> None:
    import logging

    logging.basicConfig(level=logging.WARNING)
    measure = globals()[f"measure_{args.child}"]
    result = measure(args.dsn, Path(args.file))
    result["peak_rss_mb"] = round(peak_rss_mb(), 1)
    print(json.dumps(result))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument(
        "--extract-records", type=int, default=100_000, help="sign-ins served, throttling off"
    )
    parser.add_argument(
        "--throttled-requests", type=int, default=60, help="data requests, throttling on"
    )
    parser.add_argument("--only", nargs="+", choices=MEASUREMENTS, default=list(MEASUREMENTS))
    parser.add_argument("--child", choices=MEASUREMENTS)
    parser.add_argument("--dsn")
    parser.add_argument("--file")
    args = parser.parse_args()
    if args.child:
        child(args)
        return 0

    from access_warehouse.warehouse import apply_migrations
    from devtools.embedded import start_embedded_warehouse
    from devtools.local_env import airflow_env, warehouse_connection

    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"signins-{args.records}.jsonl"
    if set(args.only) & set(LOADS):
        print(f"generating {args.records:,} sign-ins into {path} ...", flush=True)
        generate(path, args.records)
    dsn = start_embedded_warehouse(DATA, database="warehouse")
    apply_migrations(dsn)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "plugins"), str(ROOT)]),
        **airflow_env(DATA, {"warehouse": warehouse_connection(DATA / "pg")}),
    }
    results = {}

    def report(name: str, result: dict[str, Any]) -> None:
        result["name"] = name
        result["records_per_s"] = round(result["records"] / result["seconds"])
        results[name] = result
        extra = result.get("stages") or result.get("requests") or ""
        print(
            f"{name:<18} {result['records']:>9,} records {result['seconds']:>8.1f} s "
            f"{result['records_per_s']:>8,} records/s  peak RSS {result['peak_rss_mb']:>6.0f} MB"
            + (f"  {extra}" if extra else ""),
            flush=True,
        )

    for name in (name for name in args.only if name in LOADS):
        empty_warehouse(dsn)
        report(name, run_child(name, dsn, path, env))
    extracts = [name for name in args.only if name in EXTRACTS]
    throttled = [name for name in extracts if name.startswith("extract_throttled")]
    if throttled:
        # the streams' last pages are partial: this many records take the requests asked for
        with simulator(args.throttled_requests * PAGE - PAGE // 2, throttle=True) as (state, sim):
            for name in throttled:
                empty_warehouse(dsn)
                report(name, run_child(name, dsn, state, {**env, **sim}))
    if {"extract", "httpx_paging"} & set(extracts):
        with simulator(args.extract_records, throttle=False) as (state, sim):
            for name in ("httpx_paging", "extract"):
                if name in extracts:
                    empty_warehouse(dsn)
                    report(name, run_child(name, dsn, state, {**env, **sim}))
    print()
    for result in results.values():
        print(json.dumps(result))
    pipeline = results.get("pipeline")
    print("\nratios (same run):")
    for name in ("extract_throttled", "extract_throttled_unpaced"):
        if name not in results:
            continue
        throttled = results[name]
        stats = throttled["requests"]
        print(
            f"  {name}: {throttled['pages']} data requests in "
            f"{throttled['extract_s']:.0f} s = {throttle_efficiency(throttled):.0%} of the "
            f"{THROTTLE_LIMIT} per {THROTTLE_WINDOW_S:.0f} s ceiling; {stats['throttled']} "
            f"answered 429, {stats['retries']} retried"
        )
    if {"extract", "httpx_paging"} <= results.keys():
        ratio = results["extract"]["seconds"] / results["httpx_paging"]["seconds"]
        print(f"  extract time / bare httpx paging time (throttling off): {ratio:.2f}")
    if pipeline:
        validation = pipeline["stages"]["validation_s"]
        print(
            "  validation added to the pipeline (validation time / pipeline time without it):"
            f" {validation / (pipeline['seconds'] - validation):.2f}"
        )
        for other, label in (
            ("floor", "pipeline time / floor time"),
            ("insert_rows", "insert_rows time / pipeline time"),
            ("dlt", "pipeline records/s / dlt records/s"),
        ):
            if other not in results:
                continue
            if other == "floor":
                ratio = pipeline["seconds"] / results[other]["seconds"]
            elif other == "insert_rows":
                ratio = results[other]["seconds"] / pipeline["seconds"]
            else:
                ratio = pipeline["records_per_s"] / results[other]["records_per_s"]
            print(f"  {label}: {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
