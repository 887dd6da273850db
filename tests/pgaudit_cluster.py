"""A PostgreSQL 15 cluster of the tests' own that writes a real csvlog with pgaudit.

The system's binaries (Debian's ``postgresql-15`` with ``postgresql-15-pgaudit``; install it with
``scripts/system-deps.sh``) run as the OS user ``postgres`` when the tests run as root (a server
refuses to run as root), in a temporary folder, on a free port of 127.0.0.1. Logins over TCP
authenticate with SCRAM; the admin (``postgres``) connects through the cluster's own socket
with ``trust``. Absent binaries or pgaudit skip the tests that need it, with the reason, except
under CI (``CI=true``), where they fail: CI installs them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

PG_BIN = Path(os.environ.get("ACCESS_WAREHOUSE_PG15_BIN", "/usr/lib/postgresql/15/bin"))
PG_LIB = PG_BIN.parent / "lib"
PG_SHARE = Path("/usr/share/postgresql/15")

SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "shared_preload_libraries": "'pgaudit'",
    "logging_collector": "on",
    "log_destination": "'csvlog'",
    "log_directory": None,  # set per cluster: outside the data folder
    "log_filename": "'postgresql-%Y-%m-%d_%H%M%S.log'",
    # a reader in the postgres group reads the files (the default 0600 is the server's only)
    "log_file_mode": "0640",
    "log_rotation_age": "0",
    "log_rotation_size": "0",
    "log_connections": "on",
    "log_disconnections": "on",
    "log_timezone": "'UTC'",
    "pgaudit.log": "'all'",
    "pgaudit.log_relation": "on",
    "pgaudit.log_parameter": "off",
    # object audit: statements on what this role may access are logged as OBJECT lines too
    "pgaudit.role": "'auditor'",
    "password_encryption": "'scram-sha-256'",
}

HBA = """\
# TYPE  DATABASE  USER      ADDRESS        METHOD
local   all       postgres                 trust
host    all       all       127.0.0.1/32   scram-sha-256
"""


@dataclass(frozen=True)
class Cluster:
    """A running test cluster."""

    root: Path
    port: int
    socket_dir: Path
    log_dir: Path

    def admin_dsn(self, dbname: str = "postgres") -> str:
        return f"host={self.socket_dir} port={self.port} dbname={dbname} user=postgres"

    def login_dsn(self, user: str, password: str, dbname: str) -> str:
        return psycopg.conninfo.make_conninfo(
            host="127.0.0.1",
            port=self.port,
            dbname=dbname,
            user=user,
            password=password,
            connect_timeout=10,
        )

    def log_files(self) -> list[Path]:
        return sorted(self.log_dir.glob("*.csv"))

    def log_text(self) -> str:
        return "".join(path.read_text(errors="replace") for path in self.log_files())

    def wait_for_log(self, text: str, timeout: float = 15.0) -> None:
        """Until ``text`` is in the csvlog: the collector writes asynchronously."""
        deadline = time.monotonic() + timeout
        while text not in self.log_text():
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} did not reach the csvlog in {timeout} s")
            time.sleep(0.1)

    def rotate(self) -> Path:
        """``pg_rotate_logfile()`` and wait for the new file; returns it."""
        before = set(self.log_files())
        time.sleep(1.1)  # file names have one-second resolution: a new second, a new file
        with psycopg.connect(self.admin_dsn(), autocommit=True) as conn:
            conn.execute("SELECT pg_rotate_logfile()")
        deadline = time.monotonic() + 15
        while not (new := set(self.log_files()) - before):
            if time.monotonic() > deadline:
                raise AssertionError("pg_rotate_logfile() made no new csvlog file")
            time.sleep(0.1)
        return new.pop()


def missing_prerequisites() -> str | None:
    """Why this machine cannot run the cluster, or None."""
    for binary in ("initdb", "pg_ctl", "postgres"):
        if not (PG_BIN / binary).exists():
            return f"{PG_BIN / binary} is missing (install postgresql-15)"
    if (
        not (PG_LIB / "pgaudit.so").exists()
        or not (PG_SHARE / "extension/pgaudit.control").exists()
    ):
        return (
            "pgaudit for PostgreSQL 15 is missing (make test installs it: scripts/system-deps.sh)"
        )
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser: cannot start postgres as its own user"
    if os.geteuid() == 0:
        try:
            import pwd

            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no OS user postgres to run the server"
    return None


def _as_server_user(*args: str) -> list[str]:
    # postgres refuses to run as root; as another user the tests run it as themselves
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else list(args)


def _chown_to_server_user(path: Path) -> None:
    if os.geteuid() == 0:
        shutil.chown(path, "postgres", "postgres")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_cluster(root: Path) -> Cluster:
    """initdb, configure and start a cluster under ``root`` (which must exist)."""
    root.chmod(0o755)  # the server user traverses it
    data, sockets, logs = root / "data", root / "sock", root / "log"
    for folder in (data, sockets, logs):
        folder.mkdir(mode=0o700)
        _chown_to_server_user(folder)
    logs.chmod(0o750)
    subprocess.run(
        _as_server_user(
            str(PG_BIN / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--locale=C",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
        ),
        check=True,
        capture_output=True,
    )
    settings = {**SETTINGS, "log_directory": f"'{logs}'", "unix_socket_directories": f"'{sockets}'"}
    port = _free_port()
    settings["port"] = str(port)
    with (data / "postgresql.conf").open("a") as conf:
        conf.write("\n# access-warehouse tests\n")
        conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
    (data / "pg_hba.conf").write_text(HBA)
    _chown_to_server_user(data / "pg_hba.conf")
    result = subprocess.run(
        _as_server_user(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(sockets / "server.log"),
            "-w",
            "start",
        ),
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        server_log = (
            (sockets / "server.log").read_text() if (sockets / "server.log").exists() else ""
        )
        raise RuntimeError(f"pg_ctl start failed: {result.stderr}\n{server_log}")
    return Cluster(root=root, port=port, socket_dir=sockets, log_dir=logs)


def stop_cluster(cluster: Cluster) -> None:
    subprocess.run(
        _as_server_user(
            str(PG_BIN / "pg_ctl"), "-D", str(cluster.root / "data"), "-m", "fast", "stop"
        ),
        capture_output=True,
    )


@pytest.fixture(scope="session")
def pgaudit_cluster() -> Iterator[Cluster]:
    """A running PostgreSQL 15 + pgaudit cluster writing csvlog, for the session."""
    reason = missing_prerequisites()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI has PostgreSQL 15 with pgaudit: {reason}")
        pytest.skip(reason)
    root = Path(tempfile.mkdtemp(prefix="pgaudit-cluster-"))
    try:
        cluster = start_cluster(root)
        try:
            yield cluster
        finally:
            stop_cluster(cluster)
    finally:
        shutil.rmtree(root, ignore_errors=True)
