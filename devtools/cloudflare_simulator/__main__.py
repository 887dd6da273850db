"""Run the Cloudflare simulator until SIGTERM/SIGINT.

Prints one JSON line (base_url, api_base_url, host, account_id, api_token, cert) to stdout and
writes the same JSON to ``--state-file`` if given (removed again on exit, so a stale file never
points at a dead server).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from devtools.graph_simulator.server import SimClock

from .account import AccountConfig
from .server import PAGE_FAULTS, CloudflareSimulator, FaultConfig


def _script_item(text: str) -> int | str:
    if text.isdigit():
        return int(text)
    if text not in PAGE_FAULTS:
        raise argparse.ArgumentTypeError(f"{text!r} is neither a status nor one of {PAGE_FAULTS}")
    return text


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    defaults = AccountConfig()
    parser = argparse.ArgumentParser(
        prog="python -m devtools.cloudflare_simulator",
        description="Cloudflare API simulator for Access authentication logs (HTTPS, "
        "self-signed): /client/v4/accounts/{id}/access/logs/access_requests over a "
        "deterministic synthetic account, with API-token auth, paging, throttling (429 "
        "Retry-After), 5xx and broken pages on demand, and late-indexed records.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--account-id", default=defaults.account_id)
    parser.add_argument("--api-token", default=defaults.api_token)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument(
        "--tenant-id", default=defaults.tenant_id, help="Graph simulator tenant of the users"
    )
    parser.add_argument("--users", type=int, default=defaults.users)
    parser.add_argument("--logins-per-day", type=int, default=defaults.logins_per_day)
    parser.add_argument("--no-late-arrival", action="store_true", help="no indexing delay")
    parser.add_argument(
        "--fault",
        action="append",
        type=_script_item,
        default=[],
        metavar="STATUS|PAGE_FAULT",
        help=f"answer the next data request with this (repeatable, in order): 429, a 5xx, "
        f"or one of {', '.join(PAGE_FAULTS)}",
    )
    parser.add_argument("--fault-after", type=int, default=0, metavar="N")
    parser.add_argument("--retry-after", default="1", help='Retry-After on 429, e.g. "2.128"')
    parser.add_argument("--now", help="start the simulated clock at this ISO 8601 instant")
    parser.add_argument("--frozen", action="store_true", help="keep the clock at --now")
    parser.add_argument("--cert-dir", type=Path, help="where to keep the certificate (reused)")
    parser.add_argument("--state-file", type=Path, help="also write the JSON line here")
    parser.add_argument("--log-level", default="WARNING")
    return parser.parse_args(argv)


def _write_state(path: Path, state: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(state) + "\n")
    os.replace(tmp, path)  # readers never see a half-written file


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr)
    clock = SimClock()
    if args.now:
        start = datetime.fromisoformat(args.now.replace("Z", "+00:00"))
        clock.set(start if start.tzinfo else start.replace(tzinfo=UTC), frozen=args.frozen)
    simulator = CloudflareSimulator(
        AccountConfig(
            account_id=args.account_id,
            seed=args.seed,
            tenant_id=args.tenant_id,
            users=args.users,
            logins_per_day=args.logins_per_day,
            api_token=args.api_token,
        ),
        FaultConfig(
            script=list(args.fault),
            script_after=args.fault_after,
            retry_after=args.retry_after,
            late_arrival=not args.no_late_arrival,
        ),
        host=args.host,
        port=args.port,
        cert_dir=args.cert_dir,
        clock=clock,
    )
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    with simulator:
        state = simulator.state()
        if args.state_file:  # first, so whoever reads stdout can rely on the file too
            _write_state(args.state_file, state)
        print(json.dumps(state), flush=True)
        try:
            while not stop.wait(0.5):
                pass
        finally:
            if args.state_file:
                args.state_file.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
