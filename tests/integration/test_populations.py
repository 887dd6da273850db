"""Population snapshots against real sources: Entra over HTTPS (the Graph simulator, with and
without the licence for signInActivity), PostgreSQL roles and MariaDB accounts created here,
into a real warehouse; history over several snapshots with a moved simulator clock; a failed
read recorded as failed and changing no account row."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from dag_runs import use_graph

from access_warehouse import cli
from access_warehouse.config import load_sources
from access_warehouse.normalise import parse_utc
from access_warehouse.populations.config import parse_populations
from access_warehouse.populations.snapshot import snapshot_population
from access_warehouse.sources.database import SourceUnavailable
from access_warehouse.warehouse import tables_containing
from devtools.graph_simulator.server import FaultConfig, GraphSimulator, SimClock
from devtools.graph_simulator.tenant import TenantConfig
from devtools.local_env import msgraph_connection

CONTOSO = TenantConfig(tenant_id="contoso", signins_per_day=800)
#: No Entra ID P1/P2: Graph refuses signInActivity with 403
FABRIKAM = TenantConfig(
    tenant_id="fabrikam", signins_per_day=200, client_id="fab-client", premium_license=False
)
#: The directory as the history test walks it (checked by the test, not assumed): user 192 is
#: absent at START (deleted in the hours before), listed at +6 h; 196 is deleted at +6 h and
#: back at +12 h; 198 gone at +18 h; accounts are disabled and enabled in between.
START = datetime(2026, 11, 10, 6, tzinfo=UTC)
USER_FIELDS = [
    "id",
    "userPrincipalName",
    "mail",
    "displayName",
    "accountEnabled",
    "userType",
    "createdDateTime",
    "signInActivity",
]
POPULATIONS = """
populations:
  - kind: entra_users
    name: contoso
    conn_id: msgraph_default
    sources: ["entra:contoso:signins", "entra:contoso:directory_audits"]
    page_size: 50
    max_attempts: 2
  - kind: entra_users
    name: fabrikam
    conn_id: msgraph_fabrikam
  - kind: postgres_logins
    name: app-db
    conn_id: appdb_audit
    sources: [postgres_audit_trigger:appdb, postgres_csvlog:app_db_log, generic_sql:billing_portal]
    identity_from: postgres_audit_trigger:appdb
  - kind: mysql_logins
    name: crm-db
    conn_id: crm_mariadb
    sources: [mysql_general_log:crm_general_log, mariadb_server_audit:crm_server_audit]
"""


def population(population_id: str) -> Any:
    config = parse_populations(yaml.safe_load(POPULATIONS), "test", load_sources())
    return config.population(population_id)


@pytest.fixture
def graph(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[GraphSimulator]:
    with GraphSimulator(
        [CONTOSO, FABRIKAM],
        FaultConfig(throttle=False),
        cert_dir=tmp_path / "cert",
        clock=SimClock(START, frozen=True),
    ) as simulator:
        use_graph(monkeypatch, simulator, "contoso")
        use_graph(monkeypatch, simulator, "fabrikam", conn_id="msgraph_fabrikam")
        yield simulator


def rows(dsn: str, query: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    with psycopg.connect(dsn, options="-c TimeZone=UTC") as conn:
        cursor = conn.execute(query, params)
        names = [column.name for column in cursor.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def current(dsn: str, population_id: str) -> dict[str, dict[str, Any]]:
    """The current version of every account the population ever had, by account id."""
    return {
        row["account_id"]: row
        for row in rows(
            dsn,
            "SELECT * FROM audit.population_accounts WHERE population_id = %(p)s"
            " AND valid_to IS NULL",
            {"p": population_id},
        )
    }


def versions(dsn: str, population_id: str) -> list[dict[str, Any]]:
    return rows(
        dsn,
        "SELECT * FROM audit.population_accounts WHERE population_id = %(p)s"
        " ORDER BY account_id, valid_from",
        {"p": population_id},
    )


def snapshots(dsn: str, population_id: str) -> list[dict[str, Any]]:
    return rows(
        dsn,
        "SELECT * FROM audit.population_snapshots WHERE population_id = %(p)s ORDER BY taken_at",
        {"p": population_id},
    )


def moment(value: str | None) -> datetime | None:
    return None if value is None else parse_utc(value, "test")


def directory(graph: GraphSimulator, tenant: str, at: datetime) -> dict[str, dict[str, Any]]:
    """What the simulator's /users lists at ``at`` (as the snapshot's pages see it)."""
    records = graph.tenant(tenant).users(at, select=USER_FIELDS, visible_at=at)
    return {record["id"]: record for record in records}


# --- Entra ------------------------------------------------------------------------------


def test_entra_directory_over_https_every_page_with_sign_in_activity(
    graph: GraphSimulator, warehouse_dsn: str
) -> None:
    expected = directory(graph, "contoso", START)

    summary = snapshot_population(
        warehouse_dsn, population("entra:contoso"), dag_id="test", run_id="r1"
    )

    assert summary.accounts == len(expected) == 199  # one user deleted in the last hours
    assert summary.pages == 4 and graph.stats["user_pages"] == 4  # $top=50 over 199 users
    assert (summary.added, summary.changed, summary.removed) == (199, 0, 0)
    assert summary.sign_in_activity_available is True
    stored = current(warehouse_dsn, "entra:contoso")
    assert set(stored) == set(expected)
    for account_id, user in expected.items():
        row, activity = stored[account_id], user["signInActivity"]
        assert row["principal_name"] == user["userPrincipalName"]
        assert row["mail"] == user["mail"] and row["display_name"] == user["displayName"]
        assert row["enabled"] is user["accountEnabled"]
        assert row["user_type"] == user["userType"].lower()
        assert row["account_created_at"] == moment(user["createdDateTime"])
        assert row["last_sign_in_at"] == moment(activity["lastSignInDateTime"])
        assert row["last_non_interactive_sign_in_at"] == moment(
            activity["lastNonInteractiveSignInDateTime"]
        )
        assert row["last_successful_sign_in_at"] == moment(activity["lastSuccessfulSignInDateTime"])
        wanted = {user["id"], user["userPrincipalName"].lower()}
        wanted |= {user["mail"].lower()} if user["mail"] else set()
        assert set(row["aliases"]) == wanted
        assert row["deleted"] is False and row["first_snapshot_id"] == uuid.UUID(
            summary.snapshot_id
        )
    kinds = {row["user_type"] for row in stored.values()}
    assert kinds == {"member", "guest"}
    never = [row for row in stored.values() if row["last_sign_in_at"] is None]
    assert never and all(row["last_successful_sign_in_at"] is None for row in never)
    assert any(row["enabled"] is False for row in stored.values())
    (snapshot,) = snapshots(warehouse_dsn, "entra:contoso")
    assert snapshot["status"] == "complete" and snapshot["error"] is None
    assert (snapshot["accounts"], snapshot["added"], snapshot["dag_id"]) == (199, 199, "test")
    assert "signInActivity" in snapshot["asked"]["request"]
    assert snapshot["asked"]["params"]["$top"] == 50
    said = snapshot["source_said"]
    assert said["sign_in_activity_available"] is True
    assert (said["pages"], said["records"], said["paging_ended"]) == (4, 199, True)
    (registered,) = rows(warehouse_dsn, "SELECT * FROM audit.populations")
    assert registered["source_ids"] == ["entra:contoso:signins", "entra:contoso:directory_audits"]
    assert (registered["kind"], registered["conn_id"]) == ("entra_users", "msgraph_default")


def test_a_tenant_without_the_licence_is_read_without_sign_in_activity(
    graph: GraphSimulator, warehouse_dsn: str
) -> None:
    expected = graph.tenant("fabrikam").users(START, select=["id", "accountEnabled"])

    summary = snapshot_population(warehouse_dsn, population("entra:fabrikam"))

    assert summary.sign_in_activity_available is False
    assert summary.accounts == len(expected) > 190
    stored = current(warehouse_dsn, "entra:fabrikam")
    assert set(stored) == {user["id"] for user in expected}
    assert all(row["last_sign_in_at"] is None for row in stored.values())
    assert all(row["last_successful_sign_in_at"] is None for row in stored.values())
    (snapshot,) = snapshots(warehouse_dsn, "entra:fabrikam")
    said, asked = snapshot["source_said"], snapshot["asked"]
    assert snapshot["status"] == "complete"
    assert said["sign_in_activity_available"] is False
    assert "Authentication_RequestFromNonPremiumTenantOrB2CTenant" in said["sign_in_activity"]
    assert "premium license" in said["sign_in_activity"]
    assert "signInActivity" in asked["refused_request"]
    assert "signInActivity" not in asked["request"]
    assert asked["params"]["$top"] == 999


def test_history_over_snapshots_adds_changes_removes_and_restores(
    graph: GraphSimulator, warehouse_dsn: str
) -> None:
    contoso = population("entra:contoso")
    user_index = {user.id: i for i, user in enumerate(graph.tenant("contoso")._users)}
    ids = {i: account_id for account_id, i in user_index.items()}
    moments = [START + timedelta(hours=6 * step) for step in range(4)]
    seen: dict[str, dict[str, Any]] = {}
    previous: dict[str, dict[str, Any]] = {}
    summaries = []
    for at in moments:
        graph.clock = SimClock(at, frozen=True)
        listed = directory(graph, "contoso", at)
        summary = snapshot_population(warehouse_dsn, contoso)
        summaries.append(summary)
        new = set(listed) - set(seen)
        restored = (set(listed) - set(previous)) - new
        removed = set(previous) - set(listed)
        changed = {
            account_id
            for account_id in set(listed) & set(previous)
            if listed[account_id]["accountEnabled"] != previous[account_id]["accountEnabled"]
        }
        assert (summary.added, summary.restored, summary.changed, summary.removed) == (
            len(new) + len(restored),
            len(restored),
            len(changed),
            len(removed),
        ), at
        state = current(warehouse_dsn, "entra:contoso")
        assert {a for a, row in state.items() if not row["deleted"]} == set(listed)
        assert {a for a, row in state.items() if row["deleted"]} == set(seen) - set(listed)
        for account_id, user in listed.items():  # sign-in activity as the directory says now
            assert state[account_id]["last_sign_in_at"] == moment(
                user["signInActivity"]["lastSignInDateTime"]
            )
            assert state[account_id]["enabled"] is user["accountEnabled"]
        seen.update(listed)
        previous = listed
    # the walk covered every kind of change (the simulator's directory, checked not assumed)
    assert ids[192] not in directory(graph, "contoso", moments[0])
    assert [s.added - s.restored for s in summaries[1:]] == [1, 0, 0]  # 192, new at +6 h
    assert [s.removed for s in summaries[1:]] == [1, 0, 1]  # 196, then 198
    assert [s.restored for s in summaries[1:]] == [0, 1, 0]  # 196 back at +12 h
    assert all(s.changed > 0 for s in summaries[1:])

    history: dict[str, list[dict[str, Any]]] = {}
    for row in versions(warehouse_dsn, "entra:contoso"):
        history.setdefault(row["account_id"], []).append(row)
    taken = [s.taken_at for s in summaries]
    for chain in history.values():  # versions follow each other without gap or overlap
        assert [v["valid_to"] for v in chain[:-1]] == [v["valid_from"] for v in chain[1:]]
        assert chain[-1]["valid_to"] is None
        assert all(v["valid_from"] in taken for v in chain)
    assert [(v["deleted"], v["valid_from"]) for v in history[ids[196]]] == [
        (False, taken[0]),
        (True, taken[1]),
        (False, taken[2]),
    ]
    gone = history[ids[196]][1]  # the deleted version records what the account was
    assert gone["principal_name"] == history[ids[196]][0]["principal_name"]
    assert gone["content_hash"] == history[ids[196]][0]["content_hash"]
    assert [v["valid_from"] for v in history[ids[192]]] == [taken[1]]
    assert [v["deleted"] for v in history[ids[198]]] == [False, True]
    assert history[ids[198]][1]["last_snapshot_id"] == uuid.UUID(summaries[3].snapshot_id)
    # an account that never changed keeps one version, seen by every snapshot, its sign-in
    # activity refreshed in place
    steady = [
        chain
        for chain in history.values()
        if len(chain) == 1
        and chain[0]["first_snapshot_id"] == uuid.UUID(summaries[0].snapshot_id)
        and chain[0]["last_snapshot_id"] == uuid.UUID(summaries[3].snapshot_id)
    ]
    assert len(steady) > 150
    assert sum(s.sign_in_activity_moved for s in summaries[1:]) > 100
    # an account disabled between two snapshots: the old version ends, the new one says so
    flipped = next(chain for chain in history.values() if len({v["enabled"] for v in chain}) > 1)
    assert flipped[0]["content_hash"] != flipped[1]["content_hash"]

    # the same directory again: nothing new, no version added
    before = versions(warehouse_dsn, "entra:contoso")
    again = snapshot_population(warehouse_dsn, contoso)
    assert (again.added, again.changed, again.removed) == (0, 0, 0)
    assert again.unchanged == len(previous)
    after = versions(warehouse_dsn, "entra:contoso")
    assert [(v["account_id"], v["valid_from"]) for v in after] == [
        (v["account_id"], v["valid_from"]) for v in before
    ]
    assert len(snapshots(warehouse_dsn, "entra:contoso")) == 5


def _account_rows(dsn: str, population_id: str) -> list[tuple]:
    return [tuple(row.values()) for row in versions(dsn, population_id)]


@pytest.mark.robustness("Population read failing")
@pytest.mark.parametrize("failure", ["connection_dropped_after_a_page", "port_closed"])
def test_a_failed_read_is_recorded_and_changes_no_account(
    graph: GraphSimulator, warehouse_dsn: str, monkeypatch: pytest.MonkeyPatch, failure: str
) -> None:
    contoso = population("entra:contoso")
    snapshot_population(warehouse_dsn, contoso)
    before = _account_rows(warehouse_dsn, "entra:contoso")
    # later, with changes the failed read must not write half of
    graph.clock = SimClock(START + timedelta(hours=6), frozen=True)
    if failure == "port_closed":
        creds = graph.credentials("contoso")
        monkeypatch.setenv(  # nothing listens on port 9: the token request cannot connect
            "AIRFLOW_CONN_MSGRAPH_DEFAULT",
            msgraph_connection(
                "127.0.0.1:9", "contoso", creds["client_id"], creds["client_secret"]
            ),
        )
    else:
        graph.faults.drop_connection_after_pages = 1
        graph.reset_stats()

    with pytest.raises(Exception) as raised:
        snapshot_population(warehouse_dsn, contoso, dag_id="test", run_id="r2")

    assert _account_rows(warehouse_dsn, "entra:contoso") == before
    ok, failed = snapshots(warehouse_dsn, "entra:contoso")
    assert (ok["status"], failed["status"]) == ("complete", "failed")
    assert (failed["accounts"], failed["added"], failed["removed"]) == (None, None, None)
    assert failed["error"].startswith(type(raised.value).__name__)
    assert (failed["dag_id"], failed["run_id"]) == ("test", "r2")
    if failure == "port_closed":
        assert "127.0.0.1:9" in failed["error"]
    else:  # the driver's error has no message: its class says what happened
        assert failed["error"] == "ReadError: Failed to receive data from the network."
        assert graph.stats["dropped"] >= 1
        assert failed["source_said"]["pages"] == 1  # what it read before the connection died
        assert failed["source_said"]["paging_ended"] is False


# --- PostgreSQL roles ---------------------------------------------------------------------


@pytest.fixture
def pg_roles(pg_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """Roles on the embedded server (cluster-wide: unique names, dropped afterwards) and the
    ``appdb_audit`` connection of a login with no privilege at all."""
    tag = uuid.uuid4().hex[:6]
    names = {
        "person": f"pop.adele{tag}",
        "group": f"pop_readers_{tag}",
        "expired": f"pop_expired_{tag}",
        "admin": f"pop_admin_{tag}",
        "reader": f"pop_reader_{tag}",
    }
    admin = f"host={pg_server} dbname=postgres user=postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{names["person"]}" LOGIN')
        conn.execute(f'CREATE ROLE "{names["group"]}" NOLOGIN')
        conn.execute(f"CREATE ROLE \"{names['expired']}\" LOGIN VALID UNTIL '2001-01-01'")
        conn.execute(f'CREATE ROLE "{names["admin"]}" LOGIN SUPERUSER CREATEROLE')
        conn.execute(f'CREATE ROLE "{names["reader"]}" LOGIN')
        conn.execute(f'GRANT "{names["group"]}" TO "{names["person"]}"')
    monkeypatch.setenv(
        "AIRFLOW_CONN_APPDB_AUDIT",
        json.dumps(
            {
                "conn_type": "postgres",
                "host": pg_server,
                "schema": "postgres",
                "login": names["reader"],
            }
        ),
    )
    try:
        yield names
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            for name in names.values():
                conn.execute(f'DROP ROLE IF EXISTS "{name}"')


def test_postgres_roles_live_with_their_history(
    pg_roles: dict[str, str], pg_server: str, warehouse_dsn: str
) -> None:
    app_db = population("database:app-db")

    first = snapshot_population(warehouse_dsn, app_db)

    stored = current(warehouse_dsn, "database:app-db")
    assert not [name for name in stored if name.startswith("pg_")]
    assert "postgres" in stored and first.sign_in_activity_available is None
    person, group = stored[pg_roles["person"]], stored[pg_roles["group"]]
    expired, admin = stored[pg_roles["expired"]], stored[pg_roles["admin"]]
    assert (person["user_type"], person["enabled"]) == ("login", True)
    assert (group["user_type"], group["enabled"]) == ("role", False)
    assert (expired["user_type"], expired["enabled"]) == ("login", False)  # VALID UNTIL passed
    assert expired["properties"]["valid_until"] == "2001-01-01T00:00:00Z"
    assert admin["properties"]["superuser"] is True and admin["properties"]["create_role"] is True
    assert person["properties"]["superuser"] is False
    assert person["properties"]["member_of"] == [pg_roles["group"]]
    # the login's identifiers are those its events carry (server-scoped id, the rule's alias)
    assert person["aliases"] == [
        f"app-db/{pg_roles['person']}",
        f"{pg_roles['person']}@contoso.onmicrosoft.com",
    ]
    assert admin["aliases"] == [f"app-db/{pg_roles['admin']}"]  # no first.last: no template
    (snapshot,) = snapshots(warehouse_dsn, "database:app-db")
    assert "pg_roles" in snapshot["asked"]["query"]
    assert snapshot["source_said"]["server_version"] >= 150000

    admin_dsn = f"host={pg_server} dbname=postgres user=postgres"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'ALTER ROLE "{pg_roles["person"]}" NOLOGIN')
        conn.execute(f'DROP ROLE "{pg_roles["expired"]}"')
    second = snapshot_population(warehouse_dsn, app_db)

    assert (second.added, second.changed, second.removed) == (0, 1, 1)
    stored = current(warehouse_dsn, "database:app-db")
    assert stored[pg_roles["person"]]["enabled"] is False
    assert stored[pg_roles["person"]]["user_type"] == "role"
    assert stored[pg_roles["expired"]]["deleted"] is True
    chain = [
        v
        for v in versions(warehouse_dsn, "database:app-db")
        if v["account_id"] == pg_roles["person"]
    ]
    assert [v["enabled"] for v in chain] == [True, False]


def test_two_snapshots_at_once_take_turns(pg_roles: dict[str, str], warehouse_dsn: str) -> None:
    """A retry beside a late run: the second waits for the first and finds nothing new."""
    from concurrent.futures import ThreadPoolExecutor

    app_db = population("database:app-db")
    with ThreadPoolExecutor(2) as pool:
        done = list(pool.map(lambda _: snapshot_population(warehouse_dsn, app_db), range(2)))

    first, second = sorted(done, key=lambda summary: summary.taken_at)
    assert first.taken_at < second.taken_at
    assert (first.added, second.added, second.changed, second.removed) == (first.accounts, 0, 0, 0)
    assert len(versions(warehouse_dsn, "database:app-db")) == first.accounts
    assert [s["status"] for s in snapshots(warehouse_dsn, "database:app-db")] == ["complete"] * 2


def test_cli_snapshots_one_population_and_refuses_an_unknown_one(
    pg_roles: dict[str, str], warehouse_dsn: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    config = tmp_path / "populations.yaml"
    config.write_text(POPULATIONS)
    argv = ["snapshot-populations", "--dsn", warehouse_dsn, "--config", str(config)]

    assert cli.main([*argv, "--population", "database:app-db"]) == 0
    printed = json.loads(capsys.readouterr().out.strip())
    assert printed["population_id"] == "database:app-db" and printed["accounts"] >= 5
    assert [s["status"] for s in snapshots(warehouse_dsn, "database:app-db")] == ["complete"]

    assert cli.main([*argv, "--population", "database:nope"]) == 2
    assert "no population 'database:nope'" in capsys.readouterr().err


# --- MariaDB accounts -----------------------------------------------------------------------


@pytest.fixture
def mariadb_accounts(
    mariadb_server: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    """Accounts created on this machine's MariaDB for the test (unique names: other tests use
    the server too), the ``crm_mariadb`` connection of a reader with exactly the documented
    privileges, and the password hash that must reach no warehouse table."""
    tag = uuid.uuid4().hex[:6]
    names = {
        "person": f"pop.tester{tag}",
        "locked": f"pop_locked_{tag}",
        "role": f"pop_role_{tag}",
        "reader": f"pop_reader_{tag}",
    }
    secret = f"Pop-S3cret-{tag}"
    admin = mariadb_server.connect()
    cursor = admin.cursor()
    statements = [
        f"CREATE USER '{names['person']}'@'%' IDENTIFIED BY '{secret}'",
        f"CREATE USER '{names['locked']}'@'localhost' IDENTIFIED BY 'x-{tag}' ACCOUNT LOCK",
        f"CREATE ROLE '{names['role']}'",
        f"CREATE USER '{names['reader']}'@'%' IDENTIFIED BY 'reader-{tag}'",
        f"GRANT SELECT ON mysql.user TO '{names['reader']}'@'%'",
        f"GRANT SELECT ON mysql.global_priv TO '{names['reader']}'@'%'",
    ]
    try:
        for statement in statements:
            cursor.execute(statement)
        cursor.execute(
            "SELECT authentication_string FROM mysql.user WHERE User = %s", (names["person"],)
        )
        (password_hash,) = cursor.fetchone()
        monkeypatch.setenv(
            "AIRFLOW_CONN_CRM_MARIADB",
            json.dumps(
                {
                    "conn_type": "mysql",
                    "host": mariadb_server.host,
                    "port": mariadb_server.port,
                    "schema": "mysql",
                    "login": names["reader"],
                    "password": f"reader-{tag}",
                }
            ),
        )
        yield {**names, "hash": password_hash}
    finally:
        for name, host in (
            (names["person"], "%"),
            (names["locked"], "localhost"),
            (names["reader"], "%"),
        ):
            cursor.execute(f"DROP USER IF EXISTS '{name}'@'{host}'")
        cursor.execute(f"DROP ROLE IF EXISTS '{names['role']}'")
        admin.close()


def test_mariadb_accounts_live_without_password_hashes(
    mariadb_accounts: dict[str, str], mariadb_server: Any, warehouse_dsn: str
) -> None:
    crm = population("database:crm-db")

    snapshot_population(warehouse_dsn, crm)

    stored = current(warehouse_dsn, "database:crm-db")
    person = stored[f"{mariadb_accounts['person']}@%"]
    locked = stored[f"{mariadb_accounts['locked']}@localhost"]
    role = stored[f"{mariadb_accounts['role']}@"]
    assert (person["user_type"], person["enabled"], person["principal_name"]) == (
        "login",
        True,
        mariadb_accounts["person"],
    )
    assert person["properties"]["account_locked"] is False
    assert person["properties"]["host"] == "%"
    assert (locked["enabled"], locked["properties"]["account_locked"]) == (False, True)
    assert (role["user_type"], role["enabled"]) == ("role", False)
    assert stored["root@localhost"]["properties"]["super_priv"] is True
    assert person["aliases"] == [
        f"crm-db/{mariadb_accounts['person']}",
        f"{mariadb_accounts['person']}@contoso.onmicrosoft.com",
    ]
    (snapshot,) = snapshots(warehouse_dsn, "database:crm-db")
    assert "MariaDB" in snapshot["source_said"]["server_version"]
    assert "global_priv" in snapshot["asked"]["query"]
    # the reader could see the hash; the warehouse must not hold it anywhere
    assert (
        mariadb_accounts["hash"]
        and tables_containing(warehouse_dsn, mariadb_accounts["hash"]) == []
    )

    admin = mariadb_server.connect()
    admin.cursor().execute(f"DROP USER '{mariadb_accounts['locked']}'@'localhost'")
    admin.cursor().execute(f"ALTER USER '{mariadb_accounts['person']}'@'%' ACCOUNT LOCK")
    admin.close()
    snapshot_population(warehouse_dsn, crm)

    stored = current(warehouse_dsn, "database:crm-db")
    assert stored[f"{mariadb_accounts['locked']}@localhost"]["deleted"] is True
    assert stored[f"{mariadb_accounts['person']}@%"]["enabled"] is False
    chain = [
        v
        for v in versions(warehouse_dsn, "database:crm-db")
        if v["account_id"] == f"{mariadb_accounts['person']}@%"
    ]
    assert [v["enabled"] for v in chain] == [True, False]


def test_a_database_that_is_down_fails_its_snapshot_naming_the_connection(
    warehouse_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_CRM_MARIADB",
        json.dumps({"conn_type": "mysql", "host": "127.0.0.1", "port": 9, "login": "nobody"}),
    )

    with pytest.raises(SourceUnavailable, match="connection 'crm_mariadb'"):
        snapshot_population(warehouse_dsn, population("database:crm-db"))

    (failed,) = snapshots(warehouse_dsn, "database:crm-db")
    assert failed["status"] == "failed" and "127.0.0.1:9" in failed["error"]
    assert versions(warehouse_dsn, "database:crm-db") == []


def test_the_demo_step_snapshots_the_shipped_populations(
    pg_roles: dict[str, str], warehouse_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import re

    from devtools.demo_populations import populations_step

    monkeypatch.delenv("AIRFLOW_CONN_CRM_MARIADB", raising=False)  # a demo without MariaDB
    monkeypatch.setenv("AIRFLOW_CONN_MSGRAPH_DEFAULT", "{}")  # the step's own, then put back

    lines = populations_step(warehouse_dsn, tmp_path, signins_per_day=200)

    statuses = {
        row["population_id"]: row["status"]
        for row in rows(
            warehouse_dsn, "SELECT population_id, status FROM audit.population_snapshots"
        )
    }
    assert statuses == {"entra:contoso": "complete", "database:app-db": "complete"}
    (counts,) = rows(
        warehouse_dsn,
        "SELECT count(*) AS accounts, count(*) FILTER (WHERE user_type = 'guest') AS guests,"
        " count(*) FILTER (WHERE NOT enabled) AS disabled,"
        " count(*) FILTER (WHERE last_sign_in_at IS NULL AND last_successful_sign_in_at IS NULL"
        " AND last_non_interactive_sign_in_at IS NULL) AS never"
        " FROM audit.population_accounts WHERE population_id = 'entra:contoso'",
    )
    entra = next(line for line in lines if "entra:contoso" in line)
    assert re.search(
        rf"{counts['accounts']} accounts, {counts['guests']} guests, {counts['disabled']} "
        rf"disabled, {counts['never']} never signed in \(signInActivity\)",
        entra,
    ), entra
    assert counts["guests"] > 0 and counts["never"] > 0 and counts["disabled"] > 0
    app_db = next(line for line in lines if "database:app-db" in line)
    assert re.search(r"\d+ accounts, \d+ logins, \d+ roles, \d+ disabled", app_db), app_db
    crm = next(line for line in lines if "database:crm-db" in line)
    assert "skipped: connection 'crm_mariadb' is not defined" in crm
    assert os.environ["AIRFLOW_CONN_MSGRAPH_DEFAULT"] == "{}"  # put back as found
