"""The auditors' role: a login that is a member of ``auditor_readonly`` reads the ``auditor``
and ``reporting`` schemas and nothing else, writes nothing anywhere (no table, view, sequence,
schema, temporary table, large object or server file), cannot become another role, and sees
no secret: neither the Airflow connections of another database on the same server nor password
hashes.

Each check runs on three warehouses migrated in place (database privileges are not copied by
``CREATE DATABASE ... TEMPLATE``, so the per-test clones cannot show them): on the embedded
PostgreSQL 16 migrated by a superuser, on the embedded 16 owned, migrated and loaded by a login
that is not a superuser (the production layout), and on this machine's PostgreSQL 15. The
auditor's session turns ``default_transaction_read_only`` off first: privileges alone must
forbid every write, each with a permission error.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from warehouse_asserts import land_pages

from access_warehouse.load import load_batch
from access_warehouse.sources.entra import EntraSource
from access_warehouse.warehouse import WAREHOUSE_SCHEMAS, apply_migrations

ROBUSTNESS = "Auditor role auditor_readonly: writes, DDL, temp tables, reads outside, secrets"
WRITE_PRIVILEGES = ("INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")
SIGNINS = EntraSource(kind="entra", name="test", tenant_id="test", conn_id="msgraph_default").feed(
    "signins"
)
FIXTURES = Path(__file__).parents[1] / "fixtures" / "entra_signins"
NOT_UPDATABLE = re.compile(
    r"(ObjectNotInPrerequisiteState|FeatureNotSupported): cannot (insert into|update|delete from)"
    r" view"
)
LANDING_SECRET = "landing-only-S3cret-5b1e"
AIRFLOW_SECRET = "airflow-conn-S3cret-77c0"

#: What an administrator runs for a person (README "For auditors"), with {login} filled in.
CREATE_AUDITOR_LOGIN = """
CREATE ROLE {login} LOGIN IN ROLE auditor_readonly;
ALTER ROLE {login} SET default_transaction_read_only = on;
ALTER ROLE {login} SET idle_in_transaction_session_timeout = '15min';
"""
#: What an administrator runs once in a warehouse whose owner is not a superuser (README).
ADMIN_REVOKES_LARGE_OBJECTS = """
REVOKE EXECUTE ON FUNCTION pg_catalog.lo_create(oid), pg_catalog.lo_creat(integer),
    pg_catalog.lo_from_bytea(oid, bytea) FROM PUBLIC;
"""


def dsn(host: str, dbname: str, user: str) -> str:
    return f"host={host} dbname={dbname} user={user}"


@dataclass(frozen=True)
class Warehouse:
    host: str
    dbname: str
    owner: str  # the login that owns, migrates and loads
    auditor: str  # a LOGIN member of auditor_readonly

    def admin(self, **kwargs) -> psycopg.Connection:
        return psycopg.connect(dsn(self.host, self.dbname, "postgres"), **kwargs)

    def as_auditor(self, **kwargs) -> psycopg.Connection:
        conn = psycopg.connect(dsn(self.host, self.dbname, self.auditor), **kwargs)
        # privileges, not the read-only default, must be what refuses each write
        conn.execute("SET default_transaction_read_only = off")
        if not conn.autocommit:
            conn.commit()
        return conn


@contextmanager
def auditor_login(host: str) -> Iterator[str]:
    """A person's login as README "For auditors" creates it, dropped afterwards."""
    login = f"aud_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(dsn(host, "postgres", "postgres"), autocommit=True) as conn:
        conn.execute(CREATE_AUDITOR_LOGIN.format(login=login))
    try:
        yield login
    finally:
        with psycopg.connect(dsn(host, "postgres", "postgres"), autocommit=True) as conn:
            conn.execute(f"DROP ROLE {login}")


def load_signins(owner_dsn: str):
    """The real load path (temporary staging tables included), as the given login."""
    records = [
        json.loads(path.read_text())
        for path in sorted(FIXTURES.glob("*.json"))
        if not path.name.endswith(".expected.json")
    ]
    summary = load_batch(owner_dsn, land_pages(owner_dsn, SIGNINS, [records]), SIGNINS)
    assert summary.extracted == summary.loaded + summary.quarantined and summary.loaded > 0
    return summary


@pytest.fixture(scope="module", params=["pg16_superuser", "pg16_owner_not_superuser", "pg15"])
def warehouse(request: pytest.FixtureRequest) -> Iterator[Warehouse]:
    variant = request.param
    if variant == "pg15":
        host = request.getfixturevalue("system_pg")
    else:
        host = request.getfixturevalue("pg_server")
        request.getfixturevalue("migrated_template")  # the server's roles exist
    admin_dsn = dsn(host, "postgres", "postgres")
    owner = "postgres"
    if variant == "pg16_owner_not_superuser":
        owner = f"wh_owner_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(f"CREATE ROLE {owner} LOGIN")
    name = f"t_aud_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" OWNER {owner}')
    try:
        if owner != "postgres":
            with psycopg.connect(dsn(host, name, "postgres"), autocommit=True) as conn:
                conn.execute(ADMIN_REVOKES_LARGE_OBJECTS)
        apply_migrations(dsn(host, name, owner))
        assert load_signins(dsn(host, name, owner)).inserted > 0
        with psycopg.connect(dsn(host, name, owner), autocommit=True) as conn:
            conn.execute(  # something only landing holds, and statistics over it
                "INSERT INTO landing.records (batch_id, page_no, record_no, payload) "
                "SELECT batch_id, 99, 0, %s FROM landing.extract_batches LIMIT 1",
                (json.dumps({"secret": LANDING_SECRET}),),
            )
            conn.execute("ANALYZE landing.records")
        with auditor_login(host) as login:
            yield Warehouse(host, name, owner, login)
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            if owner != "postgres":
                conn.execute(f"DROP ROLE {owner}")


def relations(wh: Warehouse, schemas: tuple[str, ...], kinds: str = "rvmpf") -> list[str]:
    with wh.admin() as conn:
        rows = conn.execute(
            "SELECT format('%%I.%%I', n.nspname, c.relname) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = ANY(%s) AND c.relkind = ANY(%s) AND NOT c.relispartition "
            "ORDER BY 1",
            (list(schemas), list(kinds)),
        ).fetchall()
    return [row[0] for row in rows]


def first_column(wh: Warehouse, relation: str) -> str:
    with wh.admin() as conn:
        return conn.execute(
            "SELECT quote_ident(attname) FROM pg_attribute WHERE attrelid = %s::regclass "
            "AND attnum > 0 AND NOT attisdropped ORDER BY attnum LIMIT 1",
            (relation,),
        ).fetchone()[0]


def outcome(conn: psycopg.Connection, statement: str) -> str:
    """'denied' for a permission error, else what happened; never commits anything."""
    try:
        with conn.transaction() as tx:
            conn.execute(statement)
            raise psycopg.Rollback(tx)
    except psycopg.errors.InsufficientPrivilege:
        return "denied"
    except psycopg.Error as exc:
        return f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
    return "succeeded"


def assert_denied(conn: psycopg.Connection, statements: list[str]) -> None:
    """Every statement fails with a permission error; the message lists those that did not."""
    results = {statement: outcome(conn, statement) for statement in statements}
    assert {statement: result for statement, result in results.items() if result != "denied"} == {}


# --- what it may do ---------------------------------------------------------------------------


def test_it_reads_every_auditor_view_and_reporting_table(warehouse: Warehouse) -> None:
    readable = relations(warehouse, ("auditor", "reporting"))
    assert {"auditor.access", "auditor.dormant_accounts", "reporting.daily_access"} <= set(readable)
    with warehouse.as_auditor() as conn:
        for relation in readable:
            conn.execute(f"SELECT * FROM {relation} LIMIT 1").fetchall()
            with conn.cursor().copy(f"COPY (SELECT * FROM {relation} LIMIT 1) TO STDOUT") as copy:
                list(copy)
        # through the views it reads what the load wrote, with the owner's rights on audit
        assert conn.execute("SELECT count(*) FROM auditor.access").fetchone()[0] > 0
        assert conn.execute("SELECT count(*) FROM auditor.sign_ins").fetchone()[0] > 0


def test_the_login_that_migrates_still_loads_through_temporary_tables(
    warehouse: Warehouse,
) -> None:
    with warehouse.admin() as conn:
        temp = conn.execute(
            "SELECT has_database_privilege(%s, current_database(), 'TEMPORARY'), "
            "has_database_privilege('public', current_database(), 'TEMPORARY'), "
            "has_database_privilege(%s, current_database(), 'TEMPORARY'), "
            "has_database_privilege(%s, current_database(), 'CONNECT')",
            (warehouse.owner, warehouse.auditor, warehouse.auditor),
        ).fetchone()
    assert temp == (True, False, False, True)
    rerun = load_signins(dsn(warehouse.host, warehouse.dbname, warehouse.owner))
    assert rerun.inserted == rerun.updated == 0


# --- writes -----------------------------------------------------------------------------------


@pytest.mark.robustness(ROBUSTNESS)
@pytest.mark.parametrize(
    "template",
    [
        "INSERT INTO {rel} DEFAULT VALUES",
        "UPDATE {rel} SET {col} = {col}",
        "DELETE FROM {rel}",
        "TRUNCATE {rel}",
        "SELECT * FROM {rel} FOR UPDATE",
        "SELECT * FROM {rel} FOR KEY SHARE",
        "LOCK TABLE {rel} IN SHARE MODE",
        "LOCK TABLE {rel} IN ACCESS EXCLUSIVE MODE",
        "ALTER TABLE {rel} ADD COLUMN mine integer",
        "ALTER TABLE {rel} RENAME TO mine",
        "DROP TABLE {rel}",
        "COMMENT ON TABLE {rel} IS 'mine'",
        "CREATE INDEX ON {rel} ({col})",
        "REINDEX TABLE {rel}",
    ],
)
def test_every_write_and_change_to_a_reporting_table_is_denied(
    warehouse: Warehouse, template: str
) -> None:
    tables = relations(warehouse, ("reporting",), "rp")
    assert len(tables) >= 10
    statements = [template.format(rel=t, col=first_column(warehouse, t)) for t in tables]
    with warehouse.as_auditor() as conn:
        assert_denied(conn, statements)


def test_copy_into_a_reporting_table_is_denied(warehouse: Warehouse) -> None:
    with warehouse.as_auditor() as conn:
        for table in relations(warehouse, ("reporting",), "rp"):
            with (
                pytest.raises(psycopg.errors.InsufficientPrivilege),
                conn.cursor().copy(f"COPY {table} FROM STDIN") as copy,
            ):
                copy.write("")
            conn.rollback()


@pytest.mark.robustness(ROBUSTNESS)
@pytest.mark.parametrize(
    "template",
    [
        "INSERT INTO {rel} DEFAULT VALUES",
        "UPDATE {rel} SET {col} = {col}",
        "DELETE FROM {rel}",
        "ALTER VIEW {rel} RENAME TO mine",
        "ALTER VIEW {rel} ALTER COLUMN {col} SET DEFAULT NULL",
        "DROP VIEW {rel}",
        "CREATE OR REPLACE VIEW {rel} AS SELECT 1 AS x",
        "COMMENT ON VIEW {rel} IS 'mine'",
    ],
)
def test_every_write_and_change_to_an_auditor_view_is_refused(
    warehouse: Warehouse, template: str
) -> None:
    """A view Postgres can update itself refuses with a permission error; one it cannot (joins,
    aggregates) refuses even before privileges are checked ("cannot insert into view")."""
    views = relations(warehouse, ("auditor",), "v")
    assert len(views) >= 17
    with warehouse.admin() as conn:
        # the views Postgres can insert into, or update and delete from, by itself
        updatable = {
            (kind, row[0])
            for kind, column in (("INSERT", "is_insertable_into"), ("UPDATE", "is_updatable"))
            for row in conn.execute(
                f"SELECT format('%I.%I', table_schema, table_name) FROM information_schema.views "
                f"WHERE table_schema = 'auditor' AND {column} = 'YES'"
            )
        }
    assert ("INSERT", "auditor.batches") in updatable  # both kinds are tried
    assert ("UPDATE", "auditor.sign_ins") not in updatable
    kind = {"INSERT": "INSERT", "UPDATE": "UPDATE", "DELETE": "UPDATE"}.get(template.split()[0])
    with warehouse.as_auditor() as conn:
        for view in views:
            result = outcome(conn, template.format(rel=view, col=first_column(warehouse, view)))
            if kind and (kind, view) not in updatable:
                assert NOT_UPDATABLE.match(result), (view, result)
            else:
                assert result == "denied", (view, result)


def test_the_role_holds_no_write_privilege_on_any_relation(warehouse: Warehouse) -> None:
    with warehouse.admin() as conn:
        held = conn.execute(
            "SELECT format('%%I.%%I', n.nspname, c.relname), p.privilege "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "CROSS JOIN unnest(%s::text[]) AS p (privilege) "
            "WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f') "
            "AND has_table_privilege(%s, c.oid, p.privilege) "
            # PUBLIC's UPDATE on pg_settings is SET: it changes only the session's own settings
            "AND (c.oid, p.privilege) <> ('pg_catalog.pg_settings'::regclass, 'UPDATE')",
            (list(WRITE_PRIVILEGES), warehouse.auditor),
        ).fetchall()
        sequences = conn.execute(
            "SELECT c.oid::regclass::text FROM pg_class c WHERE c.relkind = 'S' "
            "AND (has_sequence_privilege(%s, c.oid, 'USAGE') "
            "OR has_sequence_privilege(%s, c.oid, 'UPDATE'))",
            (warehouse.auditor, warehouse.auditor),
        ).fetchall()
        schemas = conn.execute(
            "SELECT nspname FROM pg_namespace WHERE has_schema_privilege(%s, oid, 'CREATE')",
            (warehouse.auditor,),
        ).fetchall()
        database = conn.execute(
            "SELECT has_database_privilege(%s, current_database(), 'CREATE'), "
            "has_database_privilege(%s, current_database(), 'TEMPORARY')",
            (warehouse.auditor, warehouse.auditor),
        ).fetchone()
        functions = conn.execute(  # anything it may run beyond the server's own catalog
            "SELECT p.oid::regprocedure::text FROM pg_proc p "
            "JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') "
            "AND has_function_privilege(%s, p.oid, 'EXECUTE')",
            (warehouse.auditor,),
        ).fetchall()
        usage = conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname = ANY(%s) "
            "AND has_schema_privilege(%s, oid, 'USAGE') ORDER BY 1",
            (list(WAREHOUSE_SCHEMAS), warehouse.auditor),
        ).fetchall()
    assert held == [] and sequences == [] and schemas == [] and functions == []
    assert database == (False, False)
    assert [row[0] for row in usage] == ["auditor", "reporting"]


@pytest.mark.robustness(ROBUSTNESS)
@pytest.mark.parametrize("schema", [*WAREHOUSE_SCHEMAS, "public", "pg_catalog"])
def test_no_ddl_in_any_schema(warehouse: Warehouse, schema: str) -> None:
    statements = [
        f"CREATE TABLE {schema}.mine (x integer)",
        f"CREATE TABLE {schema}.mine AS SELECT 1 AS x",
        f"CREATE VIEW {schema}.mine AS SELECT 1 AS x",
        f"CREATE MATERIALIZED VIEW {schema}.mine AS SELECT 1 AS x",
        f"CREATE SEQUENCE {schema}.mine",
        f"CREATE FUNCTION {schema}.mine() RETURNS integer LANGUAGE sql AS 'SELECT 1'",
        f"CREATE TYPE {schema}.mine AS (x integer)",
        f"CREATE DOMAIN {schema}.mine AS integer",
    ]
    with warehouse.as_auditor() as conn:
        assert_denied(conn, statements)


@pytest.mark.robustness(ROBUSTNESS)
def test_no_schema_database_role_or_extension(warehouse: Warehouse) -> None:
    with warehouse.admin() as conn:
        # a trusted one where the server has one (then only CREATE on the database stops it)
        extension = conn.execute(
            "SELECT name FROM pg_available_extension_versions "
            "WHERE name NOT IN (SELECT extname FROM pg_extension) "
            "ORDER BY trusted DESC, name LIMIT 1"
        ).fetchone()[0]
    with warehouse.as_auditor() as conn:
        assert_denied(
            conn,
            [
                "CREATE SCHEMA mine",
                f"CREATE EXTENSION {extension}",
                "CREATE ROLE mine",
                "ALTER ROLE auditor_readonly RESET default_transaction_read_only",
                f"ALTER ROLE {warehouse.auditor} CREATEDB",
                f"GRANT auditor_readonly TO {warehouse.owner}",
            ],
        )
    with (
        warehouse.as_auditor(autocommit=True) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        conn.execute("CREATE DATABASE mine")


@pytest.mark.robustness(ROBUSTNESS)
def test_no_temporary_tables(warehouse: Warehouse) -> None:
    with warehouse.as_auditor() as conn:
        assert_denied(
            conn,
            [
                "CREATE TEMP TABLE mine (x integer)",
                "CREATE TEMPORARY TABLE mine AS SELECT * FROM reporting.daily_access",
                "CREATE TABLE pg_temp.mine (x integer)",
                "CREATE TEMP VIEW mine AS SELECT 1 AS x",
                "CREATE TEMP SEQUENCE mine",
                "CREATE FUNCTION pg_temp.mine() RETURNS integer LANGUAGE sql AS 'SELECT 1'",
            ],
        )


@pytest.mark.robustness(ROBUSTNESS)
def test_no_large_objects_sequences_functions_or_server_files(warehouse: Warehouse) -> None:
    sequences = relations(warehouse, WAREHOUSE_SCHEMAS, "S")
    assert "audit.batches_sequence_no_seq" in sequences
    statements = [
        "SELECT lo_create(0)",
        "SELECT lo_creat(-1)",
        "SELECT lo_from_bytea(0, 'mine')",
        "SELECT lo_import('/etc/hostname')",
        *(f"SELECT nextval('{seq}')" for seq in sequences),
        *(f"SELECT setval('{seq}', 1)" for seq in sequences),
        "SELECT audit.attach_access_event_partition('2031-01-01')",
        "SELECT audit.ensure_access_event_partitions(now(), now())",
        "COPY (SELECT 1) TO '/tmp/auditor-was-here'",
        "COPY (SELECT 1) TO PROGRAM 'true'",
        "COPY reporting.builds FROM '/etc/hostname'",
        "SELECT pg_read_file('PG_VERSION')",
        "SELECT pg_ls_dir('.')",
    ]
    with warehouse.as_auditor() as conn:
        assert_denied(conn, statements)


# --- reads outside its schemas, secrets, other roles ------------------------------------------


@pytest.mark.robustness(ROBUSTNESS)
@pytest.mark.parametrize("schema", ["landing", "audit", "dq", "etl"])
def test_nothing_of_landing_audit_dq_or_etl_is_readable(warehouse: Warehouse, schema: str) -> None:
    inside = relations(warehouse, (schema,))
    assert inside
    statements = [f"SELECT * FROM {rel} LIMIT 1" for rel in inside]
    with warehouse.as_auditor() as conn:
        assert_denied(conn, statements)
        # nor through the planner's statistics: pg_stats shows only columns the role may read
        seen = conn.execute(
            "SELECT count(*) FROM pg_stats WHERE schemaname = %s", (schema,)
        ).fetchone()[0]
        assert seen == 0
    if schema == "landing":
        with warehouse.admin() as conn:  # the statistics exist: the role just cannot see them
            assert conn.execute(
                "SELECT count(*) FROM pg_stats WHERE schemaname = 'landing' "
                "AND tablename = 'records'"
            ).fetchone()[0]


@pytest.mark.robustness(ROBUSTNESS)
def test_no_password_hashes_and_no_other_sessions_statements(warehouse: Warehouse) -> None:
    holder = f"pw_{uuid.uuid4().hex[:10]}"
    with warehouse.admin(autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {holder} LOGIN PASSWORD 'pw-S3cret-a8e2'")
        try:
            admin.execute(f"SELECT '{LANDING_SECRET}' AS shown_to_no_auditor")
            with warehouse.as_auditor() as conn:
                assert_denied(
                    conn,
                    [
                        "SELECT * FROM pg_authid",
                        "SELECT rolpassword FROM pg_authid",
                        "SELECT * FROM pg_shadow",
                        "SELECT * FROM pg_statistic",
                        "SELECT * FROM pg_user_mapping",
                    ],
                )
                shown = conn.execute(
                    "SELECT rolpassword FROM pg_roles WHERE rolname = %s", (holder,)
                ).fetchone()[0]
                assert shown == "********"
                queries = conn.execute(
                    "SELECT query FROM pg_stat_activity WHERE pid = %s", (admin.info.backend_pid,)
                ).fetchone()[0]
                assert LANDING_SECRET not in (queries or "")
        finally:
            admin.execute(f"DROP ROLE {holder}")


@pytest.mark.robustness(ROBUSTNESS)
def test_it_cannot_become_another_role(warehouse: Warehouse) -> None:
    targets = {warehouse.owner, "postgres", "auditor_read", "pg_read_all_data"}
    targets |= {"pg_write_all_data", "pg_execute_server_program", "pg_read_server_files"}
    with warehouse.as_auditor() as conn:
        statements = [f"SET ROLE {target}" for target in sorted(targets)]
        statements += ["SET SESSION AUTHORIZATION postgres"]
        assert_denied(conn, statements)
        conn.execute("SET ROLE auditor_readonly")  # its own group: allowed, and no more
        assert conn.execute("SELECT current_user").fetchone()[0] == "auditor_readonly"
        conn.rollback()
    with warehouse.admin() as conn:
        role = conn.execute(
            "SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, "
            "rolcanlogin FROM pg_roles WHERE rolname = 'auditor_readonly'"
        ).fetchone()
        member_of = conn.execute(
            "SELECT roleid::regrole::text FROM pg_auth_members "
            "WHERE member = 'auditor_readonly'::regrole"
        ).fetchall()
        settings = conn.execute(
            "SELECT setconfig FROM pg_db_role_setting WHERE setdatabase = 0 "
            "AND setrole = 'auditor_readonly'::regrole"
        ).fetchone()[0]
    assert role == (False,) * 6 and member_of == []
    assert "default_transaction_read_only=on" in settings


def test_an_auditor_session_starts_read_only(warehouse: Warehouse) -> None:
    with psycopg.connect(dsn(warehouse.host, warehouse.dbname, warehouse.auditor)) as conn:
        assert conn.execute("SHOW default_transaction_read_only").fetchone()[0] == "on"
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("DELETE FROM reporting.builds")


def test_views_show_no_payload_and_no_connection_id(warehouse: Warehouse) -> None:
    with warehouse.admin() as conn:
        columns = conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'auditor' AND column_name = ANY(%s)",
            (["conn_id", "payload", "raw", "properties", "password", "secret", "extra", "asked"],),
        ).fetchall()
        used = conn.execute(
            "SELECT DISTINCT v.relname, d.refobjid::regclass::text, coalesce(a.attname, '') "
            "FROM pg_class v JOIN pg_rewrite r ON r.ev_class = v.oid "
            "JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid "
            "AND d.refclassid = 'pg_class'::regclass AND d.refobjid <> v.oid "
            "LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid "
            "WHERE v.relnamespace = 'auditor'::regnamespace"
        ).fetchall()
    assert columns == []
    # and etl.verifier_runs: what the tamper-evidence verifier found (auditor.verifier_runs)
    assert {
        relation.split(".")[0] for _, relation, _ in used if relation != "etl.verifier_runs"
    } <= {"audit", "reporting", "dq"}
    assert [row for row in used if row[2] == "conn_id"] == []
    assert ("access", "audit.access_events", "occurred_at") in used  # the check sees columns
    with warehouse.as_auditor() as conn:
        for view in relations(warehouse, ("auditor",), "v"):
            text = conn.execute(f"SELECT coalesce(string_agg(t::text, ''), '') FROM {view} t")
            assert LANDING_SECRET not in text.fetchone()[0], view


# --- another database on the same server: Airflow's metadata, connections with passwords ------


@pytest.fixture(scope="module")
def airflow_database(pg_server: str, migrated_template: str) -> Iterator[tuple[str, str, str]]:
    """An Airflow-like metadata database on the embedded server (``make airflow`` puts it
    there): its own owner, a ``connection`` table holding a password, and an auditor login."""
    owner = f"airflow_{uuid.uuid4().hex[:10]}"
    name = f"t_airflow_{uuid.uuid4().hex[:10]}"
    admin = dsn(pg_server, "postgres", "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {owner} LOGIN")
        conn.execute(f'CREATE DATABASE "{name}" OWNER {owner}')
    try:
        with psycopg.connect(dsn(pg_server, name, owner), autocommit=True) as conn:
            conn.execute(
                "CREATE TABLE connection (id serial PRIMARY KEY, conn_id varchar(250) UNIQUE, "
                "conn_type varchar(500), host varchar(500), schema varchar(500), "
                "login text, password text, port integer, extra text, "
                "is_encrypted boolean, is_extra_encrypted boolean, description text)"
            )
            conn.execute(
                "INSERT INTO connection (conn_id, conn_type, login, password, extra) "
                "VALUES ('msgraph_default', 'msgraph', 'client-id', %s, '{\"tenant_id\": \"t\"}')",
                (AIRFLOW_SECRET,),
            )
        with auditor_login(pg_server) as login:
            yield pg_server, name, login
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f"DROP ROLE {owner}")


@pytest.mark.robustness(ROBUSTNESS)
def test_airflow_connections_in_another_database_are_unreadable(
    airflow_database: tuple[str, str, str],
) -> None:
    host, name, login = airflow_database
    # PUBLIC may connect to every database by default: it gets in, and reads nothing
    with psycopg.connect(dsn(host, name, login)) as conn:
        conn.execute("SET default_transaction_read_only = off")
        conn.commit()
        assert_denied(
            conn,
            [
                "SELECT * FROM connection",
                "SELECT password FROM public.connection",
                "SELECT * FROM connection_id_seq",
                "INSERT INTO connection (conn_id) VALUES ('mine')",
                "CREATE TABLE public.mine (x integer)",
            ],
        )
    # what README "For auditors" tells the administrator: then it does not even get in
    with psycopg.connect(dsn(host, name, "postgres"), autocommit=True) as conn:
        conn.execute(
            sql.SQL("REVOKE CONNECT ON DATABASE {} FROM PUBLIC").format(sql.Identifier(name))
        )
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        psycopg.connect(dsn(host, name, login)).close()
