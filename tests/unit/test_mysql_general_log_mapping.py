"""The pure pieces of ``mysql_general_log``: user_host, statement actions, the natural key."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from access_warehouse.config import parse_sources
from access_warehouse.contract import NormalisationError
from access_warehouse.sources.mysql_general_log import landed_value, quoted_table
from access_warehouse.sources.mysql_general_log.mapping import (
    UserHost,
    event_id,
    login_of,
    parse_user_host,
    statement_action,
    statement_class_of,
    used_database,
)


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        (
            "alice[alice] @ localhost [127.0.0.1]",
            UserHost("alice", "alice", "localhost", "127.0.0.1"),
        ),
        ("root[root] @ localhost []", UserHost("root", "root", "localhost", "")),
        # while logging in (and for a failed login) the account part is still empty
        ("[bob] @  [10.0.0.5]", UserHost("bob", "", "", "10.0.0.5")),
        # a proxy user: the account that authenticated first, the name sent in brackets
        ("dev_role[jdoe] @ h.example [::1]", UserHost("jdoe", "dev_role", "h.example", "::1")),
        ("[] @ localhost []", UserHost("", "", "localhost", "")),
        ("a[b]c[a[b]c] @  [1.2.3.4]", UserHost("a[b]c", "a[b]c", "", "1.2.3.4")),
    ],
)
def test_user_host_is_split_into_its_parts(text: str, parsed: UserHost) -> None:
    assert parse_user_host(text) == parsed


@pytest.mark.parametrize("text", ["alice@localhost", "alice[alice] @ localhost", "", None, 7])
def test_a_user_host_of_another_form_is_an_error(text: object) -> None:
    with pytest.raises(NormalisationError):
        parse_user_host(text)
    assert login_of({"user_host": text}) is None


@pytest.mark.parametrize(
    ("statement", "action"),
    [
        ("SELECT 1", "SELECT"),
        ("  /* hint */ (select 1) UNION (select 2)", "SELECT"),
        ("-- note\ninsert into t values (1)", "INSERT"),
        ("# note\nUPDATE t SET a = 1", "UPDATE"),
        ("/*!40101 SET NAMES utf8 */", "SET"),
        ("/*M!100101 SET NAMES utf8 */", "SET"),
        ("/*Main*/ DELETE FROM t", "DELETE"),
        ("CREATE USER x IDENTIFIED BY [REDACTED]", "CREATE USER"),
        ("create or replace definer=`user`@`%` view v as select 1", "CREATE VIEW"),
        ("CREATE TEMPORARY TABLE t (a int)", "CREATE TABLE"),
        ("DROP TABLE IF EXISTS t", "DROP TABLE"),
        ("ALTER TABLE t ADD INDEX i (a)", "ALTER TABLE"),
        ("RENAME USER a TO b", "RENAME USER"),
        ("set password for a = password([REDACTED])", "SET PASSWORD"),
        ("GRANT SELECT ON db.* TO a", "GRANT"),
        ("CREATE", "CREATE"),
        ("'just a literal'", None),
        ("", None),
    ],
)
def test_a_statement_is_named_by_its_first_keyword(statement: str, action: str | None) -> None:
    assert statement_action(statement) == action


def test_use_names_its_database() -> None:
    assert used_database("USE billing") == "billing"
    assert used_database("use `my ``odd`` db`;") == "my `odd` db"
    assert used_database("USE a b") is None


def test_the_key_separates_rows_of_one_thread_in_one_microsecond() -> None:
    moment = datetime(2026, 11, 20, 10, 15, 30, 706936, tzinfo=UTC)
    attempt = event_id(moment, 15, 1, "Connect", "bob@h on  using TCP/IP")
    denied = event_id(moment, 15, 1, "Connect", "Access denied for user 'bob'@'h'")
    assert attempt != denied
    assert attempt.startswith("1:15:1795169730706936:")
    assert attempt == event_id(moment, 15, 1, "Connect", "bob@h on  using TCP/IP")
    assert event_id(moment, 15, 2, "Connect", "x") != event_id(moment, 15, 1, "Connect", "x")


def test_statement_classes_are_command_types() -> None:
    assert statement_class_of({"command_type": "Init DB"}) == "INIT DB"
    assert statement_class_of({"command_type": "Query"}) == "QUERY"
    assert statement_class_of({"command_type": 3}) is None


def test_exclusions_test_the_login_and_the_command_type() -> None:
    entry = {
        "kind": "mysql_general_log",
        "name": "m",
        "conn_id": "m",
        "exclude_logins": ["access_reader"],
        "exclude_statement_classes": ["quit", "init db"],
    }
    exclude = parse_sources([entry], "test").feeds()[0].exclude
    assert exclude is not None
    row = {"user_host": "bob[bob] @  [10.0.0.5]", "command_type": "Query"}
    assert exclude(row) is None
    assert exclude({**row, "command_type": "Init DB"}) == "statement_class:INIT DB"
    reader = {"user_host": "access_reader[access_reader] @  [10.0.0.9]", "command_type": "Quit"}
    assert exclude(reader) == "login:access_reader"


def test_landed_values_are_json() -> None:
    naive = datetime(2026, 11, 20, 10, 15, 30)
    assert landed_value(naive) == "2026-11-20T10:15:30.000000+00:00"
    assert landed_value(naive, naive_local=True) == "2026-11-20T10:15:30.000000"
    assert landed_value(b"SELECT '\xff'") == "SELECT '\ufffd'"
    assert landed_value(7) == 7 and landed_value(None) is None


def test_the_table_is_quoted_after_the_check() -> None:
    assert quoted_table("mysql.general_log") == "`mysql`.`general_log`"
    assert quoted_table("general_log_copy") == "`general_log_copy`"
    with pytest.raises(ValueError):
        quoted_table("mysql.`general_log`")
