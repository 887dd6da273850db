"""The demo's database source: an application database on the embedded Postgres, audited by the
trigger-based trail (``devtools/postgres_audit_trigger.sql``), driven by a small scripted
workload of two people who also sign in to the simulated Entra tenant, a service login and
the setup login (excluded by the config), one statement carrying a password."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import psycopg
from psycopg import sql

from devtools.postgres_audit_trigger import install

DATABASE = "appdb"
READER = "audit_reader"
SERVICE_LOGIN = "svc_billing"
#: In the demo's workload: the password of a connection string an application stores. The
#: demo shows it reached no warehouse table.
WORKLOAD_SECRET = "crm-S3cret-9f2c"

_SETUP = """
CREATE SCHEMA billing;
CREATE TABLE billing.customers (id serial PRIMARY KEY, name text NOT NULL);
CREATE TABLE billing.invoices (
    id serial PRIMARY KEY, customer_id int REFERENCES billing.customers, amount numeric,
    status text DEFAULT 'open');
CREATE TABLE billing.integrations (name text PRIMARY KEY, dsn text);
-- the billing portal's own login log, in local time without a zone (read by generic_sql)
CREATE TABLE billing.portal_logins (
    id serial PRIMARY KEY, logged_at timestamp NOT NULL, username text NOT NULL,
    result text NOT NULL, client_ip text);
"""


def _admin(pgdata: Path, database: str = "postgres") -> str:
    return f"host={pgdata} dbname={database} user=postgres"


def prepare(pgdata: Path, logins: list[str]) -> bool:
    """Create ``appdb`` with the audit trail, its tables, a reading login with only the
    documented privileges, and one LOGIN role per name in ``logins`` plus the service login.
    False when it exists already: a second demo reruns the DAG on the same trail, which must
    change nothing."""
    with psycopg.connect(_admin(pgdata), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone():
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
        for login in [*logins, SERVICE_LOGIN, READER]:
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (login,)).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(login)))
    dsn = _admin(pgdata, DATABASE)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(_SETUP)  # type: ignore[arg-type]  # our own fixed script
        for login in [*logins, SERVICE_LOGIN]:
            conn.execute(
                sql.SQL(
                    "GRANT USAGE ON SCHEMA billing TO {0}; "
                    "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA billing TO {0}; "
                    "GRANT USAGE ON ALL SEQUENCES IN SCHEMA billing TO {0}"
                ).format(sql.Identifier(login))
            )
    install(
        dsn,
        payload="jsonb",  # the embedded server has no hstore
        tables=["billing.customers", "billing.invoices", "billing.integrations"],
    )
    with psycopg.connect(dsn, autocommit=True) as conn:
        # the reading login: CONNECT, USAGE on the trail's schema, SELECT on the trail
        conn.execute(
            sql.SQL(
                "GRANT CONNECT ON DATABASE {db} TO {r}; GRANT USAGE ON SCHEMA audit TO {r}; "
                "GRANT SELECT ON audit.logged_actions TO {r}; "
                "GRANT USAGE ON SCHEMA billing TO {r}; GRANT SELECT ON billing.portal_logins TO {r}"
            ).format(db=sql.Identifier(DATABASE), r=sql.Identifier(READER))
        )
    return True


def write_portal_logins(pgdata: Path, logins: list[str], day: date) -> None:
    """Portal logins on ``day`` (Berlin time, as the portal writes it): each person signs in,
    the second after one wrong password, and someone nobody knows fails twice."""
    rows = [
        (f"{day} 09:02:11", logins[0], "ok", "203.0.113.7"),
        (f"{day} 09:40:55", logins[1], "bad_password", "198.51.100.23"),
        (f"{day} 09:41:20", logins[1], "ok", "198.51.100.23"),
        (f"{day} 23:30:00", "intruder", "bad_password", "192.0.2.66"),
        (f"{day} 23:30:04", "intruder", "locked", "192.0.2.66"),
    ]
    with psycopg.connect(_admin(pgdata, DATABASE)) as conn, conn.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO billing.portal_logins (logged_at, username, result, client_ip) "
            "VALUES (%s, %s, %s, %s)",
            rows,
        )


#: The embedded server's csvlog, for the demo's postgres_csvlog source (no pgaudit in the
#: embedded build: connections and failed logins, no objects).
CSVLOG_SETTINGS = {
    "logging_collector": "on",
    "log_destination": "stderr,csvlog",
    "log_directory": "csvlog",  # pgserver's own stderr log is the file pgdata/log
    "log_filename": "postgresql-%Y%m%d-%H%M%S.log",
    "log_connections": "on",
    "log_disconnections": "on",
}


def enable_csvlog(pgdata: Path) -> bool:
    """Turn the embedded server's csvlog on (a restart, once per data folder); True when it
    was already on."""
    import os

    from pgserver._commands import pg_ctl

    with psycopg.connect(_admin(pgdata), autocommit=True) as conn:
        if conn.execute("SHOW logging_collector").fetchone()[0] == "on":
            return True
        for name, value in CSVLOG_SETTINGS.items():
            conn.execute(
                sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.Identifier(name), sql.Literal(value))
            )
    user = "pgserver" if os.geteuid() == 0 else None  # pgserver runs as its own user under root
    pg_ctl(["-w", "restart", "-m", "fast"], pgdata=pgdata, user=user)
    return False


#: The login the demo's failed connections use.
REJECTED_LOGIN = "intruder"


def failed_logins(pgdata: Path, login: str = REJECTED_LOGIN, attempts: int = 2) -> None:
    """Connections that pg_hba.conf rejects: FATAL 28000 lines in the csvlog. (A role that
    does not exist would not do on the embedded server's trust authentication: the server
    logs "connection authorized" before it looks the role up.)"""
    hba = pgdata / "pg_hba.conf"
    rule = f"local all {login} reject  # the demo's failed logins\n"
    if rule not in hba.read_text():
        hba.write_text(rule + hba.read_text())
        with psycopg.connect(_admin(pgdata), autocommit=True) as conn:
            conn.execute("SELECT pg_reload_conf()")
            conn.execute("SELECT pg_sleep(0.2)")  # the postmaster reloads asynchronously
    for _ in range(attempts):
        try:
            psycopg.connect(f"host={pgdata} dbname={DATABASE} user={login}").close()
        except psycopg.OperationalError:
            pass
        else:
            raise RuntimeError(f"role {login!r} exists; the demo's failed logins need it not to")


def load_csvlog_table(pgdata: Path) -> int:
    """COPY the server's csv files into ``appdb``'s ``postgres_log`` (the docs' layout; a row
    seen before is skipped), after asking the logger to start a new file; returns the rows
    added. The file being written may end in a line cut short: it then waits for the next
    demo."""
    from importlib.resources import files

    layout = files("devtools").joinpath("sql/postgres_log.sql").read_text()
    with psycopg.connect(_admin(pgdata, DATABASE), autocommit=True) as conn:
        conn.execute(layout)  # type: ignore[arg-type]  # our own file
        conn.execute("SELECT pg_rotate_logfile()")
        conn.execute("SELECT pg_sleep(0.5)")  # the logger switches files asynchronously
        names = [
            row[0]
            for row in conn.execute(
                "SELECT name FROM pg_ls_logdir() WHERE name LIKE '%.csv' ORDER BY name"
            ).fetchall()
        ]
        before = conn.execute("SELECT count(*) FROM public.postgres_log").fetchone()[0]
        for number, name in enumerate(names, start=1):
            try:
                with conn.transaction():
                    conn.execute(
                        "CREATE TEMP TABLE csv_file (LIKE public.postgres_log) ON COMMIT DROP"
                    )
                    conn.execute(
                        sql.SQL("COPY csv_file FROM {} WITH (FORMAT csv)").format(
                            # relative to the data folder: the server may not traverse its
                            # parents (a folder only root may enter, as under pytest)
                            sql.Literal(f"{CSVLOG_SETTINGS['log_directory']}/{name}")
                        )
                    )
                    conn.execute(
                        "INSERT INTO public.postgres_log SELECT * FROM csv_file "
                        "ON CONFLICT DO NOTHING"
                    )
            except psycopg.errors.DataError:
                if number < len(names):  # only the file being written may end mid-line
                    raise
        conn.execute(
            sql.SQL("GRANT SELECT ON public.postgres_log TO {}").format(sql.Identifier(READER))
        )
        return conn.execute("SELECT count(*) FROM public.postgres_log").fetchone()[0] - before


def trail_rows(pgdata: Path) -> int:
    with psycopg.connect(_admin(pgdata, DATABASE)) as conn:
        return conn.execute("SELECT count(*) FROM audit.logged_actions").fetchone()[0]


def run_workload(pgdata: Path, logins: list[str]) -> None:
    """The scripted statements, each in a session of its login."""
    dsn = _admin(pgdata, DATABASE)
    with psycopg.connect(dsn) as conn:  # setup data, as the setup login (excluded by config)
        conn.execute("INSERT INTO billing.customers (name) VALUES ('Fabrikam'), ('Northwind')")
    first, second = logins[0], logins[1]
    script = [
        (first, "INSERT INTO billing.invoices (customer_id, amount) VALUES (1, 120), (2, 80)"),
        (first, "UPDATE billing.invoices SET status = 'sent' WHERE customer_id = 1"),
        (second, "UPDATE billing.invoices SET amount = amount * 1.1 WHERE status = 'open'"),
        (second, "DELETE FROM billing.invoices WHERE customer_id = 2"),
        (
            SERVICE_LOGIN,
            "INSERT INTO billing.integrations VALUES "
            f"('crm', 'postgresql://crm:{WORKLOAD_SECRET}@crm-db:5432/crm')",
        ),
        (first, "UPDATE billing.customers SET name = 'Fabrikam Ltd' WHERE id = 1"),
    ]
    for login, statement in script:
        with psycopg.connect(f"host={pgdata} dbname={DATABASE} user={login}") as conn:
            conn.execute(statement)  # type: ignore[arg-type]  # the demo's fixed workload
