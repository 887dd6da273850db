"""include/config/populations.yaml: the shipped file, errors that name file, key and problem,
and the pure pieces of the kinds (account mapping, aliases, hashes, when a population is due)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from access_warehouse.config import ConfigError, load_sources
from access_warehouse.populations.base import Account
from access_warehouse.populations.config import (
    DEFAULT_SCHEDULE,
    load_populations,
    parse_populations,
)
from access_warehouse.populations.entra_users import EntraUsersPopulation, account_of
from access_warehouse.populations.registry import population_kinds, register_population_kind
from access_warehouse.resolve import normalise_alias
from access_warehouse.sources.database import database_event
from access_warehouse.sources.registry import RegistryError

ORIGIN = "populations.yaml"


def parse(text: str):
    return parse_populations(yaml.safe_load(text), ORIGIN, load_sources())


def error_of(text: str) -> str:
    with pytest.raises(ConfigError) as raised:
        parse(text)
    return str(raised.value)


def test_shipped_config_gives_one_population_per_directory_and_server() -> None:
    config = load_populations()

    assert config.schedule == "30 0 * * *"
    assert [p.population_id for p in config.populations] == [
        "entra:contoso",
        "database:app-db",
        "database:crm-db",
    ]
    assert [p.kind for p in config.populations] == [
        "entra_users",
        "postgres_logins",
        "mysql_logins",
    ]
    assert [p.task_id for p in config.populations] == [
        "snapshot_entra_contoso",
        "snapshot_database_app-db",
        "snapshot_database_crm-db",
    ]
    app_db = config.population("database:app-db")
    assert app_db.servers == ("app-db",)
    with pytest.raises(KeyError, match="configured: entra:contoso, database:app-db"):
        config.population("database:nope")


def test_every_registered_kind_example_validates_against_the_shipped_sources() -> None:
    for name, kind in population_kinds().items():
        config = parse_populations(
            {"populations": [{"kind": name, **kind.example}]}, ORIGIN, load_sources()
        )
        (population,) = config.populations
        assert population.kind == name and population.describe()


def test_a_login_gets_the_identifiers_its_database_events_carry() -> None:
    """Reporting matches accounts to events through these aliases: they must be what
    ``database_event`` puts in actor_external_id and actor_principal_name, normalised."""
    app_db = load_populations().population("database:app-db")
    sources = load_sources()
    for source_id in app_db.sources:
        source = next(s for s in sources.sources if getattr(s, "source_id", None) == source_id)
        event = database_event(
            source,
            source_id,
            event_id="1",
            occurred_at=datetime(2026, 11, 10, tzinfo=UTC),
            category="database",
            action="SELECT",
            outcome="success",
            login="Adele.Vance ",
            properties={},
        )
        aliases = app_db.aliases_of("Adele.Vance ")
        assert normalise_alias(event["actor_external_id"]) in aliases
        assert normalise_alias(event["actor_principal_name"]) in aliases
    assert app_db.aliases_of("Adele.Vance") == (
        "app-db/adele.vance",
        "adele.vance@contoso.onmicrosoft.com",
    )
    # the rule's template applies to first.last logins only: a service login keeps its scoped id
    assert app_db.aliases_of("svc_billing") == ("app-db/svc_billing",)
    assert app_db.aliases_of("") == ()


def test_a_missing_default_file_means_no_populations_but_a_given_path_must_exist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sources = load_sources()  # the shipped one, before the config folder moves
    monkeypatch.setattr("access_warehouse.paths.CONFIG_DIR", tmp_path)
    config = load_populations(sources=sources)
    assert config.populations == () and config.schedule == DEFAULT_SCHEDULE

    with pytest.raises(ConfigError, match=r"nowhere\.yaml: file not found"):
        load_populations(tmp_path / "nowhere.yaml", sources)
    (tmp_path / "bad.yaml").write_text("populations: [\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: not valid YAML"):
        load_populations(tmp_path / "bad.yaml", sources)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "populations:\n  - {kind: okta_users, name: okta, conn_id: okta}\n",
            "populations.0 (population 'okta', kind 'okta_users'): unknown kind 'okta_users'; "
            "known kinds: entra_users, mysql_logins, postgres_logins",
            id="unknown-kind",
        ),
        pytest.param(
            "populations:\n  - {name: x, conn_id: c}\n",
            "populations.0 (population 'x', kind None): missing 'kind'",
            id="missing-kind",
        ),
        pytest.param(
            "populations:\n  - {kind: entra_users, name: contoso, conn_id: msgraph_default,"
            " page_size: 5000}\n",
            "populations.0.page_size (population 'contoso', kind 'entra_users'): Input should be "
            "less than or equal to 999",
            id="page-size-over-graphs-limit",
        ),
        pytest.param(
            "populations:\n  - {kind: entra_users, name: contoso, conn_id: appdb_audit}\n",
            "populations.0.conn_id (population 'contoso', kind 'entra_users'): String should "
            "match pattern",
            id="entra-needs-an-msgraph-connection",
        ),
        pytest.param(
            "populations:\n  - {kind: entra_users, name: contoso, conn_id: msgraph_default,"
            " sources: ['entra:fabrikam:signins']}\n",
            "populations.0.sources (population 'contoso', kind 'entra_users'): "
            "['entra:fabrikam:signins'] not in the sources config",
            id="unknown-source-id",
        ),
        pytest.param(
            "populations:\n  - {kind: postgres_logins, name: app-db, conn_id: appdb_audit,"
            " sources: ['entra:contoso:signins']}\n",
            "populations.0 (population 'app-db', kind 'postgres_logins'): sources "
            "['entra:contoso:signins'] are no database sources",
            id="database-logins-need-database-sources",
        ),
        pytest.param(
            "populations:\n  - {kind: postgres_logins, name: app-db, conn_id: appdb_audit}\n",
            "populations.0.sources (population 'app-db', kind 'postgres_logins'): Field required",
            id="database-logins-need-their-sources",
        ),
        pytest.param(
            "populations:\n  - {kind: postgres_logins, name: app-db, conn_id: appdb_audit,"
            " sources: ['postgres_audit_trigger:appdb'], identity_from: 'entra:contoso:signins'}\n",
            "identity_from 'entra:contoso:signins' is no database source of the sources config",
            id="identity-from-a-database-source",
        ),
        pytest.param(
            "populations:\n"
            "  - {kind: postgres_logins, name: app-db, conn_id: a,\n"
            "     sources: ['generic_sql:billing_portal']}\n"
            "  - {kind: mysql_logins, name: app-db, conn_id: b,\n"
            "     sources: ['mysql_general_log:crm_general_log']}\n",
            "populations: two populations would have the id 'database:app-db'",
            id="one-id-twice",
        ),
        pytest.param(
            "populations:\n  - {kind: mysql_logins, name: crm-db, conn_id: crm_mariadb, sources:"
            " ['mysql_general_log:crm_general_log', 'mysql_general_log:crm_general_log']}\n",
            "populations.0.sources (population 'crm-db', kind 'mysql_logins'): Value error, "
            "sources listed twice: ['mysql_general_log:crm_general_log']",
            id="source-twice",
        ),
        pytest.param(
            "populations:\n  - {kind: entra_users, name: Contoso!, conn_id: msgraph_default}\n",
            "populations.0.name (population 'Contoso!', kind 'entra_users'): String should match",
            id="bad-name",
        ),
        pytest.param(
            "populations:\n  - {kind: entra_users, name: contoso, conn_id: msgraph_default,"
            " schedule: daily}\n",
            "populations.0.schedule (population 'contoso', kind 'entra_users'): Value error, not a "
            "valid cron expression: 'daily'",
            id="bad-own-schedule",
        ),
        pytest.param(
            "populations:\n  - {kind: entra_users, name: contoso, conn_id: msgraph_default,"
            " sign_in_activity: sometimes}\n",
            "populations.0.sign_in_activity (population 'contoso', kind 'entra_users'): Input "
            "should be a valid boolean",
            id="not-a-boolean",
        ),
        pytest.param(
            "populations:\n  - {kind: entra_users, name: contoso, conn_id: msgraph_default,"
            " tenant: contoso}\n",
            "populations.0.tenant (population 'contoso', kind 'entra_users'): Extra inputs are "
            "not permitted",
            id="unknown-key",
        ),
        pytest.param("schedule: every night\n", "schedule: not a valid cron expression", id="cron"),
        pytest.param(
            "populatons: []\n", "unknown top-level keys ['populatons']", id="unknown-top-level"
        ),
        pytest.param("populations: {a: 1}\n", "populations: expected a list", id="not-a-list"),
        pytest.param("- a\n", "expected a mapping at the top level", id="not-a-mapping"),
        pytest.param("populations: [7]\n", "populations.0: expected a mapping", id="not-an-entry"),
    ],
)
def test_config_errors_name_the_file_the_key_and_the_problem(text: str, expected: str) -> None:
    message = error_of(text)
    assert message.startswith(f"{ORIGIN}:")
    assert expected in message


def test_all_problems_of_a_file_are_reported_at_once() -> None:
    message = error_of(
        "populations:\n"
        "  - {kind: entra_users, name: contoso, conn_id: msgraph_default, page_size: 0}\n"
        "  - {kind: mysql_logins, name: crm-db, conn_id: crm_mariadb, sources: [], page_size: x}\n"
    )
    assert "populations.0.page_size (population 'contoso'" in message
    assert "populations.1.sources (population 'crm-db'" in message
    assert "populations.1.page_size (population 'crm-db'" in message


def test_graph_user_becomes_an_account_with_normalised_aliases() -> None:
    account = account_of(
        {
            "id": "6E2B-ID ",
            "userPrincipalName": "Adele.Vance@contoso.onmicrosoft.com",
            "mail": "adele.vance@CONTOSO.onmicrosoft.com",
            "displayName": "Adele Vance",
            "accountEnabled": False,
            "userType": "Guest",
            "createdDateTime": "2021-03-04T05:06:07Z",
            "signInActivity": {
                "lastSignInDateTime": "2026-11-10T12:00:00.1234567Z",
                "lastSignInRequestId": "r1",
                "lastNonInteractiveSignInDateTime": "0001-01-01T00:00:00Z",
                "lastSuccessfulSignInDateTime": None,
            },
            "employeeId": "E-7",
            "@odata.type": "#microsoft.graph.user",
        }
    )
    assert account.account_id == "6E2B-ID"
    assert account.aliases == ("6e2b-id", "adele.vance@contoso.onmicrosoft.com")
    assert account.user_type == "guest" and account.enabled is False
    assert account.last_sign_in_at == datetime(2026, 11, 10, 12, 0, 0, 123456, tzinfo=UTC)
    assert account.last_non_interactive_sign_in_at is None  # Graph's "never"
    assert account.last_successful_sign_in_at is None
    assert account.account_created_at == datetime(2021, 3, 4, 5, 6, 7, tzinfo=UTC)
    assert account.properties == {"employeeId": "E-7"}  # request ids and OData noise left out


def test_an_unreadable_date_is_kept_not_guessed_and_a_user_needs_an_id() -> None:
    account = account_of({"id": "u1", "createdDateTime": "yesterday"})
    assert account.account_created_at is None
    assert account.properties == {"unparsed": {"createdDateTime": "yesterday"}}
    with pytest.raises(ValueError, match="without an id"):
        account_of({"userPrincipalName": "x@y"})


def test_content_hash_ignores_sign_in_activity_but_not_what_makes_a_version() -> None:
    base = Account("u1", principal_name="a@b", enabled=True, aliases=("u1", "a@b"))
    moved = Account(
        "u1",
        principal_name="a@b",
        enabled=True,
        aliases=("a@b", "u1"),
        last_sign_in_at=datetime(2026, 11, 10, tzinfo=UTC),
        last_successful_sign_in_at=datetime(2026, 11, 10, tzinfo=UTC),
    )
    assert moved.content_hash() == base.content_hash()
    assert Account("u1", principal_name="a@b", enabled=False).content_hash() != base.content_hash()
    assert (
        Account(
            "u1", principal_name="a@b", enabled=True, aliases=("u1", "a@b"), properties={"x": 1}
        )
    ).content_hash() != base.content_hash()


def test_sign_in_activity_is_asked_within_graphs_smaller_page_limit() -> None:
    population = EntraUsersPopulation.model_validate(
        {"kind": "entra_users", "name": "contoso", "conn_id": "msgraph_default"}
    )
    assert population.request_params(True) == {
        "$select": "id,userPrincipalName,mail,displayName,accountEnabled,userType,"
        "createdDateTime,signInActivity",
        "$top": 500,
    }
    assert population.request_params(False)["$top"] == 999
    assert "signInActivity" not in population.request_params(False)["$select"]


def test_a_kind_must_declare_its_literal_and_id_prefix() -> None:
    from typing import Literal

    from access_warehouse.populations.base import PopulationConfig, PopulationKind

    class Loose(PopulationConfig):
        kind: str = "loose"
        id_prefix = "x"

    class NoPrefix(PopulationConfig):
        kind: Literal["no_prefix"]

    with pytest.raises(RegistryError, match="Literal"):
        register_population_kind(PopulationKind("loose", Loose, "", {}))
    with pytest.raises(RegistryError, match="id_prefix"):
        register_population_kind(PopulationKind("no_prefix", NoPrefix, "", {}))
    assert "loose" not in population_kinds() and "no_prefix" not in population_kinds()
