"""Unit tests for access_warehouse.sources.entra.signins (Graph signIn -> access event)."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial

import orjson
import pytest
from normalise_asserts import (
    assert_contract_shape,
    assert_input_untouched,
    assert_rejected_in_order,
    assert_source_id_required,
    load_fixture,
    split,
    valid_fixtures,
)

from access_warehouse.contract import NormalisationError, content_hash
from access_warehouse.sources.entra.signins import normalise_signin

SOURCE = "entra-contoso"
VALID_FIXTURES = valid_fixtures("entra_signins")
load = partial(load_fixture, "entra_signins")


def event_of(name: str, **changes) -> dict:
    record = load(name)
    record.update(changes)
    return normalise_signin(record, SOURCE)


# --- every record -------------------------------------------------------------------------


def test_fixtures_present():
    assert len(VALID_FIXTURES) >= 13


@pytest.mark.parametrize("name", VALID_FIXTURES)
def test_output_has_exactly_the_contract_columns(name):
    event = normalise_signin(load(name), SOURCE)
    assert_contract_shape(
        event, ("id", "createdDateTime", "ipAddress", "clientAppUsed", "userAgent")
    )
    assert event["mfa"] in (True, False, None)


@pytest.mark.parametrize("name", VALID_FIXTURES)
def test_input_record_is_not_modified(name):
    assert_input_untouched(normalise_signin, load(name), SOURCE)


# --- v1.0 ---------------------------------------------------------------------------------


def test_v1_interactive():
    event = normalise_signin(load("v1_interactive"), SOURCE)
    assert event["source_id"] == SOURCE
    assert event["event_id"] == "66ea54eb-6301-4ee5-be62-ff5a759b0100"
    assert event["occurred_at"] == datetime(2026, 11, 20, 10, 15, 30, tzinfo=UTC)
    assert (event["category"], event["action"], event["outcome"]) == (
        "authentication",
        "signIn",
        "success",
    )
    assert event["actor_type"] == "user"
    assert event["actor_external_id"] == "87d349ed-44d7-43e1-9a83-5f2406dee5bd"
    assert event["actor_name"] == "Adele Vance"
    assert event["actor_principal_name"] == "AdeleV@contoso.com"  # case kept as given
    assert event["target_external_id"] == "de8bc8b5-d9f9-48b1-a8ad-b748da725064"
    assert event["target_name"] == "Graph Explorer"
    assert event["target_type"] == "application"
    # v1.0 carries no MFA information: NULL, never False.
    assert event["mfa"] is None
    assert event["auth_method"] is None
    assert event["source_ip"] == "131.107.159.37"
    assert (event["country"], event["city"]) == ("US", "Redmond")
    assert event["user_agent"] is None
    assert event["client_app"] == "Browser"
    # Graph writes "Other." on successes; it is not a failure reason.
    assert event["error_code"] is None
    assert event["failure_reason"] is None


def test_v1_properties_keep_partly_mapped_objects_and_drop_mapped_fields():
    record = load("v1_interactive")
    props = normalise_signin(record, SOURCE)["properties"]
    assert props["status"] == {"errorCode": 0, "failureReason": "Other.", "additionalDetails": None}
    assert props["location"]["state"] == "Washington"
    assert props["location"]["geoCoordinates"]["latitude"] == pytest.approx(47.6805, abs=1e-3)
    assert props["deviceDetail"]["browser"] == "Edge 80.0.361"
    assert props["resourceId"] == "00000003-0000-0000-c000-000000000000"
    assert props["riskEventTypes"] == []
    dropped = {
        "id",
        "createdDateTime",
        "userId",
        "userDisplayName",
        "userPrincipalName",
        "appId",
        "appDisplayName",
        "ipAddress",
        "clientAppUsed",
    }
    assert set(props) == set(record) - dropped


# --- beta user sign-ins: MFA ----------------------------------------------------------------


def test_beta_mfa_fido2_passwordless_is_mfa():
    event = event_of("beta_mfa_fido2")
    assert event["mfa"] is True
    assert event["auth_method"] == "FIDO2 security key"
    assert event["outcome"] == "success"
    assert event["actor_type"] == "user"
    assert event["target_name"] == "Azure Portal"
    assert event["target_external_id"] == "c44b4083-3bb0-49c1-b47d-974e53cbdf3c"
    assert event["user_agent"].startswith("Mozilla/5.0 (Windows NT 10.0")
    assert (event["country"], event["city"]) == ("NL", "Amsterdam")


def test_fido2_is_mfa_even_when_single_factor_was_required():
    event = event_of("beta_mfa_fido2", authenticationRequirement="singleFactorAuthentication")
    assert event["mfa"] is True


def test_beta_mfa_mobile_app_notification():
    event = event_of("beta_mfa_mobile_app")
    assert event["mfa"] is True
    assert event["auth_method"] == "Password, Mobile app notification"
    assert event["target_external_id"] == "00000002-0000-0ff1-ce00-000000000000"
    assert event["target_name"] == "Office 365 Exchange Online"


def test_mobile_app_step_counts_without_result_text_or_step_requirement():
    record = load("beta_mfa_mobile_app")
    record["authenticationRequirement"] = "singleFactorAuthentication"
    second = record["authenticationDetails"][1]
    second["authenticationStepResultDetail"] = None
    second["authenticationStepRequirement"] = None
    assert normalise_signin(record, SOURCE)["mfa"] is True


def test_unsucceeded_mfa_step_is_not_mfa():
    record = load("beta_mfa_mobile_app")
    record["status"] = {
        "errorCode": 500121,
        "failureReason": "Authentication failed during strong authentication request.",
        "additionalDetails": "The user didn't complete the MFA prompt.",
    }
    second = record["authenticationDetails"][1]
    second["succeeded"] = False
    second["authenticationStepResultDetail"] = "MFA denied; user declined the authentication"
    event = normalise_signin(record, SOURCE)
    assert event["mfa"] is False
    assert event["outcome"] == "failure"
    assert event["error_code"] == "500121"
    assert event["auth_method"] == "Password"


def test_seven_fractional_digits_parse_to_utc():
    event = event_of("beta_mfa_mobile_app")
    assert event["occurred_at"] == datetime(2026, 11, 20, 10, 15, 30, 123456, tzinfo=UTC)
    assert event["occurred_at"].tzinfo is UTC


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-11-20T10:15:30Z", datetime(2026, 11, 20, 10, 15, 30, tzinfo=UTC)),
        ("2026-11-20T10:15:30.5Z", datetime(2026, 11, 20, 10, 15, 30, 500000, tzinfo=UTC)),
        ("2026-11-20T10:15:30.1234567Z", datetime(2026, 11, 20, 10, 15, 30, 123456, tzinfo=UTC)),
        ("2026-11-20T10:15:30.123456789z", datetime(2026, 11, 20, 10, 15, 30, 123456, tzinfo=UTC)),
        ("2026-11-20T12:15:30+02:00", datetime(2026, 11, 20, 10, 15, 30, tzinfo=UTC)),
        ("2026-11-20T10:15:30", datetime(2026, 11, 20, 10, 15, 30, tzinfo=UTC)),
    ],
)
def test_created_datetime_formats(raw, expected):
    occurred = event_of("v1_interactive", createdDateTime=raw)["occurred_at"]
    assert occurred == expected
    assert occurred.tzinfo is UTC


def test_mfa_satisfied_by_claim_in_token():
    event = event_of("beta_mfa_claim_in_token")
    assert event["mfa"] is True
    assert event["auth_method"] == "Previously satisfied"
    # The result text alone proves it, whatever the overall requirement says.
    assert (
        event_of("beta_mfa_claim_in_token", authenticationRequirement="singleFactorAuthentication")[
            "mfa"
        ]
        is True
    )


def test_first_factor_claim_alone_is_not_mfa():
    record = load("beta_mfa_claim_in_token")
    record["authenticationRequirement"] = "singleFactorAuthentication"
    record["authenticationDetails"] = record["authenticationDetails"][:1]
    assert normalise_signin(record, SOURCE)["mfa"] is False


def test_previously_satisfied_with_mfa_requirement_and_success_is_mfa():
    record = load("beta_mfa_claim_in_token")
    for step in record["authenticationDetails"]:
        step["authenticationStepResultDetail"] = None
    assert normalise_signin(record, SOURCE)["mfa"] is True
    record["status"] = {"errorCode": 50074, "failureReason": "Strong Authentication is required."}
    assert normalise_signin(record, SOURCE)["mfa"] is False


def test_beta_single_factor_is_false_not_null():
    event = event_of("beta_single_factor")
    assert event["mfa"] is False
    assert event["auth_method"] == "Password"
    assert event["target_name"] == "OfficeHome"
    assert event["properties"]["authenticationRequirement"] == "singleFactorAuthentication"


def test_sms_as_primary_factor_is_not_mfa():
    record = load("beta_single_factor")
    record["authenticationDetails"][0]["authenticationMethod"] = "Text message"
    assert normalise_signin(record, SOURCE)["mfa"] is False


@pytest.mark.parametrize("code", [False, True])
def test_a_boolean_error_code_is_no_outcome(code):
    event = event_of("beta_single_factor", status={"errorCode": code})
    assert (event["outcome"], event["error_code"]) == ("unknown", None)


def test_failure_with_error_code():
    event = event_of("beta_failure_50126")
    assert event["outcome"] == "failure"
    assert event["error_code"] == "50126"
    assert event["failure_reason"] == (
        "Error validating credentials due to invalid username or password."
    )
    assert event["mfa"] is False
    assert event["auth_method"] is None  # no step succeeded
    assert event["actor_principal_name"] == "meganb@contoso.com"
    assert event["properties"]["status"]["additionalDetails"].startswith("The user didn't")


def test_missing_or_null_status_gives_unknown_outcome():
    record = load("beta_single_factor")
    del record["status"]
    event = normalise_signin(record, SOURCE)
    assert (event["outcome"], event["error_code"], event["failure_reason"]) == (
        "unknown",
        None,
        None,
    )
    assert event_of("beta_single_factor", status=None)["outcome"] == "unknown"
    assert event_of("beta_single_factor", status={"errorCode": None})["outcome"] == "unknown"


def test_mfa_requirement_with_unknown_outcome_is_null():
    event = event_of("beta_non_interactive", status=None)
    assert event["outcome"] == "unknown"
    assert event["mfa"] is None


def test_non_interactive_user_sign_in():
    event = event_of("beta_non_interactive")
    assert event["actor_type"] == "user"
    assert event["actor_external_id"] == "48d31887-5fad-4d73-a9f5-3c356e68a038"
    assert event["target_external_id"] == "d3590ed6-52b3-4102-aeff-aad2292ab01c"
    assert event["target_name"] == "Microsoft Office"
    assert event["client_app"] == "Mobile Apps and Desktop clients"
    # MFA required and the sign-in succeeded: satisfied (by the refresh token's MFA claim).
    assert event["mfa"] is True
    assert event["auth_method"] is None
    assert event["occurred_at"] == datetime(2026, 11, 20, 14, 0, 1, 500000, tzinfo=UTC)
    assert event["properties"]["signInEventTypes"] == ["nonInteractiveUser"]
    assert event["properties"]["incomingTokenType"] == "refreshToken"


def test_guest_user():
    event = event_of("beta_guest_user")
    assert event["actor_type"] == "user"
    assert event["actor_principal_name"] == "jordan.ellis@fabrikam.com"
    assert event["actor_name"] == "Jordan Ellis (Fabrikam)"
    assert event["mfa"] is True
    assert event["auth_method"] == "Password, Text message"
    assert (event["country"], event["city"]) == ("FR", "Lyon")
    props = event["properties"]
    assert props["userType"] == "guest"
    assert props["crossTenantAccessType"] == "b2bCollaboration"
    assert props["homeTenantId"] == "2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e"


# --- applications as actors ---------------------------------------------------------------


def test_service_principal_sign_in():
    event = event_of("beta_service_principal")
    assert event["actor_type"] == "service_principal"
    assert event["actor_external_id"] == "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e"
    assert event["actor_name"] == "ci-deploy-pipeline"
    assert event["actor_principal_name"] is None
    # The actor is the app; the target is the resource it got a token for.
    assert event["target_external_id"] == "00000003-0000-0000-c000-000000000000"
    assert event["target_name"] == "Microsoft Graph"
    assert event["target_type"] == "application"
    assert event["mfa"] is False  # singleFactorAuthentication is a fact, not a guess
    assert event["auth_method"] is None
    assert event["client_app"] is None
    assert event["user_agent"] is None
    assert (event["country"], event["city"]) == ("IE", "Dublin")
    props = event["properties"]
    # The client app id is not in any column here, so it stays in properties.
    assert props["appId"] == "f1e2d3c4-b5a6-4978-8a9b-0c1d2e3f4a5b"
    assert props["appDisplayName"] == "ci-deploy-pipeline"
    assert props["clientCredentialType"] == "clientSecret"
    assert props["resourceDisplayName"] == "Microsoft Graph"
    for gone in ("servicePrincipalId", "servicePrincipalName", "userId", "userPrincipalName"):
        assert gone not in props


def test_service_principal_without_resource_targets_app():
    record = load("beta_service_principal")
    record["resourceId"] = ""
    record["resourceDisplayName"] = None
    event = normalise_signin(record, SOURCE)
    assert event["target_external_id"] == "f1e2d3c4-b5a6-4978-8a9b-0c1d2e3f4a5b"
    assert event["target_name"] == "ci-deploy-pipeline"
    assert "appId" not in event["properties"]


def test_managed_identity_sign_in():
    event = event_of("beta_managed_identity")
    assert event["actor_type"] == "managed_identity"
    assert event["actor_external_id"] == "6e5d4c3b-2a1f-4e0d-9c8b-7a6f5e4d3c2b"
    assert event["actor_name"] == "func-invoice-export"
    assert event["actor_principal_name"] is None
    assert event["target_external_id"] == "https://vault.azure.net"
    assert event["target_name"] == "Azure Key Vault"
    assert event["mfa"] is False
    # Empty strings become NULL.
    assert event["source_ip"] is None
    assert (event["country"], event["city"]) == (None, None)
    props = event["properties"]
    assert props["managedServiceIdentity"]["msiType"] == "systemAssigned"
    assert props["deviceDetail"] == {}
    assert props["signInEventTypes"] == ["managedIdentity"]


def test_user_record_without_user_but_with_service_principal_is_a_service_principal():
    record = load("beta_service_principal")
    del record["signInEventTypes"]  # v1.0-like: defaults to interactiveUser
    event = normalise_signin(record, SOURCE)
    assert event["actor_type"] == "service_principal"
    assert event["actor_external_id"] == "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e"
    assert event["target_name"] == "Microsoft Graph"


# --- robustness ---------------------------------------------------------------------------


def test_null_location_and_device_detail():
    event = event_of("beta_null_location")
    assert (event["country"], event["city"]) == (None, None)
    assert event["source_ip"] is None
    assert event["user_agent"] is None
    assert event["properties"]["location"] is None
    assert event["properties"]["deviceDetail"] is None
    # authenticationRequirement present (details null): single factor is a fact.
    assert event["mfa"] is False
    assert event["auth_method"] is None


@pytest.mark.parametrize("location", [None, {}, [], "Redmond", {"city": None}])
def test_malformed_location_never_crashes(location):
    event = event_of("v1_interactive", location=location, deviceDetail={})
    assert (event["country"], event["city"]) == (None, None)


def test_unknown_future_enum_values():
    event = event_of("beta_unknown_enums")
    # agentSignIn without user fields: actor type unknown, the agent's service principal named.
    assert event["actor_type"] == "unknown"
    assert event["actor_external_id"] == "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
    assert event["actor_name"] == "Expense Approval Agent"
    assert event["target_external_id"] == "00000003-0000-0000-c000-000000000000"
    # An unknown requirement with no steps listed: the source does not tell us.
    assert event["mfa"] is None
    assert event["outcome"] == "success"
    props = event["properties"]
    assert props["signInEventTypes"] == ["agentSignIn"]
    assert props["riskLevelDuringSignIn"] == "superHigh"
    assert props["authenticationRequirement"] == "somethingNew"
    assert props["agent"]["agentType"] == "agentIdentity"
    assert event["occurred_at"] == datetime(2026, 11, 20, 19, 30, 12, 987654, tzinfo=UTC)


def test_unknown_event_type_with_user_fields_is_a_user():
    event = event_of(
        "beta_unknown_enums",
        userId="48d31887-5fad-4d73-a9f5-3c356e68a038",
        userPrincipalName="meganb@contoso.com",
    )
    assert event["actor_type"] == "user"
    assert event["actor_external_id"] == "48d31887-5fad-4d73-a9f5-3c356e68a038"
    assert event["target_external_id"] == "5f4e3d2c-1b0a-4f9e-8d7c-6b5a4f3e2d1c"  # the app
    # The service principal it went through is not a column here, so it is kept.
    assert event["properties"]["servicePrincipalId"] == "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"


def test_unknown_requirement_with_steps_listed_is_decided_by_the_steps():
    steps = load("beta_single_factor")["authenticationDetails"]
    assert event_of("beta_unknown_enums", authenticationDetails=steps)["mfa"] is False
    steps = load("beta_mfa_mobile_app")["authenticationDetails"]
    assert event_of("beta_unknown_enums", authenticationDetails=steps)["mfa"] is True


def test_extra_unknown_fields_are_kept():
    event = event_of("beta_extra_fields")
    props = event["properties"]
    assert props["@odata.type"] == "#microsoft.graph.signIn"
    assert props["quantumResistanceStatus"] == "notEvaluated"
    assert props["tokenBindingDetails"] == {
        "bindingType": "deviceBound",
        "keyId": "kid-42",
        "claims": ["cnf", "tbh"],
    }
    assert props["authenticationStrengthPolicyIds"] == ["00000000-0000-0000-0000-000000000002"]
    assert event["mfa"] is True  # Windows Hello for Business
    assert event["auth_method"] == "Windows Hello for Business"


def test_missing_id_is_rejected():
    with pytest.raises(NormalisationError, match="missing id"):
        normalise_signin(load("invalid_missing_id"), SOURCE)
    for empty in ("", "   ", None):
        with pytest.raises(NormalisationError, match="missing id"):
            event_of("v1_interactive", id=empty)


def test_bad_created_datetime_is_rejected_with_the_value():
    with pytest.raises(NormalisationError, match="20/11/2026 10:15"):
        normalise_signin(load("invalid_bad_created"), SOURCE)


@pytest.mark.parametrize(
    "bad", ["", None, 1763633730, "2026-11-20", "yesterday", "2026-13-40T00:00Z"]
)
def test_other_bad_created_datetimes(bad):
    with pytest.raises(NormalisationError, match="createdDateTime"):
        event_of("v1_interactive", createdDateTime=bad)
    record = load("v1_interactive")
    del record["createdDateTime"]
    with pytest.raises(NormalisationError, match="missing createdDateTime"):
        normalise_signin(record, SOURCE)


def test_not_an_object_is_rejected():
    with pytest.raises(NormalisationError, match="not a JSON object"):
        normalise_signin(["id", "x"], SOURCE)  # type: ignore[arg-type]


def test_odd_nested_shapes_do_not_crash():
    event = event_of(
        "beta_mfa_mobile_app",
        status="ok",
        signInEventTypes="interactiveUser",
        authenticationDetails=[None, "x", {"succeeded": True}],
    )
    assert event["outcome"] == "unknown"
    assert event["actor_type"] == "user"
    assert event["mfa"] is None  # MFA requirement, unknown outcome, nothing proven


def test_empty_source_id_is_a_caller_error():
    assert_source_id_required(normalise_signin, load("v1_interactive"))


# --- the shared guard and hashing ----------------------------------------------------------------


def test_the_shared_guard_splits_events_and_rejects_in_order():
    good = [load(name) for name in VALID_FIXTURES]
    missing_id = load("invalid_missing_id")
    bad_time = load("invalid_bad_created")
    records = [good[0], missing_id, *good[1:], bad_time]
    events, rejected = split(normalise_signin, records, SOURCE)
    assert [e["event_id"] for e in events] == [r["id"] for r in good]
    assert_rejected_in_order(events, rejected, missing_id, bad_time)


def test_content_hash_is_stable_and_sensitive():
    first = normalise_signin(load("beta_mfa_mobile_app"), SOURCE)
    second = normalise_signin(load("beta_mfa_mobile_app"), SOURCE)
    assert content_hash(first) == content_hash(second)
    assert len(content_hash(first)) == 64

    changed_status = normalise_signin(
        load("beta_mfa_mobile_app") | {"status": {"errorCode": 50126, "failureReason": "x"}},
        SOURCE,
    )
    assert content_hash(changed_status) != content_hash(first)

    record = load("beta_mfa_mobile_app")
    record["deviceDetail"]["browser"] = "Edge 132.0.0"  # only in properties
    assert content_hash(normalise_signin(record, SOURCE)) != content_hash(first)

    # Key order of the source record does not matter.
    reordered = dict(reversed(list(load("beta_mfa_mobile_app").items())))
    assert content_hash(normalise_signin(reordered, SOURCE)) == content_hash(first)

    assert content_hash(normalise_signin(load("beta_mfa_mobile_app"), "other")) != content_hash(
        first
    )


@pytest.mark.parametrize("name", VALID_FIXTURES)
def test_content_hash_with_properties_already_dumped_is_the_same_hash(name):
    """The loader splices its sorted-key properties JSON into the hash instead of dumping them
    twice: the hash must not change, or every stored event would look changed."""
    event = normalise_signin(load(name), SOURCE)
    dumped = orjson.dumps(event["properties"], option=orjson.OPT_SORT_KEYS)
    assert content_hash(event, dumped) == content_hash(event)
    other = orjson.dumps({**event["properties"], "extra": 1}, option=orjson.OPT_SORT_KEYS)
    assert content_hash(event, other) != content_hash(event)
