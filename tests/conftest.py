"""Shared fixtures: a real embedded Postgres, the real Graph simulator over HTTPS, real Airflow.

Airflow reads its configuration when first imported, so its home (a temporary SQLite metadata
DB) is set here, before any test module can import it.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

_SESSION_DIR = Path(tempfile.mkdtemp(prefix="access-warehouse-tests-"))

from devtools.local_env import airflow_env  # noqa: E402

os.environ.update(airflow_env(_SESSION_DIR, {}))
# GX Data Docs cost about a second per load: off for the suite's hundreds of loads, on in the
# tests of Data Docs themselves (tests/integration/test_data_docs.py) and in the demo
os.environ.setdefault("ACCESS_WAREHOUSE_DATA_DOCS", "off")

from toy_kind import TOY  # noqa: E402
from warehouse_asserts import new_database  # noqa: E402

from access_warehouse.sources.registry import register_kind  # noqa: E402

# A kind defined only in the tests: every registry-driven test covers it too.
register_kind(TOY)
# pgserver logs from an atexit hook, after pytest has closed the capture streams.
logging.getLogger("pgserver").setLevel(logging.WARNING)


@pytest.fixture(scope="session")
def session_dir() -> Path:
    return _SESSION_DIR


@pytest.fixture(scope="session")
def pg_server(session_dir: Path) -> Iterator[str]:
    """An embedded PostgreSQL for the session; yields the socket directory."""
    from devtools.embedded import start_embedded_warehouse, stop_embedded_warehouse

    start_embedded_warehouse(session_dir, database="template_warehouse")
    yield str(session_dir / "pg")
    stop_embedded_warehouse(session_dir)


@pytest.fixture(scope="session")
def system_pg() -> str:
    """This machine's own PostgreSQL server (127.0.0.1:5432 with trust auth, or
    ``ACCESS_WAREHOUSE_SYSTEM_PG``, a host): a production-like build (Debian's 15, with lz4).
    Absent, the tests that need it skip, except under CI, where they fail."""
    import psycopg

    host = os.environ.get("ACCESS_WAREHOUSE_SYSTEM_PG", "127.0.0.1")
    try:
        psycopg.connect(f"host={host} dbname=postgres user=postgres", connect_timeout=5).close()
    except psycopg.OperationalError as exc:
        reason = f"no PostgreSQL server at {host}:5432 ({exc})"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI has this server: {reason}")
        pytest.skip(reason)
    return host


@dataclass(frozen=True)
class MariaDBServer:
    """Where this machine's MariaDB listens, and how the tests log in as its administrator."""

    host: str
    port: int
    user: str
    password: str

    def connect(self, **kwargs: Any) -> Any:
        """A MySQLdb (mysqlclient: the MySQL provider's driver) connection, autocommit on."""
        import MySQLdb

        params: dict[str, Any] = {"host": self.host, "port": self.port, "user": self.user}
        params.update(passwd=self.password, connect_timeout=5, autocommit=True)
        if "password" in kwargs:  # another login's password, under either of the driver's names
            kwargs["passwd"] = kwargs.pop("password")
        params.update(kwargs)  # the caller's login, database... win over the administrator's
        return MySQLdb.connect(**params)


@pytest.fixture(scope="session")
def mariadb_server() -> MariaDBServer:
    """This machine's MariaDB (127.0.0.1:3306, root without a password; or
    ``ACCESS_WAREHOUSE_MARIADB`` = ``host[:port]``, ``ACCESS_WAREHOUSE_MARIADB_USER`` and
    ``_PASSWORD``). Absent, the tests that need it skip, except under CI, where they fail."""
    address = os.environ.get("ACCESS_WAREHOUSE_MARIADB", "127.0.0.1:3306")
    host, _, port = address.partition(":")
    server = MariaDBServer(
        host=host,
        port=int(port or 3306),
        user=os.environ.get("ACCESS_WAREHOUSE_MARIADB_USER", "root"),
        password=os.environ.get("ACCESS_WAREHOUSE_MARIADB_PASSWORD", ""),
    )
    try:
        server.connect().close()
    except Exception as exc:  # the driver missing, or the server down or refusing root
        reason = f"no MariaDB server at {host}:{server.port} ({exc})"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI has this server: {reason}")
        pytest.skip(reason)
    return server


@pytest.fixture(scope="session")
def migrated_template(pg_server: str) -> str:
    """A database with every migration applied, cloned for each test."""
    from access_warehouse.warehouse import apply_migrations

    apply_migrations(f"host={pg_server} dbname=template_warehouse user=postgres")
    return "template_warehouse"


@pytest.fixture
def warehouse_dsn(pg_server: str, migrated_template: str) -> Iterator[str]:
    """A fresh, fully migrated warehouse database for one test."""
    with new_database(pg_server, migrated_template) as dsn:
        yield dsn


@pytest.fixture(scope="session")
def airflow_db(session_dir: Path) -> Path:
    """Airflow's metadata DB (SQLite), migrated once for the session."""
    airflow = Path(sys.executable).with_name("airflow")
    subprocess.run([str(airflow), "db", "migrate"], check=True, capture_output=True, env=os.environ)
    return session_dir / "airflow"


# --- the robustness table (README "Robustness"), written from the results of `make test` -----

_ROBUSTNESS: dict[str, list[tuple[str, str]]] = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    marker = item.get_closest_marker("robustness")
    if marker is None or not (report.when == "call" or report.outcome != "passed"):
        return
    case = item.callspec.id if hasattr(item, "callspec") else item.name.removeprefix("test_")
    _ROBUSTNESS.setdefault(marker.args[0], []).append((case, report.outcome))


def pytest_sessionfinish(session: pytest.Session) -> None:
    target = os.environ.get("ROBUSTNESS_REPORT")
    if not target or not _ROBUSTNESS:
        return
    lines = [
        "<!-- Written by the tests (tests/conftest.py) when `make test` runs; do not edit. -->",
        "",
        "| fault or input class | cases tried | result |",
        "|---|---|---|",
    ]
    for klass in sorted(_ROBUSTNESS):
        results = _ROBUSTNESS[klass]
        failed = [case for case, outcome in results if outcome != "passed"]
        cases = ", ".join(f"`{case}`" for case, _ in results)
        verdict = f"{len(results) - len(failed)}/{len(results)} passed"
        if failed:
            verdict += " (failed: " + ", ".join(failed) + ")"
        lines.append(f"| {klass} | {cases} | {verdict} |")
    Path(target).write_text("\n".join(lines) + "\n")
