"""The demo's MariaDB sources: this machine's MariaDB (127.0.0.1:3306, root without a password,
or ``ACCESS_WAREHOUSE_MARIADB`` = ``host[:port]``) writes its general log to the table
``mysql.general_log`` and the ``server_audit`` plugin's log to a file while the two people who
also sign in to Entra and query the audited Postgres connect, query and fail a password; the
administrator creates a login with a password that must reach no warehouse table.

The server's logging settings are restored when the workload ends: the demo leaves no general
log or audit plugin running."""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import subprocess
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DATABASE = "demo_crm"
READER = "audit_reader"
READER_PASSWORD = "reader-pw-demo"
PEOPLE_PASSWORD = "people-pw-demo"
#: The password the administrator gives a new login in the workload: the demo shows that it
#: reached no warehouse table.
WORKLOAD_SECRET = "Report-S3cret-7d41"
REJECTED_LOGIN = "intruder"
AUDIT_FILE = "server_audit.log"

_GLOBALS = (
    "general_log",
    "log_output",
    "server_audit_logging",
    "server_audit_events",
    "server_audit_output_type",
    "server_audit_file_path",
)


@dataclass(frozen=True)
class Server:
    host: str
    port: int

    def connect(self, user: str = "root", password: str = "", **kwargs: Any) -> Any:
        import MySQLdb

        return MySQLdb.connect(
            host=self.host,
            port=self.port,
            user=user,
            passwd=password,
            connect_timeout=5,
            autocommit=True,
            **kwargs,
        )

    def connection_json(self, database: str = "mysql") -> str:
        """An Airflow ``mysql`` connection of the reading login."""
        import json

        return json.dumps(
            {
                "conn_type": "mysql",
                "host": self.host,
                "port": self.port,
                "schema": database,
                "login": READER,
                "password": READER_PASSWORD,
            }
        )


def server() -> tuple[Server | None, str]:
    """The MariaDB to use and "", or None and why not."""
    host, _, port = os.environ.get("ACCESS_WAREHOUSE_MARIADB", "127.0.0.1:3306").partition(":")
    found = Server(host, int(port or 3306))
    try:
        found.connect().close()
    except Exception as exc:  # the server absent, or not letting root in
        return None, f"no MariaDB at {host}:{found.port} ({str(exc).splitlines()[0]})"
    return found, ""


def audit_folder(data_dir: Path) -> Path:
    """A folder the server (OS user ``mysql``) may write its audit log to and the worker may
    read: under the demo's data folder when ``mysql`` can reach it, else under the server's
    own data directory."""
    folder = data_dir / "mariadb-audit"
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("mysql")
        except KeyError:
            return folder
        shutil.chown(folder, owner.pw_name, owner.pw_gid)
        reachable = subprocess.run(
            ["runuser", "-u", "mysql", "--", "test", "-w", str(folder)], check=False
        ).returncode
        if reachable != 0:
            # one folder per demo data folder: each demo reads its own workload's lines
            tag = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:12]
            folder = Path(f"/var/lib/mysql/access-warehouse-demo-{tag}")
            folder.mkdir(exist_ok=True)
            shutil.chown(folder, owner.pw_name, owner.pw_gid)
    return folder


@contextmanager
def logging_on(mariadb: Server, folder: Path) -> Any:
    """The general log to ``mysql.general_log`` and server_audit (connections, queries, table
    events) to ``folder/server_audit.log``, for the workload; the settings as found after."""
    with mariadb.connect() as conn:
        cursor = conn.cursor()
        cursor.execute("SELECT 1 FROM information_schema.plugins WHERE plugin_name='SERVER_AUDIT'")
        if not cursor.fetchone():
            cursor.execute("INSTALL SONAME 'server_audit'")
        cursor.execute("SELECT " + ", ".join(f"@@global.{name}" for name in _GLOBALS))
        before = dict(zip(_GLOBALS, cursor.fetchone(), strict=True))
        settings = {
            "log_output": "TABLE",
            "general_log": "ON",
            "server_audit_output_type": "file",
            "server_audit_file_path": str(folder / AUDIT_FILE),
            "server_audit_events": "CONNECT,QUERY,TABLE",
            "server_audit_logging": "ON",
        }
        for name, value in settings.items():
            cursor.execute(f"SET GLOBAL {name} = %s", (value,))  # names: the fixed list above
        try:
            yield
        finally:
            for name in reversed(_GLOBALS):
                value = before[name]
                value = value.decode() if isinstance(value, bytes) else value
                cursor.execute(f"SET GLOBAL {name} = %s", (value,))


def prepare(mariadb: Server, logins: list[str]) -> None:
    """The database ``demo_crm``, a login per person, the reading login with only the
    documented privileges (SELECT on mysql.general_log); what exists already is kept."""
    with mariadb.connect() as conn:
        cursor = conn.cursor()
        cursor.execute(f"CREATE DATABASE IF NOT EXISTS {DATABASE}")
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {DATABASE}.accounts (id INT AUTO_INCREMENT PRIMARY KEY,"
            " name VARCHAR(200) NOT NULL, note TEXT)"
        )
        for login in logins:
            cursor.execute(
                "CREATE USER IF NOT EXISTS %s@'%%' IDENTIFIED BY %s", (login, PEOPLE_PASSWORD)
            )
            cursor.execute(f"GRANT SELECT, INSERT, UPDATE ON {DATABASE}.* TO %s@'%%'", (login,))
        cursor.execute(
            "CREATE USER IF NOT EXISTS %s@'%%' IDENTIFIED BY %s", (READER, READER_PASSWORD)
        )
        cursor.execute("GRANT SELECT ON mysql.general_log TO %s@'%%'", (READER,))


def run_workload(mariadb: Server, logins: list[str]) -> None:
    """Each person connects and queries (commas and quotes in a value), the second after one
    wrong password; someone nobody knows fails twice; the administrator creates a report login
    with a password."""
    import MySQLdb

    first, second = logins[0], logins[1]
    for attempt in (
        (second, "wrong-password"),
        (REJECTED_LOGIN, "guess-1"),
        (REJECTED_LOGIN, "guess-2"),
    ):
        with suppress(MySQLdb.OperationalError):  # refused: what the logs must show
            mariadb.connect(*attempt).close()
    for login in (first, second):
        with mariadb.connect(login, PEOPLE_PASSWORD, database=DATABASE) as conn:
            cursor = conn.cursor()
            cursor.execute(
                "INSERT INTO accounts (name, note) VALUES (%s, %s)",
                (f"{login}'s account", "terms: net 30, \"priority\", 'gold'"),
            )
            cursor.execute("SELECT id, name FROM accounts WHERE note LIKE '%%, %%'")
            cursor.fetchall()
    with mariadb.connect() as conn:
        conn.cursor().execute(
            f"CREATE USER IF NOT EXISTS 'svc_report'@'%' IDENTIFIED BY '{WORKLOAD_SECRET}'"
        )
