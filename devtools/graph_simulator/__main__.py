"""Run the Graph simulator until SIGTERM/SIGINT.

Prints one JSON line with the connection details (base_url, host, tenant_id, client_id,
client_secret, cert) to stdout, and writes the same JSON to ``--state-file`` if given (removed
again on exit, so a stale file never points at a dead server).
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

from .server import PAGE_FAULTS, FaultConfig, GraphSimulator, SimClock
from .tenant import TenantConfig


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    defaults, fault_defaults = TenantConfig(), FaultConfig()
    parser = argparse.ArgumentParser(
        prog="python -m devtools.graph_simulator",
        description="Microsoft Graph simulator for Entra ID audit logs (HTTPS, self-signed): "
        "/v1.0 and /beta auditLogs/signIns, auditLogs/directoryAudits and users over a "
        "deterministic synthetic tenant, with throttling (shared by all), 5xx faults, late "
        "arrival and stable $skiptoken paging.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--tenant-id", default=defaults.tenant_id)
    parser.add_argument("--client-id", default=defaults.client_id)
    parser.add_argument("--client-secret", default=defaults.client_secret)
    parser.add_argument(
        "--extra-tenant",
        action="append",
        default=[],
        metavar="TENANT[:CLIENT_ID:CLIENT_SECRET]",
        help="serve another tenant too (repeatable); same sizes, its own credentials and data",
    )
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--users", type=int, default=defaults.users)
    parser.add_argument("--apps", type=int, default=defaults.apps)
    parser.add_argument(
        "--signins-per-day",
        type=int,
        default=defaults.signins_per_day,
        help="sign-ins per UTC day, all event types (default %(default)s)",
    )
    parser.add_argument(
        "--directory-audits-per-day",
        type=int,
        default=defaults.directory_audits_per_day,
        help="directory audit records per UTC day (default %(default)s)",
    )
    parser.add_argument(
        "--no-premium-license",
        action="store_true",
        help="a tenant without Entra ID P1/P2: 403 on auditLogs/signIns and users' signInActivity",
    )
    parser.add_argument(
        "--user-changes-hours",
        type=float,
        default=defaults.user_changes_hours,
        metavar="H",
        help="/users: how long a Delete user / disabling Update user audit shapes the directory",
    )
    parser.add_argument("--no-throttle", action="store_true", help="disable 429 throttling")
    parser.add_argument("--throttle-limit", type=int, default=fault_defaults.throttle_limit)
    parser.add_argument(
        "--throttle-window", type=float, default=fault_defaults.throttle_window_s, metavar="S"
    )
    parser.add_argument(
        "--fault-rate", type=float, default=fault_defaults.error_rate, help="share of 503/504"
    )
    parser.add_argument("--no-late-arrival", action="store_true", help="no ingestion delay")
    parser.add_argument("--token-lifetime", type=int, default=fault_defaults.token_lifetime_s)
    parser.add_argument("--drop-after-pages", type=int, default=None, metavar="N")
    parser.add_argument(
        "--page-fault", choices=PAGE_FAULTS, help="serve one broken 200 page (see PAGE_FAULTS)"
    )
    parser.add_argument("--page-fault-on-page", type=int, default=1, metavar="N")
    parser.add_argument("--page-fault-times", type=int, default=1, metavar="N")
    parser.add_argument(
        "--retry-after-decimal", action="store_true", help='Retry-After as "2.128", not "2"'
    )
    parser.add_argument("--throttle-first", type=int, default=0, metavar="N")
    parser.add_argument("--now", help="start the simulated clock at this ISO 8601 instant")
    parser.add_argument("--cert-dir", type=Path, help="where to keep the certificate (reused)")
    parser.add_argument("--state-file", type=Path, help="also write the JSON line here")
    parser.add_argument("--log-level", default="WARNING")
    return parser.parse_args(argv)


def _tenants(args: argparse.Namespace) -> list[TenantConfig]:
    sizes = {
        "seed": args.seed,
        "users": args.users,
        "apps": args.apps,
        "signins_per_day": args.signins_per_day,
        "directory_audits_per_day": args.directory_audits_per_day,
        "premium_license": not args.no_premium_license,
        "user_changes_hours": args.user_changes_hours,
    }
    tenants = [TenantConfig(args.tenant_id, client_id=args.client_id, **sizes)]
    tenants[0].client_secret = args.client_secret
    for spec in args.extra_tenant:
        tenant_id, _, rest = spec.partition(":")
        client_id, _, secret = rest.partition(":")
        tenants.append(
            TenantConfig(
                tenant_id,
                client_id=client_id or args.client_id,
                client_secret=secret or args.client_secret,
                **sizes,
            )
        )
    return tenants


def _write_state(path: Path, state: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(state) + "\n")
    os.replace(tmp, path)  # readers never see a half-written file


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr)
    faults = FaultConfig(
        throttle=not args.no_throttle,
        throttle_limit=args.throttle_limit,
        throttle_window_s=args.throttle_window,
        error_rate=args.fault_rate,
        late_arrival=not args.no_late_arrival,
        token_lifetime_s=args.token_lifetime,
        drop_connection_after_pages=args.drop_after_pages,
        page_fault=args.page_fault,
        page_fault_on_page=args.page_fault_on_page,
        page_fault_times=args.page_fault_times,
        retry_after_decimal=args.retry_after_decimal,
        throttle_first=args.throttle_first,
    )
    clock = SimClock()
    if args.now:
        start = datetime.fromisoformat(args.now)
        clock.set(start if start.tzinfo else start.replace(tzinfo=UTC))
    tenants = _tenants(args)
    simulator = GraphSimulator(
        tenants, faults, host=args.host, port=args.port, cert_dir=args.cert_dir, clock=clock
    )
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    with simulator:
        state: dict[str, object] = dict(simulator.credentials())
        state["tenants"] = [simulator.credentials(t.tenant_id) for t in tenants]
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
