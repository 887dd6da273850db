"""One person across Entra and a database: alias rules, the editable mapping, lineage, stubs.

Entra sign-ins (the golden fixture records) and audit-trigger rows (as the kind lands them) go
through the real shared load into a real warehouse, in both orders: whichever source loads
first, the Entra user and the database login are one ``external_user_id``.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import psycopg
import pytest
from warehouse_asserts import audit_snapshot, land_pages

from access_warehouse.config import parse_sources
from access_warehouse.load import load_batch
from access_warehouse.sources.base import Feed

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).parents[1] / "fixtures"
#: A sign-in of meganb@contoso.com (object id 48d31887-...).
SIGNIN = json.loads((FIXTURES / "entra_signins" / "beta_mfa_fido2.json").read_text())
TRAIL_ROW = json.loads((FIXTURES / "postgres_audit_trigger" / "update.json").read_text())


def _feeds(identity: dict[str, Any]) -> tuple[Feed, Feed]:
    config = parse_sources(
        [
            {
                "kind": "entra",
                "name": "contoso",
                "tenant_id": "contoso",
                "conn_id": "msgraph_default",
            },
            {
                "kind": "postgres_audit_trigger",
                "name": "billing",
                "conn_id": "billing_db",
                "server": "db-prod",
                "identity": identity,
            },
        ],
        "test",
    )
    entra = config.feed("entra:contoso:signins")
    database = config.feed("postgres_audit_trigger:billing")
    return entra, database


def _trail_rows(*logins: str) -> list[dict[str, Any]]:
    rows = []
    for number, login in enumerate(logins, start=1):
        row = copy.deepcopy(TRAIL_ROW)
        row.update(event_id=9000 + number, session_user_name=login)
        rows.append(row)
    return rows


def _load(dsn: str, feed: Feed, records: list[dict[str, Any]]) -> Any:
    return load_batch(dsn, land_pages(dsn, feed, [records]), feed)


def _people(dsn: str) -> dict[str, tuple]:
    """actor -> (external_user_id, is_stub) for every event."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT coalesce(e.actor_principal_name, e.actor_name), e.external_user_id, u.is_stub "
            "FROM audit.access_events e JOIN audit.external_users u ON u.id = e.external_user_id"
        ).fetchall()
    return {actor.lower(): (person, stub) for actor, person, stub in rows}


def _lineage(dsn: str) -> dict[str, tuple]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT identifier, matched_by, matched_alias, identity_rule "
            "FROM audit.identity_lineage"
            " WHERE source_id = 'postgres_audit_trigger:billing'"
        ).fetchall()
    return {identifier: tuple(rest) for identifier, *rest in rows}


@pytest.mark.parametrize("entra_first", [True, False], ids=["entra_first", "database_first"])
def test_an_entra_user_and_a_database_login_are_one_person(
    warehouse_dsn: str, entra_first: bool
) -> None:
    entra, database = _feeds({"template": "{login}@contoso.com"})
    loads = [(entra, [SIGNIN]), (database, _trail_rows("MeganB", "svc_backup"))]
    for feed, records in loads if entra_first else reversed(loads):
        summary = _load(warehouse_dsn, feed, records)
        assert summary.quarantined == 0

    people = _people(warehouse_dsn)
    person, stub = people["meganb@contoso.com"]
    with psycopg.connect(warehouse_dsn) as conn:
        ids = conn.execute(
            "SELECT DISTINCT external_user_id FROM audit.access_events "
            "WHERE actor_external_id IN ('48d31887-5fad-4d73-a9f5-3c356e68a038', 'db-prod/MeganB')"
        ).fetchall()
        aliases = dict(
            conn.execute(
                "SELECT alias, external_user_id FROM audit.external_user_aliases "
                "WHERE alias IN ('db-prod/meganb', 'meganb@contoso.com', "
                "'48d31887-5fad-4d73-a9f5-3c356e68a038')"
            ).fetchall()
        )
    assert ids == [(person,)], "the sign-in and the database row resolve to one person"
    assert set(aliases.values()) == {person} and len(aliases) == 3
    assert stub is False, "a person the directory knows is not a stub, whoever loaded first"
    # the template matched no person for svc_backup's alias, svc_backup@contoso.com: a stub
    assert people["svc_backup@contoso.com"][1] is True
    lineage = _lineage(warehouse_dsn)
    assert lineage["db-prod/meganb"] == (
        ("alias", "meganb@contoso.com", "template") if entra_first else ("new", None, "template")
    )


def test_the_editable_mapping_wins_and_unmatched_logins_are_counted_stubs(
    warehouse_dsn: str,
) -> None:
    entra, database = _feeds({"logins": {"reporting": "meganb@contoso.com"}})
    _load(warehouse_dsn, entra, [SIGNIN])
    people = _people(warehouse_dsn)
    megan = people["meganb@contoso.com"][0]
    with psycopg.connect(warehouse_dsn) as conn:
        conn.execute(
            "INSERT INTO audit.identity_mappings (alias, external_user_id, note) "
            "VALUES ('db-prod/etl_megan', %s, 'her ETL login')",
            (megan,),
        )
    summary = _load(warehouse_dsn, database, _trail_rows("reporting", "etl_megan", "olduser"))
    people = _people(warehouse_dsn)
    assert people["meganb@contoso.com"][0] == megan  # logins.reporting gave her alias
    assert people["etl_megan"] == (megan, False)  # the mapping, though no rule names it
    assert people["olduser"][1] is True
    lineage = _lineage(warehouse_dsn)
    assert lineage["db-prod/reporting"] == ("alias", "meganb@contoso.com", "logins.reporting")
    assert lineage["db-prod/etl_megan"] == ("identity_mapping", "db-prod/etl_megan", None)
    assert lineage["db-prod/olduser"] == ("new", None, None)
    with psycopg.connect(warehouse_dsn) as conn:
        details = conn.execute(
            "SELECT details FROM audit.batches WHERE batch_id = %s", (summary.batch_id,)
        ).fetchone()[0]
        stubs = conn.execute(
            "SELECT display_name, identifiers, sources, successful_accesses FROM auditor.stub_users"
        ).fetchall()
    assert summary.new_users == 1 and details["new_stub_users"] == 1
    assert stubs == [("olduser", ["db-prod/olduser"], ["postgres_audit_trigger:billing"], 1)]


def test_database_targets_form_a_tree_and_reruns_change_nothing(warehouse_dsn: str) -> None:
    _, database = _feeds({"template": "{login}@contoso.com"})
    rows = _trail_rows("meganb")
    batch = land_pages(warehouse_dsn, database, [rows])
    load_batch(warehouse_dsn, batch, database)
    before = audit_snapshot(warehouse_dsn)
    load_batch(warehouse_dsn, land_pages(warehouse_dsn, database, [rows]), database)
    assert audit_snapshot(warehouse_dsn) == before
    with psycopg.connect(warehouse_dsn) as conn:
        tree = conn.execute(
            "WITH RECURSIVE up AS (SELECT c.* FROM audit.config_items c "
            "JOIN audit.access_events e ON e.config_id = c.id "
            "UNION ALL SELECT p.* FROM audit.config_items p JOIN up ON p.id = up.parent_id) "
            "SELECT type, external_id, name FROM up"
        ).fetchall()
        lineage_rows = conn.execute("SELECT count(*) FROM audit.identity_lineage").fetchone()[0]
        access = conn.execute(
            "SELECT server, database_name, schema_name, object_name, login FROM "
            "auditor.database_access"
        ).fetchall()
    assert tree == [
        ("table", "db-prod/app/billing/invoices", "billing.invoices"),
        ("schema", "db-prod/app/billing", "billing"),
        ("database", "db-prod/app", "app"),
        ("database_server", "db-prod", "db-prod"),
    ]
    assert lineage_rows == 1
    assert access == [("db-prod", "app", "billing", "billing.invoices", "meganb")]


def test_one_batch_with_an_id_and_a_name_only_copy_of_an_actor_makes_one_person(
    warehouse_dsn: str,
) -> None:
    """A sign-in with the user's object id and UPN, and one with the UPN only, in one batch:
    one person, and the rerun moves nothing."""
    entra, _ = _feeds({})
    name_only = copy.deepcopy(SIGNIN)
    name_only.update(id="0a4f7d2e-9c1b-4e3a-8f6d-5b2c1a9e7399", userId=None)
    records = [name_only, SIGNIN]  # the name-only one first: order must not matter
    _load(warehouse_dsn, entra, records)
    with psycopg.connect(warehouse_dsn) as conn:
        people = conn.execute(
            "SELECT count(DISTINCT external_user_id), count(*) FROM audit.access_events"
        ).fetchone()
    assert people == (1, 2)
    before = audit_snapshot(warehouse_dsn)
    _load(warehouse_dsn, entra, records)
    assert audit_snapshot(warehouse_dsn) == before


GENERAL_LOG_ROWS = [
    json.loads((FIXTURES / "mysql_general_log" / f"{case}.json").read_text())
    for case in ("connect_tcp_with_database", "query_select_commas_and_quotes", "quit")
]


def _general_log_rows(login: str) -> list[dict[str, Any]]:
    """The fixture session (connect, a SELECT, quit) as ``login`` on the MariaDB server."""
    rows = copy.deepcopy(GENERAL_LOG_ROWS)
    for row in rows:
        row["user_host"] = row["user_host"].replace("alice", login)
        row["argument"] = row["argument"].replace("alice@", f"{login}@")
    return rows


@pytest.mark.parametrize("order", ["entra_postgres_mariadb", "mariadb_postgres_entra"])
def test_one_person_signs_in_to_entra_and_queries_postgres_and_mariadb(
    warehouse_dsn: str, order: str
) -> None:
    """The MariaDB login ``meganb`` maps through its source's identity rule to Megan's UPN: her
    Entra sign-in, her Postgres rows and her MariaDB session are one ``external_user_id``."""
    config = parse_sources(
        [
            {
                "kind": "entra",
                "name": "contoso",
                "tenant_id": "contoso",
                "conn_id": "msgraph_default",
            },
            {
                "kind": "postgres_audit_trigger",
                "name": "billing",
                "conn_id": "billing_db",
                "server": "db-prod",
                "identity": {"template": "{login}@contoso.com"},
            },
            {
                "kind": "mysql_general_log",
                "name": "mariadb_prod",
                "conn_id": "mariadb_prod",
                "server": "mariadb-prod",
                "identity": {"template": "{login}@contoso.com"},
            },
        ],
        "test",
    )
    loads = [
        (config.feed("entra:contoso:signins"), [SIGNIN]),
        (config.feed("postgres_audit_trigger:billing"), _trail_rows("MeganB")),
        (config.feed("mysql_general_log:mariadb_prod"), _general_log_rows("meganb")),
    ]
    for feed, records in loads if order.startswith("entra") else reversed(loads):
        summary = _load(warehouse_dsn, feed, records)
        assert (summary.quarantined, summary.loaded) == (0, len(records))

    with psycopg.connect(warehouse_dsn) as conn:
        by_source = conn.execute(
            "SELECT source_id, count(*), array_agg(DISTINCT external_user_id)"
            " FROM audit.access_events GROUP BY source_id ORDER BY source_id"
        ).fetchall()
        person = conn.execute(
            "SELECT id, is_stub FROM audit.external_users u WHERE EXISTS ("
            " SELECT 1 FROM audit.external_user_aliases a WHERE a.external_user_id = u.id"
            " AND a.alias = 'meganb@contoso.com')"
        ).fetchall()
        aliases = dict(
            conn.execute(
                "SELECT alias, external_user_id FROM audit.external_user_aliases WHERE alias IN"
                " ('48d31887-5fad-4d73-a9f5-3c356e68a038', 'meganb@contoso.com',"
                " 'db-prod/meganb', 'mariadb-prod/meganb')"
            ).fetchall()
        )
        lineage = conn.execute(
            "SELECT identifier, matched_by, matched_alias, identity_rule FROM"
            " audit.identity_lineage WHERE source_id = 'mysql_general_log:mariadb_prod'"
        ).fetchall()
        users = conn.execute("SELECT count(*) FROM audit.external_users").fetchone()[0]
    assert len(person) == 1
    megan, stub = person[0]
    assert stub is False, "the directory knows her, whichever source loaded first"
    assert [(source, count) for source, count, _ in by_source] == [
        ("entra:contoso:signins", 1),
        ("mysql_general_log:mariadb_prod", 3),
        ("postgres_audit_trigger:billing", 1),
    ]
    assert all(ids == [megan] for _, _, ids in by_source), "one person in all three sources"
    assert aliases == dict.fromkeys(aliases, megan) and len(aliases) == 4
    assert users == 1
    if order.startswith("entra"):
        assert lineage == [("mariadb-prod/meganb", "alias", "meganb@contoso.com", "template")]
    else:
        assert lineage == [("mariadb-prod/meganb", "new", None, "template")]
