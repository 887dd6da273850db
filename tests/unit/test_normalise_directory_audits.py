"""Unit tests for access_warehouse.sources.entra.directory_audits (directoryAudit -> events)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from functools import partial

import pytest
from normalise_asserts import (
    assert_contract_shape,
    assert_input_untouched,
    assert_rejected_in_order,
    assert_source_id_required,
    fixture_paths,
    load_fixture,
    split,
    valid_fixtures,
)

from access_warehouse.contract import NORMALISED_COLUMNS, NormalisationError, content_hash
from access_warehouse.resolve import config_item_id
from access_warehouse.sources.entra.directory_audits import normalise_directory_audit
from access_warehouse.sources.entra.signins import normalise_signin

SOURCE = "entra-contoso-audits"
VALID_FIXTURES = valid_fixtures("entra_directory_audits")
load = partial(load_fixture, "entra_directory_audits")

ADELE_ID = "87d349ed-44d7-43e1-9a83-5f2406dee5bd"
MEGAN_ID = "2a4c6e8f-1b3d-4f5a-8c7e-9d0b1a2c3e4f"
PAYROLL_APP_ID = "0f2b5c7e-9a41-4d3b-8e6f-1c2d3e4f5a6b"  # appId (client id)
PAYROLL_OBJECT_ID = "7c1e4a2b-9d3f-4b6e-8a0c-1f2e3d4c5b6a"  # application object id
AGENT_APP_ID = "5f4e3d2c-1b0a-4f9e-8d7c-6b5a4f3e2d1c"
AGENT_SP_ID = "4e5f6a7b-8c9d-4e0f-a1b2-c3d4e5f6a7b8"
#: Columns a directory audit never fills.
ALWAYS_NULL = ("mfa", "country", "city", "user_agent", "client_app", "auth_method", "error_code")


def events_of(name: str, **changes) -> list[dict]:
    record = load(name)
    record.update(changes)
    return normalise_directory_audit(record, SOURCE)


def one_event(name: str, **changes) -> dict:
    events = events_of(name, **changes)
    assert len(events) == 1
    return events[0]


def modified(event: dict) -> dict:
    """The decoded modifiedProperties of an event's target, by name."""
    return {p["displayName"]: p for p in event["properties"]["target"]["modifiedProperties"]}


# --- every record -------------------------------------------------------------------------


def test_fixtures_present():
    assert len(VALID_FIXTURES) >= 12
    invalid = fixture_paths("entra_directory_audits")
    assert {p.stem for p in invalid if p.stem.startswith("invalid")} == {
        "invalid_missing_id",
        "invalid_bad_activity_datetime",
    }


@pytest.mark.parametrize("name", VALID_FIXTURES)
def test_events_have_exactly_the_contract_columns(name):
    record = load(name)
    events = normalise_directory_audit(record, SOURCE)
    targets = record["targetResources"]
    assert len(events) == max(1, len(targets))
    assert [e["event_id"] for e in events] == [f"{record['id']}:{n}" for n in range(len(events))]
    assert len({e["event_id"] for e in events}) == len(events)
    for index, event in enumerate(events):
        assert_contract_shape(event, ("id", "activityDateTime", "targetResources"))
        assert event["source_id"] == SOURCE
        assert event["category"] == "iam"
        for column in ALWAYS_NULL:
            assert event[column] is None, column
        props = event["properties"]
        assert props["target_count"] == len(targets)
        assert props["target_index"] == index
        assert props["initiatedBy"] == record["initiatedBy"]
        assert props["additionalDetails"] == record["additionalDetails"]


@pytest.mark.parametrize("name", VALID_FIXTURES)
def test_input_record_is_not_modified(name):
    assert_input_untouched(normalise_directory_audit, load(name), SOURCE)


def test_event_ids_are_unique_across_fixtures():
    events, rejected = split(normalise_directory_audit, [load(n) for n in VALID_FIXTURES], SOURCE)
    assert rejected == []
    assert len({e["event_id"] for e in events}) == len(events)


# --- user-initiated, several targets -----------------------------------------------------


def test_user_adds_member_to_role_gives_one_event_per_target():
    record = load("user_add_member_to_role")
    member, role = normalise_directory_audit(record, SOURCE)

    for event in (member, role):
        assert event["occurred_at"] == datetime(2026, 11, 20, 9, 41, 7, 514328, tzinfo=UTC)
        assert (event["category"], event["action"], event["outcome"]) == (
            "iam",
            "Add member to role",
            "success",
        )
        assert event["actor_type"] == "user"
        assert event["actor_external_id"] == ADELE_ID
        assert event["actor_name"] == "Adele Vance"
        assert event["actor_principal_name"] == "AdeleV@contoso.com"
        assert event["source_ip"] == "131.107.159.37"
        assert event["failure_reason"] is None
        assert event["error_code"] is None
        assert event["mfa"] is None

    assert member["event_id"] == "Directory_3f1c9a2e-7b4d-4e8a-9c1f-2d6b8e0a4c71_QX7KD_41377821:0"
    assert member["target_type"] == "user"
    assert member["target_external_id"] == MEGAN_ID
    assert member["target_name"] == "MeganB@contoso.com"  # no displayName: the UPN
    assert role["event_id"] == "Directory_3f1c9a2e-7b4d-4e8a-9c1f-2d6b8e0a4c71_QX7KD_41377821:1"
    assert role["target_type"] == "directory_role"
    assert role["target_external_id"] == "5d6a1b2c-3e4f-4a5b-8c6d-7e8f9a0b1c2d"
    assert role["target_name"] == "Global Administrator"

    props = member["properties"]
    assert props["category"] == "RoleManagement"
    assert props["operationType"] == "Assign"
    assert props["loggedByService"] == "Core Directory"
    assert props["correlationId"] == "3f1c9a2e-7b4d-4e8a-9c1f-2d6b8e0a4c71"
    assert props["result"] == "success"
    assert props["resultReason"] == ""
    assert "activityDisplayName" not in props  # it is the action, exactly
    assert (props["target_index"], props["target_count"]) == (0, 2)
    assert role["properties"]["target_index"] == 1
    assert props["target"]["userPrincipalName"] == "MeganB@contoso.com"
    assert modified(member)["Role.DisplayName"] == {
        "displayName": "Role.DisplayName",
        "oldValue": None,
        "newValue": "Global Administrator",
    }
    assert modified(member)["Role.TemplateId"]["newValue"] == "62e90394-69f5-4237-9190-012177145e10"
    assert role["properties"]["target"] == record["targetResources"][1]
    assert content_hash(member) != content_hash(role)


def test_pim_activation_with_four_targets():
    events = events_of("pim_role_activation_several_targets")
    assert [e["event_id"] for e in events] == [
        f"PIM_1e2f3a4b-5c6d-4e7f-8a9b-0c1d2e3f4a5b_TNHBK_42:{n}" for n in range(4)
    ]
    assert [e["target_type"] for e in events] == ["directory_role", "request", "user", "other"]
    assert [e["target_name"] for e in events] == [
        "Global Reader",
        "RoleAssignmentScheduleRequest",
        "Diego Siciliani",
        "Directory",
    ]
    assert events[0]["target_external_id"] == "f2ef992c-3afb-46b9-b7cf-a126ee74c451"
    assert events[3]["target_external_id"] == "6c3b2a1e-4f5d-4c8b-9a7e-1d2f3e4a5b6c"
    assert {e["action"] for e in events} == {"Add member to role completed (PIM activation)"}
    assert {e["actor_principal_name"] for e in events} == {"DiegoS@contoso.com"}
    assert {e["properties"]["target_count"] for e in events} == {4}
    # A justification in resultReason on a success is not a failure reason, but it is kept.
    assert {e["failure_reason"] for e in events} == {None}
    assert events[0]["properties"]["resultReason"] == "Break-glass drill INC-20411"
    assert events[0]["properties"]["loggedByService"] == "PIM"
    assert len({content_hash(e) for e in events}) == 4


# --- applications resolve to their appId ----------------------------------------------------


def test_application_credential_change_resolves_to_the_app_id():
    event = one_event("app_credentials_secret_added")
    assert event["target_type"] == "application"
    assert event["target_external_id"] == PAYROLL_APP_ID
    assert event["target_name"] == "payroll-sync"
    # The object id and the Graph type stay in properties.
    assert event["properties"]["target"]["id"] == PAYROLL_OBJECT_ID
    assert event["properties"]["target"]["type"] == "Application"
    # Graph's trailing space is not part of the action; the raw name is kept.
    assert event["action"] == "Update application – Certificates and secrets management"
    assert (
        event["properties"]["activityDisplayName"]
        == "Update application – Certificates and secrets management "
    )
    assert event["actor_type"] == "user"
    assert event["actor_name"] is None
    assert event["actor_principal_name"] == "AdeleV@contoso.com"


def test_application_credential_change_and_sign_in_share_one_config_item():
    audit = one_event("app_credentials_secret_added")
    signin_record = load_fixture("entra_signins", "v1_interactive")
    signin_record.update(appId=PAYROLL_APP_ID, appDisplayName="payroll-sync")
    signin = normalise_signin(signin_record, "entra-contoso-signins")
    assert (signin["target_type"], signin["target_external_id"]) == (
        "application",
        PAYROLL_APP_ID,
    )
    audit_item = config_item_id(
        audit["target_type"], audit["target_external_id"], audit["target_name"]
    )
    assert audit_item is not None
    assert audit_item == config_item_id(
        signin["target_type"], signin["target_external_id"], signin["target_name"]
    )
    assert audit_item != config_item_id("application", PAYROLL_OBJECT_ID, "payroll-sync")


def test_key_description_is_decoded():
    props = modified(one_event("app_credentials_secret_added"))
    assert props["KeyDescription"]["oldValue"] == [
        "[KeyIdentifier=1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d,KeyType=Password,"
        "KeyUsage=Verify,DisplayName=nightly-2025]"
    ]
    assert len(props["KeyDescription"]["newValue"]) == 2
    assert props["KeyDescription"]["newValue"][1].endswith("DisplayName=nightly-2026]")
    assert props["Included Updated Properties"]["newValue"] == "KeyDescription"
    assert props["Included Updated Properties"]["oldValue"] is None


def test_app_id_in_modified_properties_wins_over_additional_details():
    record = load("app_credentials_secret_added")
    record["targetResources"][0]["modifiedProperties"].append(
        {
            "displayName": "AppId",
            "oldValue": None,
            "newValue": '"aaaaaaaa-1111-4222-8333-bbbbbbbbbbbb"',
        }
    )
    (event,) = normalise_directory_audit(record, SOURCE)
    assert event["target_external_id"] == "aaaaaaaa-1111-4222-8333-bbbbbbbbbbbb"
    assert event["target_type"] == "application"


def test_application_without_app_id_keeps_the_object_id():
    record = load("app_credentials_secret_added")
    record["additionalDetails"] = [d for d in record["additionalDetails"] if d["key"] != "AppId"]
    (event,) = normalise_directory_audit(record, SOURCE)
    assert event["target_type"] == "application"
    assert event["target_external_id"] == PAYROLL_OBJECT_ID


def test_additional_details_app_id_case_insensitive_and_json_encoded():
    record = load("app_credentials_secret_added")
    record["additionalDetails"] = [{"Key": "APPID", "Value": f'"{PAYROLL_APP_ID}"'}]
    (event,) = normalise_directory_audit(record, SOURCE)
    assert event["target_external_id"] == PAYROLL_APP_ID


def test_record_level_app_id_is_not_used_with_several_application_targets():
    record = load("app_credentials_secret_added")
    other = copy.deepcopy(record["targetResources"][0])
    other.update(id="99999999-8888-4777-8666-555555555555", displayName="payroll-sync-dev")
    record["targetResources"].append(other)
    events = normalise_directory_audit(record, SOURCE)
    assert [(e["target_type"], e["target_external_id"]) for e in events] == [
        ("application", PAYROLL_OBJECT_ID),
        ("application", "99999999-8888-4777-8666-555555555555"),
    ]
    # ... but a non-application second target does not prevent it.
    record["targetResources"][1]["type"] = "User"
    events = normalise_directory_audit(record, SOURCE)
    assert (events[0]["target_type"], events[0]["target_external_id"]) == (
        "application",
        PAYROLL_APP_ID,
    )
    assert (events[1]["target_type"], events[1]["target_external_id"]) == (
        "user",
        "99999999-8888-4777-8666-555555555555",
    )


def test_consent_service_principal_resolves_through_target_id_spns():
    event = one_event("sp_consent_to_application")
    assert event["action"] == "Consent to application"
    assert event["target_type"] == "application"
    assert event["target_external_id"] == AGENT_APP_ID
    assert event["target_name"] == "Expense Approval Agent"
    target = event["properties"]["target"]
    assert (target["id"], target["type"]) == (AGENT_SP_ID, "ServicePrincipal")
    props = modified(event)
    assert props["TargetId.ServicePrincipalNames"]["newValue"] == (
        f"{AGENT_APP_ID};https://expenses.contoso.com/agent"
    )
    # One level of decoding: texts stay texts, "False" is not turned into a boolean.
    assert props["ConsentContext.IsAdminConsent"]["newValue"] == "False"
    assert props["ConsentAction.Permissions"]["newValue"].startswith("[] => [[Id: ")


def test_service_principal_without_app_id_keeps_type_and_object_id():
    record = load("sp_consent_to_application")
    mods = record["targetResources"][0]["modifiedProperties"]
    mods[:] = [m for m in mods if m["displayName"] != "TargetId.ServicePrincipalNames"]
    (event,) = normalise_directory_audit(record, SOURCE)
    assert (event["target_type"], event["target_external_id"]) == (
        "service_principal",
        AGENT_SP_ID,
    )


@pytest.mark.parametrize(
    ("name", "old", "new", "expected"),
    [
        ("TargetId.ServicePrincipalNames", None, '"https://expenses.contoso.com/agent"', None),
        (
            "ServicePrincipalNames",
            None,
            f'["https://x.contoso.com", "{AGENT_APP_ID}"]',
            AGENT_APP_ID,
        ),
        ("AppPrincipalId", None, f'["{AGENT_APP_ID}"]', AGENT_APP_ID),
        ("appid", f'"{AGENT_APP_ID}"', None, AGENT_APP_ID),  # deletion: oldValue only
        ("AppId", None, '"not-a-guid"', None),
        ("AppAddress", None, f'"{AGENT_APP_ID}"', None),  # not an appId property
    ],
)
def test_app_id_sources_and_guid_rule(name, old, new, expected):
    record = load("sp_consent_to_application")
    record["targetResources"][0]["modifiedProperties"] = [
        {"displayName": name, "oldValue": old, "newValue": new}
    ]
    (event,) = normalise_directory_audit(record, SOURCE)
    if expected is None:
        assert (event["target_type"], event["target_external_id"]) == (
            "service_principal",
            AGENT_SP_ID,
        )
    else:
        assert (event["target_type"], event["target_external_id"]) == ("application", expected)


def test_app_id_rule_does_not_touch_other_target_types():
    record = load("user_add_member_to_role")
    record["targetResources"][0]["modifiedProperties"].append(
        {"displayName": "AppId", "oldValue": None, "newValue": f'"{AGENT_APP_ID}"'}
    )
    member = normalise_directory_audit(record, SOURCE)[0]
    assert (member["target_type"], member["target_external_id"]) == ("user", MEGAN_ID)


# --- actors ----------------------------------------------------------------------------------


def test_app_initiated_with_null_app_id():
    event = one_event("app_initiated_null_appid")
    assert event["actor_type"] == "service_principal"
    assert event["actor_external_id"] == "98ce2ef1-6a4d-4b2e-8c3f-1d5e7a9b0c2d"
    assert event["actor_name"] == "Microsoft Substrate Management"
    assert event["actor_principal_name"] is None
    assert event["source_ip"] is None
    assert event["occurred_at"] == datetime(2026, 11, 20, 3, 12, 44, 900000, tzinfo=UTC)
    assert (event["target_type"], event["target_external_id"]) == ("user", MEGAN_ID)
    props = modified(event)
    assert props["StsRefreshTokensValidFrom"]["oldValue"] == ["2026-09-02T11:04:10Z"]
    assert props["StsRefreshTokensValidFrom"]["newValue"] == ["2026-11-20T03:12:44Z"]
    assert props["TargetId.UserType"]["newValue"] == "Member"


def test_app_actor_fallbacks():
    app = {
        "appId": "c0ffee00-1234-4abc-8def-0123456789ab",
        "displayName": "",
        "servicePrincipalId": None,
        "servicePrincipalName": "backup-runner",
    }
    event = one_event("app_initiated_null_appid", initiatedBy={"user": None, "app": app})
    assert event["actor_type"] == "service_principal"
    assert event["actor_external_id"] == "c0ffee00-1234-4abc-8def-0123456789ab"
    assert event["actor_name"] == "backup-runner"


def test_managed_identity_only_when_the_record_says_so():
    app = {
        "appId": None,
        "displayName": "func-invoice-export",
        "servicePrincipalId": "3c2b1a09-8f7e-4d6c-b5a4-93827160f5e4",
        "servicePrincipalName": None,
        "servicePrincipalType": "ManagedIdentity",
    }
    event = one_event("app_initiated_null_appid", initiatedBy={"user": None, "app": app})
    assert event["actor_type"] == "managed_identity"
    assert event["actor_external_id"] == "3c2b1a09-8f7e-4d6c-b5a4-93827160f5e4"
    del app["servicePrincipalType"]
    app["displayName"] = "managed identity for func-invoice-export"  # a name is not proof
    event = one_event("app_initiated_null_appid", initiatedBy={"user": None, "app": app})
    assert event["actor_type"] == "service_principal"


def test_user_wins_when_both_user_and_app_are_filled():
    record = load("user_add_member_to_role")
    record["initiatedBy"]["app"] = {
        "appId": "c44b4083-3bb0-49c1-b47d-974e53cbdf3c",
        "displayName": "Azure Portal",
        "servicePrincipalId": None,
        "servicePrincipalName": None,
    }
    event = normalise_directory_audit(record, SOURCE)[0]
    assert (event["actor_type"], event["actor_external_id"]) == ("user", ADELE_ID)


@pytest.mark.parametrize("name", ["empty_initiated_by_nulls", "empty_initiated_by_object"])
def test_empty_initiator_is_a_known_unknown_actor(name):
    event = one_event(name)
    assert event["actor_type"] == "unknown"
    assert event["actor_external_id"] is None
    assert event["actor_name"] is None
    assert event["actor_principal_name"] is None
    assert event["source_ip"] is None
    assert event["outcome"] == "success"


@pytest.mark.parametrize(
    "initiated_by",
    [
        None,
        "",
        [],
        {},
        {"user": {}, "app": {}},
        {"user": {"id": "", "displayName": None, "userPrincipalName": "  "}, "app": None},
        {"user": None, "app": {"appId": None, "displayName": "", "servicePrincipalId": None}},
    ],
)
def test_initiator_without_identity_is_unknown(initiated_by):
    event = one_event("user_add_member_to_role", initiatedBy=initiated_by, targetResources=[])
    assert event["actor_type"] == "unknown"
    assert (event["actor_external_id"], event["actor_name"], event["actor_principal_name"]) == (
        None,
        None,
        None,
    )
    record = load("user_add_member_to_role")
    del record["initiatedBy"]
    assert normalise_directory_audit(record, SOURCE)[0]["actor_type"] == "unknown"


def test_empty_initiator_object_record_device_target_and_offset():
    event = one_event("empty_initiated_by_object")
    assert event["occurred_at"] == datetime(2026, 11, 20, 10, 30, 2, 250000, tzinfo=UTC)
    assert event["target_type"] == "device"
    assert event["target_name"] == "LAPTOP-7QK2M"
    assert event["properties"]["initiatedBy"] == {}
    assert event["properties"]["loggedByService"] == "Device Registration Service"


# --- key spelling ------------------------------------------------------------------------


def test_keys_spelled_with_another_case():
    group, user = events_of("exported_case_variant_keys")
    assert group["actor_type"] == "user"
    assert group["actor_external_id"] == ADELE_ID
    assert group["actor_name"] == "Adele Vance"
    assert group["actor_principal_name"] == "AdeleV@contoso.com"
    assert group["source_ip"] == "131.107.159.37"
    assert group["target_type"] == "group"
    assert group["target_external_id"] == "3d4e5f6a-7b8c-4d9e-a0f1-b2c3d4e5f6a7"
    assert group["target_name"] == "SG-Finance-Approvers"
    assert (user["target_type"], user["target_external_id"], user["target_name"]) == (
        "user",
        MEGAN_ID,
        "MeganB@contoso.com",
    )
    # properties["target"] uses Graph's spelling, modifiedProperties decoded.
    assert group["properties"]["target"] == {
        "id": "3d4e5f6a-7b8c-4d9e-a0f1-b2c3d4e5f6a7",
        "displayName": "SG-Finance-Approvers",
        "type": "Group",
        "userPrincipalName": None,
        "groupType": "azureAD",
        "modifiedProperties": [
            {
                "displayName": "Group.ObjectID",
                "oldValue": None,
                "newValue": "3d4e5f6a-7b8c-4d9e-a0f1-b2c3d4e5f6a7",
            },
            {
                "displayName": "Group.DisplayName",
                "oldValue": None,
                "newValue": "SG-Finance-Approvers",
            },
        ],
    }
    # The initiator is kept exactly as given.
    assert group["properties"]["initiatedBy"]["User"]["IpAddress"] == "131.107.159.37"
    # A record-level null resultReason and no failure.
    assert group["failure_reason"] is None


@pytest.mark.parametrize(
    ("graph_type", "expected"),
    [
        ("User", "user"),
        ("user", "user"),
        ("Group", "group"),
        ("Role", "directory_role"),
        ("DirectoryRole", "directory_role"),
        ("Application", "application"),
        ("ServicePrincipal", "service_principal"),
        (" ServicePrincipal ", "service_principal"),
        ("Policy", "policy"),
        ("Device", "device"),
        ("Other", "other"),
        ("AdministrativeUnit", "administrativeunit"),
        (None, "directory_object"),
        ("", "directory_object"),
    ],
)
def test_target_type_mapping(graph_type, expected):
    record = load("failure_self_service_password_reset")
    target = record["targetResources"][0]
    target["type"] = graph_type
    target["modifiedProperties"] = []
    (event,) = normalise_directory_audit(record, SOURCE)
    assert event["target_type"] == expected
    assert event["target_external_id"] == MEGAN_ID


def test_target_without_id_name_or_type_has_no_type():
    record = load("failure_self_service_password_reset")
    record["targetResources"] = [{"id": None, "displayName": "", "type": None}]
    (event,) = normalise_directory_audit(record, SOURCE)
    assert (event["target_type"], event["target_external_id"], event["target_name"]) == (
        None,
        None,
        None,
    )


# --- outcome -------------------------------------------------------------------------------


def test_exported_numeric_results():
    ok = one_event("exported_result_numeric_success")
    assert ok["outcome"] == "success"
    assert ok["failure_reason"] is None
    assert ok["properties"]["result"] == 0
    assert ok["occurred_at"] == datetime(2026, 11, 18, 13, 20, tzinfo=UTC)
    failed = one_event("exported_result_numeric_failure")
    assert failed["outcome"] == "failure"
    assert failed["failure_reason"] == "Insufficient privileges to complete the operation."
    assert failed["error_code"] is None
    assert failed["properties"]["result"] == 1
    assert failed["target_name"] == "Adele Vance"


@pytest.mark.parametrize(
    ("result", "outcome"),
    [
        ("success", "success"),
        ("Success", "success"),
        ("failure", "failure"),
        ("FAILURE", "failure"),
        ("timeout", "failure"),
        ("unknownFutureValue", "unknown"),
        ("", "unknown"),
        (None, "unknown"),
        (0, "success"),
        (1, "failure"),
        (2, "unknown"),
        (-1, "unknown"),
        ("0", "success"),
        (" 1 ", "failure"),
        ("2", "unknown"),
        (0.0, "success"),
        (True, "unknown"),
        (False, "unknown"),
        ({"code": 0}, "unknown"),
    ],
)
def test_result_values(result, outcome):
    event = one_event("exported_result_numeric_failure", result=result)
    assert event["outcome"] == outcome
    expected_reason = "Insufficient privileges to complete the operation."
    assert event["failure_reason"] == (expected_reason if outcome == "failure" else None)
    assert event["properties"]["result"] == result


def test_failure_with_result_reason():
    event = one_event("failure_self_service_password_reset")
    assert event["outcome"] == "failure"
    assert event["failure_reason"] == (
        "User submitted a new password that does not meet the password policy requirements."
    )
    assert event["action"] == "Reset password (self-service)"
    assert event["actor_external_id"] == MEGAN_ID
    assert event["target_external_id"] == MEGAN_ID
    assert event["source_ip"] == "198.51.100.23"
    assert event["occurred_at"] == datetime(2026, 11, 20, 7, 58, 19, 441700, tzinfo=UTC)
    for blank in ("", "   ", None):
        assert (
            one_event("failure_self_service_password_reset", resultReason=blank)["failure_reason"]
            is None
        )


# --- action ----------------------------------------------------------------------------------


def test_action_falls_back_to_operation_type_then_unknown():
    record = load("exported_result_numeric_success")
    del record["activityDisplayName"]
    (event,) = normalise_directory_audit(record, SOURCE)
    assert event["action"] == "Update"
    assert event["properties"]["operationType"] == "Update"

    event = one_event("exported_result_numeric_success", activityDisplayName="  ")
    assert event["action"] == "Update"
    assert event["properties"]["activityDisplayName"] == "  "  # kept: not what action holds

    event = one_event(
        "exported_result_numeric_success", activityDisplayName=None, operationType=None
    )
    assert event["action"] == "unknown"


# --- properties ------------------------------------------------------------------------------


def test_unknown_fields_are_kept_and_json_objects_decoded():
    record = load("unknown_fields_policy_update")
    event = one_event("unknown_fields_policy_update")
    props = event["properties"]
    assert props["@odata.type"] == "#microsoft.graph.directoryAudit"
    assert props["tenantGeo"] == "EU"
    assert props["operationVersion"] == "1.0"
    assert props["initiatedBy"]["user"]["roles"] == ["Conditional Access Administrator"]
    assert props["target"]["administrativeUnits"] == []
    assert props["resultReason"] is None
    assert event["target_type"] == "policy"
    assert event["target_name"] == "Require MFA for admins"
    policy = modified(event)["ConditionalAccessPolicy"]
    assert policy["oldValue"]["state"] == "enabledForReportingButNotEnforced"
    assert policy["newValue"]["state"] == "enabled"
    assert policy["newValue"]["grantControls"] == {"operator": "OR", "builtInControls": ["mfa"]}
    note = modified(event)["Note"]
    assert (note["oldValue"], note["newValue"]) == ("", "enforced after pilot {phase 2")
    # Everything of the record is there: top-level fields, plus the target.
    expected_keys = (set(record) - {"id", "activityDateTime", "targetResources"}) - {
        "activityDisplayName"
    }
    assert set(props) == expected_keys | {"target", "target_index", "target_count"}


@pytest.mark.parametrize(
    ("raw", "decoded"),
    [
        ('"Global Administrator"', "Global Administrator"),
        ('"with \\"quotes\\" inside"', 'with "quotes" inside'),
        ('"caf\\u00e9"', "café"),
        ('"[1]"', "[1]"),  # one level only
        ('["a","b"]', ["a", "b"]),
        ('["only"]', ["only"]),
        ('[""]', [""]),
        ("[]", []),
        (' ["padded"]', ["padded"]),
        ('{"a": 1}', {"a": 1}),
        ("[true]", [True]),
        ("true", "true"),  # scalars are not guessed
        ("42", "42"),
        ("null", "null"),
        ("plain text", "plain text"),
        ("{broken", "{broken"),
        ('["unterminated', '["unterminated'),
        ('"a","b"', '"a","b"'),
        ('"', '"'),
        ('"tab\there"', '"tab\there"'),  # a raw control character is not valid JSON
        ("", ""),
        (None, None),
        (7, 7),
    ],
)
def test_modified_property_decoding(raw, decoded):
    record = load("user_add_member_to_role")
    record["targetResources"][1]["modifiedProperties"] = [
        {"displayName": "X", "oldValue": raw, "newValue": raw}
    ]
    event = normalise_directory_audit(record, SOURCE)[1]
    entry = event["properties"]["target"]["modifiedProperties"][0]
    assert entry == {"displayName": "X", "oldValue": decoded, "newValue": decoded}


def test_odd_modified_properties_are_kept_as_given():
    record = load("user_add_member_to_role")
    record["targetResources"][0]["modifiedProperties"] = [None, "text", {"newValue": '"x"'}]
    record["targetResources"][1]["modifiedProperties"] = {"not": "a list"}
    member, role = normalise_directory_audit(record, SOURCE)
    assert member["properties"]["target"]["modifiedProperties"] == [None, "text", {"newValue": "x"}]
    assert role["properties"]["target"]["modifiedProperties"] == {"not": "a list"}


@pytest.mark.parametrize("targets", [[], None, "missing"])
def test_record_without_targets_gives_one_event_without_target(targets):
    record = load("unknown_fields_policy_update")
    if targets == "missing":
        del record["targetResources"]
    else:
        record["targetResources"] = targets
    (event,) = normalise_directory_audit(record, SOURCE)
    assert tuple(event) == NORMALISED_COLUMNS
    assert event["event_id"] == "IPCGraph_4a5b6c7d-8e9f-4a0b-9c1d-2e3f4a5b6c7d_UA1OO_55501983:0"
    assert (event["target_type"], event["target_external_id"], event["target_name"]) == (
        None,
        None,
        None,
    )
    props = event["properties"]
    assert (props["target"], props["target_index"], props["target_count"]) == (None, None, 0)
    assert "targetResources" not in props
    assert event["actor_principal_name"] == "AdeleV@contoso.com"


def test_odd_target_shapes_do_not_crash_and_are_kept():
    record = load("user_add_member_to_role")
    record["targetResources"] = [None, "Directory", record["targetResources"][1]]
    events = normalise_directory_audit(record, SOURCE)
    assert [e["event_id"][-2:] for e in events] == [":0", ":1", ":2"]
    assert [e["target_type"] for e in events] == [None, None, "directory_role"]
    assert [e["properties"]["target"] for e in events[:2]] == [None, "Directory"]

    record = load("user_add_member_to_role")
    single = record["targetResources"][1]
    record["targetResources"] = single  # an object instead of a list: one target
    (event,) = normalise_directory_audit(record, SOURCE)
    assert event["target_type"] == "directory_role"

    record["targetResources"] = "garbage"  # kept, since it went into no column
    (event,) = normalise_directory_audit(record, SOURCE)
    assert event["properties"]["targetResources"] == "garbage"
    assert event["target_type"] is None


# --- rejected records --------------------------------------------------------------------------


def test_missing_id_is_rejected():
    with pytest.raises(NormalisationError, match=r"^missing id$"):
        normalise_directory_audit(load("invalid_missing_id"), SOURCE)
    for empty in ("", "   ", None, [], {}):
        with pytest.raises(NormalisationError, match="missing id"):
            events_of("user_add_member_to_role", id=empty)


def test_bad_activity_datetime_is_rejected_with_the_value():
    with pytest.raises(NormalisationError, match="bad activityDateTime '20/11/2026 10:15'"):
        normalise_directory_audit(load("invalid_bad_activity_datetime"), SOURCE)


@pytest.mark.parametrize(
    "bad", ["", None, 1763633730, "2026-11-20", "yesterday", "2026-13-40T00:00Z"]
)
def test_other_bad_activity_datetimes(bad):
    with pytest.raises(NormalisationError, match="activityDateTime"):
        events_of("user_add_member_to_role", activityDateTime=bad)
    record = load("user_add_member_to_role")
    del record["activityDateTime"]
    with pytest.raises(NormalisationError, match=r"^missing activityDateTime$"):
        normalise_directory_audit(record, SOURCE)


def test_not_an_object_is_rejected():
    with pytest.raises(NormalisationError, match="not a JSON object"):
        normalise_directory_audit(["id", "x"], SOURCE)  # type: ignore[arg-type]


def test_numeric_id_is_accepted_as_text():
    (event,) = events_of("failure_self_service_password_reset", id=12345)
    assert event["event_id"] == "12345:0"


def test_empty_source_id_is_a_caller_error():
    assert_source_id_required(normalise_directory_audit, load("user_add_member_to_role"))


# --- the shared guard and hashing ----------------------------------------------------------------


def test_the_shared_guard_splits_events_and_rejects_in_order():
    role = load("user_add_member_to_role")
    pim = load("pim_role_activation_several_targets")
    failure = load("failure_self_service_password_reset")
    missing_id = load("invalid_missing_id")
    bad_time = load("invalid_bad_activity_datetime")
    events, rejected = split(
        normalise_directory_audit, [role, missing_id, pim, failure, bad_time], SOURCE
    )
    assert [e["event_id"] for e in events] == [
        f"{role['id']}:0",
        f"{role['id']}:1",
        *(f"{pim['id']}:{n}" for n in range(4)),
        f"{failure['id']}:0",
    ]
    assert_rejected_in_order(events, rejected, missing_id, bad_time)


def test_content_hash_is_stable_and_sensitive():
    first = normalise_directory_audit(load("app_credentials_secret_added"), SOURCE)[0]
    again = normalise_directory_audit(load("app_credentials_secret_added"), SOURCE)[0]
    assert content_hash(first) == content_hash(again)

    record = load("app_credentials_secret_added")
    record["targetResources"][0]["modifiedProperties"][0]["newValue"] = '["[KeyIdentifier=x]"]'
    changed = normalise_directory_audit(record, SOURCE)[0]
    assert content_hash(changed) != content_hash(first)

    reordered = dict(reversed(list(load("app_credentials_secret_added").items())))
    assert content_hash(normalise_directory_audit(reordered, SOURCE)[0]) == content_hash(first)


def test_new_value_nested_past_the_parser_is_kept_as_text():
    record = load("app_credentials_secret_added")
    deep = "[" * 100_000 + "]" * 100_000
    record["targetResources"][0]["modifiedProperties"][0]["newValue"] = deep
    (event,) = normalise_directory_audit(record, SOURCE)
    assert (
        modified(event)[record["targetResources"][0]["modifiedProperties"][0]["displayName"]][
            "newValue"
        ]
        == deep
    )
