"""Bounded memory of the shared file path (``sources/files.py``) on a big file.

Generates an ECS JSON-lines audit file of at least ``--gb`` GB (default 1) and one of
``--small-mb`` MB (default 100) in ``--dir`` (default /tmp), and streams each through the
``ecs_jsonl`` kind's extract and load (the functions the DAG tasks call) into the benchmark's
embedded warehouse, each in a fresh process that reports its peak RSS (VmHWM from
/proc/self/status). Prints, per file: records, seconds, peak RSS MB; then the RSS ratio big /
small (flat memory: close to 1 while the file is 10x bigger). The files are deleted afterwards.

    .venv/bin/python benchmarks/big_file.py [--gb 1] [--small-mb 100] [--dir /tmp]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "plugins"), str(ROOT)]
DATA = ROOT / ".data" / "bench_big_file"
PAD = "x" * 600  # ~1 KB a line: a realistic ECS audit document with a message


def peak_rss_mb() -> float:
    """Peak resident memory of this process (VmHWM, not ru_maxrss, which fork carries over)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def generate(path: Path, size_bytes: int) -> int:
    """Write ECS documents until the file holds at least ``size_bytes``; returns how many."""
    written = n = 0
    with path.open("wb", buffering=1 << 20) as out:
        while written < size_bytes:
            chunk = []
            for _ in range(10_000):
                document = {
                    "@timestamp": f"2026-11-{1 + n % 28:02d}T{n % 24:02d}:{n % 60:02d}:"
                    f"{n // 60 % 60:02d}.{n % 1000:03d}Z",
                    "event": {
                        "id": f"evt-{n}",
                        "category": ["authentication", "web", "iam", "file"][n % 4],
                        "action": "user-login",
                        "outcome": "success" if n % 7 else "failure",
                    },
                    "user": {"email": f"user{n % 5000}@example.com", "id": f"u-{n % 5000}"},
                    "source": {"ip": f"10.{n % 250}.{n // 250 % 250}.{n % 200 + 1}"},
                    "user_agent": {"original": "engflow-client/2.1"},
                    "url": {"full": f"https://build.example.com/api/{n % 300}"},
                    "message": PAD,
                }
                chunk.append(json.dumps(document, separators=(",", ":")))
                n += 1
            data = ("\n".join(chunk) + "\n").encode()
            out.write(data)
            written += len(data)
    return n


def child(dsn: str, path: str) -> None:
    import logging

    logging.basicConfig(level=logging.WARNING)
    from access_warehouse.config import parse_sources
    from access_warehouse.extract import extract
    from access_warehouse.load import load_batch

    feed = parse_sources(
        [{"kind": "ecs_jsonl", "name": f"bench_{Path(path).stem}", "path": path}], "bench"
    ).feeds()[0]
    started = time.perf_counter()
    extracted = extract(dsn, feed)
    extract_s = time.perf_counter() - started
    loaded = load_batch(dsn, extracted.batch_id, feed)
    print(
        json.dumps(
            {
                "records": extracted.records,
                "loaded": loaded.loaded,
                "extract_s": round(extract_s, 1),
                "load_s": round(time.perf_counter() - started - extract_s, 1),
                "peak_rss_mb": round(peak_rss_mb(), 1),
            }
        )
    )


def empty(dsn: str) -> None:
    from access_warehouse.warehouse import connect

    with connect(dsn) as conn:
        conn.execute(
            "TRUNCATE audit.access_events, audit.access_logs, audit.external_users,"
            " audit.external_user_aliases, audit.config_items, audit.batches,"
            " landing.records, landing.extract_batches, landing.processed_files,"
            " dq.quarantine, dq.expectation_results, dq.validation_runs CASCADE"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gb", type=float, default=1.0)
    parser.add_argument("--small-mb", type=float, default=100.0)
    parser.add_argument("--dir", default=tempfile.gettempdir())
    parser.add_argument("--child", nargs=2, metavar=("DSN", "FILE"))
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return 0

    from access_warehouse.warehouse import apply_migrations
    from devtools.embedded import start_embedded_warehouse

    DATA.mkdir(parents=True, exist_ok=True)
    dsn = start_embedded_warehouse(DATA, database="warehouse")
    apply_migrations(dsn)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "plugins"), str(ROOT)])}
    folder = Path(tempfile.mkdtemp(prefix="big-file-", dir=args.dir))
    results = {}
    try:
        for name, size in (("small", args.small_mb * 2**20), ("big", args.gb * 2**30)):
            path = folder / f"{name}.jsonl"
            count = generate(path, int(size))
            empty(dsn)
            started = time.perf_counter()
            output = subprocess.run(
                [sys.executable, __file__, "--child", dsn, str(path)],
                capture_output=True,
                text=True,
                env=env,
            )
            if output.returncode:
                raise RuntimeError(f"{name} failed:\n{output.stderr[-3000:]}")
            result = json.loads(output.stdout.strip().splitlines()[-1])
            result.update(
                file_mb=round(path.stat().st_size / 2**20),
                generated=count,
                seconds=round(time.perf_counter() - started, 1),
            )
            results[name] = result
            path.unlink()
            print(
                f"{name:<6} {result['file_mb']:>6} MB {result['records']:>10,} records "
                f"{result['seconds']:>7.1f} s (extract {result['extract_s']} s, load "
                f"{result['load_s']} s)  peak RSS {result['peak_rss_mb']:>6.0f} MB",
                flush=True,
            )
    finally:
        for leftover in folder.glob("*"):
            leftover.unlink()
        folder.rmdir()
        empty(dsn)
    ratio = results["big"]["peak_rss_mb"] / results["small"]["peak_rss_mb"]
    size_ratio = results["big"]["file_mb"] / results["small"]["file_mb"]
    print(f"peak RSS big/small: {ratio:.2f} for a {size_ratio:.1f}x bigger file")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
