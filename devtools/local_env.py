"""The environment of a local Airflow: SQLite metadata under ``.data/``, the project's DAGs and
plugins, and connections given as ``AIRFLOW_CONN_*`` variables (no secrets written to disk)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from access_warehouse.paths import PROJECT_ROOT


def warehouse_connection(pgdata: Path, database: str = "warehouse") -> str:
    """The `warehouse` connection for the embedded Postgres (its Unix socket is in ``pgdata``)."""
    return json.dumps(
        {"conn_type": "postgres", "host": str(pgdata), "schema": database, "login": "postgres"}
    )


def msgraph_connection(
    host_port: str, tenant_id: str, client_id: str, client_secret: str, *, verify: bool = False
) -> str:
    """A `msgraph` connection for a Graph endpoint at ``host_port``.

    The provider uses the connection's host only when its schema is set too (else it silently
    calls the global cloud), and prefixes the schema itself: host without ``https://``.
    ``authority`` sends the token request there as well; the simulator's self-signed certificate
    needs ``verify: false``.
    """
    return json.dumps(
        {
            "conn_type": "msgraph",
            "host": host_port,
            "schema": "https",
            "login": client_id,
            "password": client_secret,
            "extra": {
                "tenant_id": tenant_id,
                "authority": host_port,
                # Kiota attaches the token only for these hosts, compared without the port.
                "allowed_hosts": host_port.rsplit(":", 1)[0],
                "verify": verify,
            },
        }
    )


def airflow_env(data_dir: Path, connections: dict[str, str]) -> dict[str, str]:
    """Variables that point Airflow at this project; merge them into ``os.environ``."""
    env = {
        "AIRFLOW_HOME": str(data_dir / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": os.environ.get(
            "AIRFLOW__LOGGING__LOGGING_LEVEL", "INFO"
        ),
        "GX_ANALYTICS_ENABLED": "false",
        "NO_PROXY": "*",  # loopback only: never send the simulator's traffic through a proxy
    }
    for conn_id, value in connections.items():
        env[f"AIRFLOW_CONN_{conn_id.upper()}"] = value
    return env
