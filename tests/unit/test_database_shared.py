"""What every database kind shares: redaction, identifiers, identity rules, object paths, time."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from access_warehouse.contract import NormalisationError
from access_warehouse.redaction import MASK, RedactionError, Redactor
from access_warehouse.resolve import config_item_chain, config_item_id
from access_warehouse.sources.database import (
    IdentityRule,
    check_identifier,
    local_time,
    object_path,
    split_qualified,
)

# --- redaction -----------------------------------------------------------------------------

SECRET = "Tr0ub4dor&3"

#: Statements that carry SECRET, in the dialects and shapes audit trails record.
CARRYING_SECRET = {
    "create_role": f"CREATE ROLE app LOGIN PASSWORD '{SECRET}' VALID UNTIL 'infinity'",
    "alter_user_encrypted": f"alter user app with encrypted password '{SECRET}';",
    "doubled_quote": f"CREATE ROLE app PASSWORD 'it''s{SECRET}'",
    "e_string_escape": f"CREATE ROLE app PASSWORD E'a\\'{SECRET}'",
    "dollar_quoted": f"ALTER ROLE app PASSWORD $pw${SECRET}$pw$",
    "multi_line": f"CREATE ROLE app\n  WITH LOGIN\n  PASSWORD\n  '{SECRET}'\n  CONNECTION LIMIT 3",
    "mysql_identified_by": f"CREATE USER 'bob'@'%' IDENTIFIED BY '{SECRET}'",
    "mysql_identified_with": f"ALTER USER bob IDENTIFIED WITH mysql_native_password BY '{SECRET}'",
    "clickhouse_second_method": (
        "CREATE USER u IDENTIFIED WITH plaintext_password BY 'first',"
        f" sha256_password BY '{SECRET}'"
    ),
    "clickhouse_salt": f"CREATE USER u IDENTIFIED WITH sha256_hash BY 'abc' SALT '{SECRET}'",
    "mssql_old_password": (
        f"ALTER LOGIN app WITH PASSWORD = N'new-one' OLD_PASSWORD = N'{SECRET}'"
    ),
    "mssql_credential_secret": (
        f"CREATE DATABASE SCOPED CREDENTIAL c WITH IDENTITY = 'u', SECRET = '{SECRET}'"
    ),
    "mssql_media_password": f"BACKUP DATABASE d TO DISK = 'x.bak' WITH MEDIAPASSWORD = '{SECRET}'",
    "mssql_named_argument": (
        f"EXEC sp_addlinkedsrvlogin @rmtsrvname = 's', @rmtpassword = '{SECRET}'"
    ),
    "mssql_positional_arguments": f"EXEC sp_addlogin 'app', '{SECRET}', 'appdb'",
    "mssql_approle": f"EXEC sys.sp_setapprole 'approle', '{SECRET}'",
    "mysql_set_password": f"SET PASSWORD FOR bob = PASSWORD('{SECRET}')",
    "mssql_n_literal": f"CREATE LOGIN sa2 WITH PASSWORD = N'{SECRET}', CHECK_POLICY = OFF",
    "conninfo": f"SELECT dblink_connect('host=db user=app password={SECRET} dbname=x')",
    "conninfo_quoted": f"SELECT dblink_connect('host=db password=''{SECRET}''')",
    "url": f"COPY t FROM PROGRAM 'curl postgresql://app:{SECRET}@db:5432/app'",
    "unterminated": f"CREATE ROLE app PASSWORD '{SECRET}",
    "upper_and_spaces": f"CREATE   USER app   PASSWORD   '{SECRET}'",
    "no_space": f"CREATE ROLE app PASSWORD'{SECRET}'",
    "user_mapping": f"CREATE USER MAPPING FOR bob SERVER s OPTIONS (password '{SECRET}')",
    "json_in_statement": f'INSERT INTO cfg VALUES (\'{{"user": "a", "password": "{SECRET}"}}\')',
    "yaml_in_statement": f"INSERT INTO cfg VALUES ('db_password: \"{SECRET}\"')",
    "oracle_unquoted": f"CREATE USER scott IDENTIFIED BY {SECRET}",
    "mysql_double_quoted": f'CREATE USER bob IDENTIFIED BY "{SECRET}"',
    "environment": f"COPY t FROM PROGRAM 'PGPASSWORD={SECRET} pg_dump -h db app'",
    "crypt_plain_text": f"UPDATE users SET password = crypt('{SECRET}', gen_salt('bf'))",
    "md5_plain_text": f"UPDATE users SET passwd = md5('{SECRET}' || 'bob')",
}


@pytest.mark.robustness("Secrets in statements: masked before landing")
@pytest.mark.parametrize("case", sorted(CARRYING_SECRET))
def test_built_in_patterns_mask_the_secret(case: str) -> None:
    redacted, count = Redactor().redact_text(CARRYING_SECRET[case])
    assert SECRET not in redacted
    assert MASK in redacted
    assert count >= 1


def test_a_masked_value_keeps_what_follows_it() -> None:
    redacted, _ = Redactor().redact_text(CARRYING_SECRET["mssql_n_literal"])
    assert redacted == f"CREATE LOGIN sa2 WITH PASSWORD = {MASK}, CHECK_POLICY = OFF"


def test_a_hashed_password_literal_is_masked_too() -> None:
    hashed = "0x0200" + SECRET.encode().hex()
    redacted, _ = Redactor().redact_text(f"CREATE LOGIN l WITH PASSWORD = {hashed} HASHED")
    assert hashed not in redacted and redacted.endswith(f"= {MASK} HASHED")


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT password_hash FROM users WHERE id = 1",
        "ALTER ROLE app PASSWORD NULL",
        "UPDATE accounts SET passwd_changed = now()",
        "SELECT 'https://example.org/a' AS link",
        'SELECT "password" FROM users WHERE id = 1',
        "ALTER USER x IDENTIFIED BY RANDOM PASSWORD",
        "SELECT md5(name) FROM customers",
        "SELECT a, b FROM t GROUP BY a, b ORDER BY 'x'",
        "SELECT salt, pepper FROM recipes WHERE salt = 'sea'",
    ],
)
def test_statements_without_secrets_are_kept_as_written(statement: str) -> None:
    assert Redactor().redact_text(statement) == (statement, 0)


def test_extra_patterns_mask_the_secret_group_or_the_whole_match() -> None:
    redactor = Redactor([r"api_key=(?P<secret>\w+)", r"\b\d{4}-\d{4}-\d{4}-\d{4}\b"])
    text, count = redactor.redact_text("call(api_key=abc123) card 1234-5678-9012-3456")
    assert text == f"call(api_key={MASK}) card {MASK}"
    assert count == 2


def test_a_bad_extra_pattern_is_refused_with_its_text() -> None:
    with pytest.raises(RedactionError, match=r"\(unclosed"):
        Redactor(["(unclosed"])


def test_every_string_of_a_record_is_redacted_in_place_and_counted() -> None:
    record = {
        "statement": CARRYING_SECRET["create_role"],
        "detail": None,
        "nested": {"query": CARRYING_SECRET["conninfo"], "n": 3},
        "list": ["plain", CARRYING_SECRET["url"]],
        "untouched": "SELECT 1",
    }
    assert Redactor().redact_record(record) == 3
    assert SECRET not in repr(record)
    assert record["untouched"] == "SELECT 1" and record["nested"]["n"] == 3


# --- identifiers ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["logged_actions", "_x", "Audit$1", "a" * 63])
def test_plain_identifiers_are_accepted(name: str) -> None:
    assert check_identifier(name) == name


@pytest.mark.robustness("Identifiers from config with quotes, spaces or SQL: refused")
@pytest.mark.parametrize(
    "name",
    ['a"b', "a b", "a;drop table x", "x'--", "1abc", "", "a" * 64, "tab\tle", "ünïcode"],
)
def test_identifiers_that_would_need_quoting_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="not a plain SQL identifier"):
        check_identifier(name)


def test_qualified_names_split_into_checked_parts() -> None:
    assert split_qualified("audit.logged_actions") == ("audit", "logged_actions")
    assert split_qualified("postgres_log") == ("postgres_log",)
    with pytest.raises(ValueError, match="at most one dot"):
        split_qualified("a.b.c")
    with pytest.raises(ValueError, match="plain SQL identifier"):
        split_qualified('audit."x"')


# --- identity rules ------------------------------------------------------------------------


def test_explicit_logins_win_over_the_template() -> None:
    rule = IdentityRule(
        template="{login}@contoso.com",
        logins={"svc_billing": "Billing-Team@Contoso.com"},
    )
    assert rule.alias_for("JDoe", "db-prod") == ("jdoe@contoso.com", "template")
    assert rule.alias_for("svc_billing", "db-prod") == (
        "billing-team@contoso.com",
        "logins.svc_billing",
    )


def test_template_applies_only_to_the_logins_it_names() -> None:
    rule = IdentityRule(template="{login}@{server}.example", template_logins=("app_*",))
    assert rule.alias_for("app_ann", "db1") == ("app_ann@db1.example", "template")
    assert rule.alias_for("postgres", "db1") == (None, None)
    assert IdentityRule().alias_for("jdoe", "db1") == (None, None)


@pytest.mark.parametrize("template", ["{user}@x", "no placeholder", "{login"])
def test_templates_with_unknown_placeholders_are_refused(template: str) -> None:
    with pytest.raises(ValueError, match="template"):
        IdentityRule(template=template)


# --- object paths and the config-item tree -------------------------------------------------


def test_a_table_gets_its_schema_database_and_server_as_ancestors() -> None:
    path = object_path("db-prod", "appdb", "billing", "invoices")
    chain = config_item_chain("table", path, "billing.invoices")
    assert [(kind, external_id) for _, kind, external_id, _, _ in chain] == [
        ("database_server", "db-prod"),
        ("database", "db-prod/appdb"),
        ("schema", "db-prod/appdb/billing"),
        ("table", "db-prod/appdb/billing/invoices"),
    ]
    assert [parent for *_, parent in chain] == [None, *[row[0] for row in chain[:-1]]]
    # the leaf is the event's own config item
    assert chain[-1][0] == config_item_id("table", path, "billing.invoices")


def test_a_slash_in_an_identifier_cannot_fake_a_level() -> None:
    path = object_path("db", "app", "we/ird", "t")
    assert path == "db/app/we%2Fird/t"
    chain = config_item_chain("table", path, None)
    assert len(chain) == 4 and chain[2][3] == "we/ird"


def test_targets_that_are_not_object_paths_have_no_ancestors() -> None:
    assert config_item_chain("application", "00000003-0000-0000-c000-000000000000", "Graph") == ()
    assert config_item_chain(None, None, None) == ()


# --- time ----------------------------------------------------------------------------------


def test_local_time_reads_zones_from_values_and_from_config() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    expected = datetime(2026, 11, 20, 9, 15, 30, 123000, tzinfo=UTC)
    assert local_time("2026-11-20 10:15:30.123 CET", UTC, "t") == expected
    assert local_time("2026-11-20 09:15:30.123 UTC", berlin, "t") == expected
    assert local_time("2026-11-20T10:15:30.123", berlin, "t") == expected
    assert local_time(datetime(2026, 11, 20, 10, 15, 30, 123000), berlin, "t") == expected
    assert local_time("2026-11-20T09:15:30.123+00:00", berlin, "t") == expected


@pytest.mark.parametrize("value", [None, "", "yesterday", "2026-11-20 10:15 Mars/Base", 42])
def test_bad_times_are_normalisation_errors(value: object) -> None:
    with pytest.raises(NormalisationError):
        local_time(value, UTC, "log_time")
