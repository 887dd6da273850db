"""Benchmark: one daily interval of Entra sign-ins, Graph simulator -> warehouse.

Runs the same package functions the DAG tasks call (extract into landing, then load) in a fresh
process per measurement, against the HTTPS simulator in its own process (throttling, faults and
late arrival off: this measures our code, not the simulated waits) and an embedded Postgres.

Ratios, not absolute times, are the claim (the machine is shared and noisy):
  * pipeline time / raw HTTP paging time of the same records (httpx, no landing, no load);
  * time and peak RSS of the large interval / the small one: time should grow about linearly,
    peak memory should stay flat (pages and chunks are streamed, never a whole interval).

    python benchmarks/signins_interval.py [--sizes 10000 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "plugins"), str(ROOT)]

DAY = datetime(2026, 11, 2, tzinfo=UTC)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(args: argparse.Namespace) -> None:
    """One measurement in this process: ``pipeline`` or ``raw`` paging."""
    from access_warehouse.extract import extract
    from access_warehouse.landing import ExtractWindow
    from access_warehouse.load import load_batch
    from access_warehouse.sources.entra import EntraSource

    tenant = EntraSource(kind="entra", name="bench", tenant_id="contoso", conn_id="msgraph_default")
    feed = tenant.feed("signins")
    window = ExtractWindow(DAY, DAY + timedelta(days=1))
    started = time.perf_counter()
    if args.mode == "raw":
        records = raw_paging(args, tenant.graph_query("signins"), window)
        result = {"records": records}
    else:
        extracted = extract(args.dsn, feed, window=window)
        extract_s = time.perf_counter() - started
        loaded = load_batch(args.dsn, extracted.batch_id, feed)
        result = {
            "records": extracted.records,
            "loaded": loaded.loaded,
            "extract_s": extract_s,
            "load_s": time.perf_counter() - started - extract_s,
        }
    result.update(seconds=time.perf_counter() - started, peak_rss_mb=peak_rss_mb())
    print(json.dumps(result))


def raw_paging(args: argparse.Namespace, query, window) -> int:
    """The baseline: page through the same streams with bare httpx, keeping nothing."""
    import httpx

    from access_warehouse.sources.graph import window_filter

    sim = json.loads(Path(args.sim_state).read_text())
    base = sim["base_url"]
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
        total = 0
        for stream in query.streams:
            url = f"{base}/{query.api_version}/{query.path}"
            params = {
                "$filter": window_filter(query.time_field, window.start, window.end, stream),
                "$top": query.page_size,
            }
            while url:
                page = client.get(url, params=params, headers=headers)
                page.raise_for_status()
                body = page.json()
                total += len(body["value"])
                url, params = body.get("@odata.nextLink"), None
    return total


def run_child(mode: str, dsn: str, sim_state: Path, env: dict[str, str]) -> dict:
    output = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--dsn", dsn, "--sim-state", str(sim_state)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    return json.loads(output.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs=2, default=[10_000, 100_000])
    parser.add_argument("--child", choices=["pipeline", "raw"], dest="mode")
    parser.add_argument("--dsn")
    parser.add_argument("--sim-state")
    args = parser.parse_args()
    if args.mode:
        child(args)
        return

    from access_warehouse.warehouse import apply_migrations, connect
    from devtools.demo import start_simulator_process
    from devtools.embedded import start_embedded_warehouse
    from devtools.local_env import airflow_env, msgraph_connection

    data_dir = ROOT / ".data" / "benchmark"
    data_dir.mkdir(parents=True, exist_ok=True)
    dsn = start_embedded_warehouse(data_dir, database="benchmark")
    apply_migrations(dsn)
    rows = []
    for size in args.sizes:
        with connect(dsn) as conn:  # each size starts from an empty warehouse
            conn.execute("TRUNCATE audit.access_events, audit.access_logs, landing.records CASCADE")
        sim_process, sim = start_simulator_process(
            data_dir,
            signins_per_day=size,
            tenant_id="contoso",
            extra_args=["--no-throttle", "--no-late-arrival", "--now", "2026-11-20T00:00:00Z"],
        )
        try:
            host = urlparse(sim["base_url"]).netloc
            env = {
                **os.environ,
                **airflow_env(
                    data_dir,
                    {
                        "msgraph_default": msgraph_connection(
                            host, sim["tenant_id"], sim["client_id"], sim["client_secret"]
                        )
                    },
                ),
            }
            raw = run_child("raw", dsn, data_dir / "simulator.json", env)
            pipeline = run_child("pipeline", dsn, data_dir / "simulator.json", env)
        finally:
            sim_process.send_signal(signal.SIGTERM)
            sim_process.wait(timeout=30)
        rows.append((size, raw, pipeline))
        print(
            f"{pipeline['records']:>7} sign-ins: pipeline {pipeline['seconds']:6.1f} s "
            f"(extract {pipeline['extract_s']:.1f} s, load {pipeline['load_s']:.1f} s, "
            f"{pipeline['records'] / pipeline['seconds']:,.0f} rows/s), "
            f"peak RSS {pipeline['peak_rss_mb']:.0f} MB; raw paging {raw['seconds']:.1f} s, "
            f"{raw['peak_rss_mb']:.0f} MB",
            flush=True,
        )
    (_, _, small_run), (_, large_raw, large_run) = rows
    print("\nratios (same run):")
    print(
        f"  pipeline / raw paging time, {large_run['records']} rows: "
        f"{large_run['seconds'] / large_raw['seconds']:.2f}"
    )
    print(
        f"  time   large / small: {large_run['seconds'] / small_run['seconds']:.2f} "
        f"for {large_run['records'] / small_run['records']:.1f}x the rows"
    )
    print(f"  peak RSS large / small: {large_run['peak_rss_mb'] / small_run['peak_rss_mb']:.2f}")


if __name__ == "__main__":
    main()
