"""The embedded warehouse: a PostgreSQL server from the `pgserver` wheel, under ``.data/``."""

from __future__ import annotations

import os
from pathlib import Path

from access_warehouse.paths import PROJECT_ROOT

DEFAULT_DATA_DIR = Path(os.environ.get("ACCESS_WAREHOUSE_DATA", PROJECT_ROOT / ".data"))


def start_embedded_warehouse(data_dir: Path | None = None, *, database: str = "warehouse") -> str:
    """Start (or reuse) the embedded Postgres and return a DSN for ``database``, creating it.

    The server keeps running after this process exits (``cleanup_mode=None``) so that Airflow
    task processes, the CLI and ``psql`` all reach the same warehouse through its Unix socket.
    """
    import pgserver  # heavy: only when the embedded server is asked for

    pgdata = (data_dir or DEFAULT_DATA_DIR) / "pg"
    pgdata.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(pgdata, cleanup_mode=None)
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
    if "(1 row)" not in exists:
        server.psql(f'CREATE DATABASE "{database}";')
    return f"host={pgdata} dbname={database} user=postgres"


def stop_embedded_warehouse(data_dir: Path | None = None) -> None:
    """Stop the embedded Postgres if it runs (as pgserver's own system user when we are root)."""
    from pgserver._commands import pg_ctl  # pgserver has no public stop for a kept server

    pgdata = (data_dir or DEFAULT_DATA_DIR) / "pg"
    if (pgdata / "postmaster.pid").exists():
        user = "pgserver" if os.geteuid() == 0 else None
        pg_ctl(["-w", "stop", "-m", "fast"], pgdata=pgdata, user=user)


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m devtools.embedded", description="The embedded warehouse Postgres."
    )
    parser.add_argument("command", choices=["start", "stop"])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    args = parser.parse_args(argv)
    if args.command == "start":
        print(start_embedded_warehouse(args.data_dir))  # the DSN
    else:
        stop_embedded_warehouse(args.data_dir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
