"""The Graph simulator's ``auditLogs/directoryAudits`` over real HTTPS: paging, filters, shared
throttling and faults, late arrival, tenants, and consistency with the same tenant's sign-ins."""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from graph_http import (
    DAY_START,
    DIRECTORY_AUDITS,
    NOW,
    assert_graph_error,
    bearer,
    ids,
    list_collection,
    simulator_fixtures,
)

from access_warehouse.sources.entra.directory_audits import normalise_directory_audit
from devtools.graph_simulator import (
    DIRECTORY_AUDIT_CATEGORIES,
    FaultConfig,
    GraphSimulator,
    ODataError,
    SimClock,
    SyntheticTenant,
    TenantConfig,
    parse_directory_audit_filter,
)
from devtools.graph_simulator.__main__ import _parse_args, _tenants

pytestmark = pytest.mark.integration

ISO = "%Y-%m-%dT%H:%M:%SZ"
CONTOSO = TenantConfig(tenant_id="contoso", signins_per_day=2000, directory_audits_per_day=1500)
FABRIKAM = TenantConfig(
    tenant_id="fabrikam",
    client_id="fab-client",
    client_secret="fab-secret",
    signins_per_day=500,
    directory_audits_per_day=400,
)
CREDENTIALS = "Update application – Certificates and secrets management "


def audit_filter(start: datetime, end: datetime, extra: str = "") -> str:
    text = f"activityDateTime ge {start.strftime(ISO)} and activityDateTime lt {end.strftime(ISO)}"
    return f"{text} and {extra}" if extra else text


sim, fresh_state, client = simulator_fixtures(CONTOSO, FABRIKAM)


# ---- HTTP surface ---------------------------------------------------------------------


def test_paging_is_stable_while_the_clock_moves(client: httpx.Client, sim: GraphSimulator) -> None:
    tenant = sim.tenant("contoso")
    at_snapshot = tenant.directory_audits(DAY_START, NOW, visible_at=NOW)
    later = NOW + timedelta(minutes=45)  # past the longest ingestion delay
    eventually = tenant.directory_audits(DAY_START, NOW, visible_at=later)
    assert len(eventually) > len(at_snapshot) + 5, "late arrivals must exist for this test"

    headers = bearer(client, sim)
    params = {"$filter": audit_filter(DAY_START, NOW), "$top": "50"}
    records, pages = list_collection(
        client,
        sim,
        DIRECTORY_AUDITS,
        headers,
        params,
        after_first_page=lambda: sim.clock.advance(45 * 60),
    )
    assert records == at_snapshot  # same records, same order: no gap, no duplicate
    assert len(set(ids(records))) == len(records) and pages == -(-len(records) // 50)
    times = [r["activityDateTime"] for r in records]
    assert times == sorted(times, reverse=True)

    # A new listing (at the moved clock) sees the late arrivals.
    again, pages_again = list_collection(client, sim, DIRECTORY_AUDITS, headers, params)
    assert ids(again) == ids(eventually)
    stats = sim.stats.as_dict()
    assert stats["directory_audit_pages"] == stats["pages_served"] == pages + pages_again
    assert stats["directory_audit_records"] == stats["records_served"] == len(records) + len(again)
    assert stats["signin_pages"] == 0
    assert client.get(f"{sim.base_url}/_sim/stats").json()["directory_audit_pages"] > 0


def test_v1_and_beta_serve_the_same_records(client: httpx.Client, sim: GraphSimulator) -> None:
    headers = bearer(client, sim)
    start = NOW - timedelta(hours=3)
    params = {"$filter": audit_filter(start, NOW), "$top": "100"}
    v1, _ = list_collection(client, sim, DIRECTORY_AUDITS, headers, params, version="v1.0")
    beta, _ = list_collection(client, sim, DIRECTORY_AUDITS, headers, params)
    assert v1 == beta == sim.tenant("contoso").directory_audits(start, NOW, visible_at=NOW)
    assert len(v1) > 100


def test_without_bounds_lists_up_to_the_clock(client: httpx.Client, sim: GraphSimulator) -> None:
    headers = bearer(client, sim)
    url = f"{sim.base_url}/v1.0/auditLogs/directoryAudits"
    page = client.get(url, params={"$top": "5"}, headers=headers).json()
    expected = sim.tenant("contoso").directory_audits(NOW - timedelta(days=1), NOW, visible_at=NOW)
    assert page["value"] == expected[:5] and "$skiptoken=" in page["@odata.nextLink"]


def test_category_filter(client: httpx.Client, sim: GraphSimulator) -> None:
    headers = bearer(client, sim)
    tenant = sim.tenant("contoso")
    roles, _ = list_collection(
        client,
        sim,
        DIRECTORY_AUDITS,
        headers,
        {"$filter": audit_filter(DAY_START, NOW, "category eq 'RoleManagement'")},
    )
    assert roles == tenant.directory_audits(
        DAY_START, NOW, categories=["RoleManagement"], visible_at=NOW
    )
    assert roles and {r["category"] for r in roles} == {"RoleManagement"}

    either = "(category eq 'groupmanagement' or category eq 'Policy')"
    mixed, _ = list_collection(
        client, sim, DIRECTORY_AUDITS, headers, {"$filter": audit_filter(DAY_START, NOW, either)}
    )
    assert {r["category"] for r in mixed} == {"GroupManagement", "Policy"}
    assert mixed == tenant.directory_audits(
        DAY_START, NOW, categories=["GroupManagement", "Policy"], visible_at=NOW
    )
    # An unknown category, or two that exclude each other, match nothing: no error.
    for extra in ("category eq 'Nope'", "category eq 'Policy' and category eq 'UserManagement'"):
        none, _ = list_collection(
            client, sim, DIRECTORY_AUDITS, headers, {"$filter": audit_filter(DAY_START, NOW, extra)}
        )
        assert none == []


@pytest.mark.parametrize(
    "params",
    [
        {"$filter": "createdDateTime ge 2024-05-01T00:00:00Z"},  # the sign-ins' time field
        {"$filter": "activityDateTime ge yesterday"},
        {"$filter": "activityDateTime eq 2024-05-01T00:00:00Z"},
        {"$filter": "(activityDateTime ge 2024-05-01T00:00:00Z"},
        {"$filter": "activityDateTime ge 2024-05-01T00:00:00Z and userId eq 'x'"},
        {"$filter": "signInEventTypes/any(t: t eq 'interactiveUser')"},
        {"$filter": "(category eq 'Policy' or result eq 'failure')"},
        {"$top": "1001"},
        {"$top": "0"},
        {"$skiptoken": "not-a-token"},
    ],
)
def test_bad_queries_get_graph_400(
    client: httpx.Client, sim: GraphSimulator, params: dict[str, str]
) -> None:
    url = f"{sim.base_url}/v1.0/auditLogs/directoryAudits"
    assert_graph_error(
        client.get(url, params=params, headers=bearer(client, sim)), 400, "BadRequest"
    )
    assert sim.stats["bad_requests"] == 1


def test_filter_grammar() -> None:
    text = (
        "ActivityDateTime GT 2024-05-01T00:00:00.5Z AND (activityDateTime le 2024-05-01T01:00:00Z) "
        "and (category eq 'policy' or CATEGORY eq 'UserManagement')"
    )
    parsed = parse_directory_audit_filter(text)
    start = int(DAY_START.timestamp())
    assert (parsed.lo, parsed.hi) == (start + 1, start + 3601)
    assert parsed.categories == {"Policy", "UserManagement"}
    with pytest.raises(ODataError, match="Could not find a property named 'createdDateTime'"):
        parse_directory_audit_filter("createdDateTime ge 2024-05-01T00:00:00Z")


def test_skiptokens_are_bound_to_their_feed_and_tenant(
    client: httpx.Client, sim: GraphSimulator
) -> None:
    contoso = bearer(client, sim)
    window = {"$filter": audit_filter(DAY_START, NOW), "$top": "5"}
    audits_url = f"{sim.base_url}/beta/auditLogs/directoryAudits"
    audit_link = client.get(audits_url, params=window, headers=contoso).json()["@odata.nextLink"]
    signin_filter = audit_filter(DAY_START, NOW).replace("activityDateTime", "createdDateTime")
    signin_window = {"$filter": signin_filter}
    signin_link = client.get(
        f"{sim.base_url}/beta/auditLogs/signIns",
        params={**window, **signin_window},
        headers=contoso,
    ).json()["@odata.nextLink"]
    # A sign-in skiptoken is no good on directoryAudits, nor an audit one on signIns.
    signin_token = signin_link.split("$skiptoken=")[1]
    crossed = client.get(audits_url, params={"$skiptoken": signin_token}, headers=contoso)
    assert_graph_error(crossed, 400, "BadRequest")
    audit_token = audit_link.split("$skiptoken=")[1]
    crossed = client.get(
        f"{sim.base_url}/beta/auditLogs/signIns",
        params={"$skiptoken": audit_token},
        headers=contoso,
    )
    assert_graph_error(crossed, 400, "BadRequest")
    # Nor a contoso link with a fabrikam token, nor a beta link on v1.0.
    assert_graph_error(
        client.get(audit_link, headers=bearer(client, sim, FABRIKAM)), 400, "BadRequest"
    )
    v1 = client.get(audit_link.replace("/beta/", "/v1.0/"), headers=contoso)
    assert_graph_error(v1, 400, "BadRequest")
    assert client.get(audit_link, headers=contoso).status_code == 200


def test_auth_is_required(client: httpx.Client, sim: GraphSimulator) -> None:
    url = f"{sim.base_url}/beta/auditLogs/directoryAudits"
    assert_graph_error(client.get(url), 401, "InvalidAuthenticationToken")
    sim.faults.token_lifetime_s = 1
    headers = bearer(client, sim)
    assert client.get(url, params={"$top": "1"}, headers=headers).status_code == 200
    sim.clock.advance(2)
    assert_graph_error(client.get(url, headers=headers), 401, "InvalidAuthenticationToken")


def test_throttling_budget_is_shared_with_signins(
    client: httpx.Client, sim: GraphSimulator
) -> None:
    sim.faults = FaultConfig(throttle=True)  # 5 requests per 10 s per tenant and app
    headers = bearer(client, sim)
    signins = f"{sim.base_url}/beta/auditLogs/signIns"
    audits = f"{sim.base_url}/v1.0/auditLogs/directoryAudits"
    for _ in range(3):
        assert client.get(signins, params={"$top": "1"}, headers=headers).status_code == 200
    for _ in range(2):
        assert client.get(audits, params={"$top": "1"}, headers=headers).status_code == 200
    throttled = client.get(audits, params={"$top": "1"}, headers=headers)
    assert_graph_error(throttled, 429, "TooManyRequests")
    assert 1 <= int(throttled.headers["Retry-After"]) <= 10
    # The sign-ins share the exhausted budget; another tenant's app has its own.
    assert client.get(signins, params={"$top": "1"}, headers=headers).status_code == 429
    fabrikam = bearer(client, sim, FABRIKAM)
    assert client.get(audits, params={"$top": "1"}, headers=fabrikam).status_code == 200
    assert sim.stats["throttled"] == 2


def test_5xx_and_dropped_connections(client: httpx.Client, sim: GraphSimulator) -> None:
    headers = bearer(client, sim)
    url = f"{sim.base_url}/beta/auditLogs/directoryAudits"
    sim.faults.error_rate = 1.0
    statuses = set()
    for _ in range(6):
        response = client.get(url, headers=headers)
        statuses.add(response.status_code)
        assert_graph_error(response, response.status_code, response.json()["error"]["code"])
    assert statuses and statuses <= {503, 504}
    assert sim.stats["errors_5xx"] == 6

    # The page count behind drop_connection_after_pages counts both feeds.
    client.post(
        f"{sim.base_url}/_sim/faults", json={"error_rate": 0.0, "drop_connection_after_pages": 2}
    )
    assert client.get(url, params={"$top": "3"}, headers=headers).status_code == 200
    signins = f"{sim.base_url}/beta/auditLogs/signIns"
    assert client.get(signins, params={"$top": "3"}, headers=headers).status_code == 200
    with pytest.raises(httpx.TransportError):
        client.get(url, params={"$top": "3"}, headers=headers)
    assert sim.stats["dropped"] == 1


def test_late_arrival_hides_recent_audits(client: httpx.Client, sim: GraphSimulator) -> None:
    tenant = sim.tenant("contoso")
    start = NOW - timedelta(hours=1)
    every = tenant.directory_audits(start, NOW)
    visible = tenant.directory_audits(start, NOW, visible_at=NOW)
    hidden = set(ids(every)) - set(ids(visible))
    assert hidden and set(ids(visible)) < set(ids(every))
    # Nothing of the last two minutes is visible yet; each audit has its own 2..40 min delay.
    last_two = {r["id"] for r in every if r["activityDateTime"] >= "2024-05-01T13:58:00Z"}
    assert last_two and last_two <= hidden
    delays = {e.id: e.ingestion_delay_s for e in tenant.directory_audit_events_for_day(NOW.date())}
    assert min(delays.values()) >= 120 and max(delays.values()) <= 2400
    assert len(set(delays.values())) > 100

    headers = bearer(client, sim)
    params = {"$filter": audit_filter(start, NOW)}
    served, _ = list_collection(client, sim, DIRECTORY_AUDITS, headers, params)
    assert ids(served) == ids(visible)
    sim.clock.advance(41 * 60)
    served, _ = list_collection(client, sim, DIRECTORY_AUDITS, headers, params)
    assert ids(served) == ids(every)
    # Without late arrival everything up to the clock is there at once.
    sim.clock = SimClock(NOW, frozen=True)
    sim.faults.late_arrival = False
    served, _ = list_collection(client, sim, DIRECTORY_AUDITS, headers, params)
    assert ids(served) == ids(every)


def test_tenants_are_separate(client: httpx.Client, sim: GraphSimulator) -> None:
    params = {"$filter": audit_filter(DAY_START, NOW)}
    contoso, _ = list_collection(
        client, sim, DIRECTORY_AUDITS, bearer(client, sim, CONTOSO), params
    )
    fabrikam, _ = list_collection(
        client, sim, DIRECTORY_AUDITS, bearer(client, sim, FABRIKAM), params
    )
    assert fabrikam == sim.tenant("fabrikam").directory_audits(DAY_START, NOW, visible_at=NOW)
    assert contoso == sim.tenant("contoso").directory_audits(DAY_START, NOW, visible_at=NOW)
    assert contoso and fabrikam and set(ids(contoso)).isdisjoint(ids(fabrikam))
    for records, domain in ((contoso, "@contoso."), (fabrikam, "@fabrikam.")):
        upns = [
            upn
            for r in records
            for upn in [(r["initiatedBy"]["user"] or {}).get("userPrincipalName")]
            + [t["userPrincipalName"] for t in r["targetResources"]]
            if upn
        ]
        assert upns and all(domain in upn for upn in upns)
    contoso_objects = {t["id"] for r in contoso for t in r["targetResources"]}
    fabrikam_objects = {t["id"] for r in fabrikam for t in r["targetResources"]}
    assert not (contoso_objects & fabrikam_objects) - {
        t["id"] for r in contoso for t in r["targetResources"] if t["type"] == "Policy"
    }  # only the (shared) Conditional Access policy ids may coincide


# ---- content ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_days() -> tuple[SyntheticTenant, list[dict], list[dict]]:
    """A tenant's sign-ins (every event type) and directory audits of two whole days."""
    tenant = SyntheticTenant(CONTOSO)
    days = (date(2024, 4, 30), date(2024, 5, 1))
    signins = [r for day in days for r in tenant.signins_for_day(day)]
    audits = [r for day in days for r in tenant.directory_audits_for_day(day)]
    return tenant, signins, audits


def test_application_changes_resolve_to_signin_app_ids(
    two_days: tuple[SyntheticTenant, list[dict], list[dict]],
) -> None:
    _, signins, audits = two_days
    signin_app_ids = {r["appId"] for r in signins}
    sp_by_app = {r["appId"]: r["servicePrincipalId"] for r in signins if r["servicePrincipalId"]}
    app_changes = [
        r
        for r in audits
        if r["activityDisplayName"]
        in (CREDENTIALS, "Consent to application", "Add service principal")
    ]
    credential_changes = [r for r in app_changes if r["activityDisplayName"] == CREDENTIALS]
    assert len(credential_changes) > 20
    resolved = set()
    for record in app_changes:
        [event] = normalise_directory_audit(record, "entra:contoso:directory_audits")
        assert event["target_type"] == "application", record
        assert event["target_external_id"] in signin_app_ids, record
        resolved.add(event["target_external_id"])
        target = record["targetResources"][0]
        # The object id stays in the target; it is not the appId.
        assert target["id"] != event["target_external_id"]
        assert event["properties"]["target"]["id"] == target["id"]
        if target["type"] == "ServicePrincipal" and event["target_external_id"] in sp_by_app:
            assert target["id"] == sp_by_app[event["target_external_id"]]
    assert len(resolved) > 5  # several of the tenant's applications, not one
    for record in credential_changes:
        target = record["targetResources"][0]
        assert target["type"] == "Application"
        modified = {p["displayName"]: p for p in target["modifiedProperties"]}
        assert json.loads(modified["AppId"]["newValue"]) in signin_app_ids
        keys = modified["KeyDescription"]
        assert all(v.startswith('["[KeyIdentifier=') for v in (keys["oldValue"], keys["newValue"]))
        assert {d["key"] for d in record["additionalDetails"]} >= {"AppId"}
    # App-initiated changes by the tenant's own workloads carry their sign-in identity.
    apps = [r["initiatedBy"]["app"] for r in audits if r["initiatedBy"]["app"]]
    workloads = [a for a in apps if a["appId"] is not None]
    assert workloads and any(a["appId"] is None for a in apps)
    assert all(sp_by_app[a["appId"]] == a["servicePrincipalId"] for a in workloads)


def test_users_are_the_signin_users(
    two_days: tuple[SyntheticTenant, list[dict], list[dict]],
) -> None:
    _, signins, audits = two_days
    user_ids = {r["userPrincipalName"]: r["userId"] for r in signins if r["userId"]}
    names = {r["userPrincipalName"]: r["userDisplayName"] for r in signins if r["userId"]}
    matched = 0
    for record in audits:
        people = [t for t in record["targetResources"] if t["type"] == "User"]
        if record["initiatedBy"]["user"]:
            people.append(record["initiatedBy"]["user"])
        for person in people:
            upn = person["userPrincipalName"]
            if upn in user_ids:
                assert person["id"] == user_ids[upn]
                assert person["displayName"] in (None, names[upn])
                matched += 1
        for event in normalise_directory_audit(record, "entra:contoso:directory_audits"):
            if event["target_type"] == "user" and event["target_name"] in user_ids:
                assert event["target_external_id"] == user_ids[event["target_name"]]
    assert matched > len(audits)  # nearly every record names someone who signs in

    # Role assignments go to users who sign in: [User (with Role.* changes), Role].
    roles = [r for r in audits if r["activityDisplayName"] == "Add member to role"]
    assert roles
    for record in roles:
        user, role = record["targetResources"]
        assert (user["type"], role["type"]) == ("User", "Role")
        assert user["userPrincipalName"] in user_ids
        changed = {p["displayName"]: json.loads(p["newValue"]) for p in user["modifiedProperties"]}
        assert changed["Role.DisplayName"] == role["displayName"]
        assert changed["Role.ObjectID"] == role["id"]
        events = normalise_directory_audit(record, "entra:contoso:directory_audits")
        assert [e["target_type"] for e in events] == ["user", "directory_role"]
    assert any(not n.isascii() for n in names.values() if n)


def test_content_mix(two_days: tuple[SyntheticTenant, list[dict], list[dict]]) -> None:
    _, _, audits = two_days
    n = len(audits)
    assert n == 2 * CONTOSO.directory_audits_per_day and len(set(ids(audits))) == n
    activities = Counter(r["activityDisplayName"] for r in audits)
    assert set(activities) >= {
        "Add member to role",
        "Add member to group",
        "Remove member from group",
        "Reset user password",
        "Reset password (by admin)",
        CREDENTIALS,
        "Consent to application",
        "Add user",
        "Delete user",
        "Update conditional access policy",
        "Add service principal",
    }
    assert {r["category"] for r in audits} == set(DIRECTORY_AUDIT_CATEGORIES)
    assert {r["loggedByService"] for r in audits} == {
        "Core Directory",
        "Conditional Access",
        "PIM",
        "Self-service Password Management",
    }
    assert {r["operationType"] for r in audits} == {"Add", "Update", "Delete", "Assign"}
    results = Counter(r["result"] for r in audits)
    assert set(results) == {"success", "failure", "timeout"}
    assert 0.01 < results["failure"] / n < 0.08
    assert all(r["resultReason"] for r in audits if r["result"] != "success")
    by_app = sum(r["initiatedBy"]["app"] is not None for r in audits) / n
    by_nobody = sum(r["initiatedBy"] == {"user": None, "app": None} for r in audits) / n
    assert 0.18 < by_app < 0.32 and 0.005 < by_nobody < 0.045
    prefixes = {r["id"].split("_")[0] for r in audits}
    assert prefixes == {"Directory", "SSGM", "PIM", "IPCGraph"}
    assert all(r["id"].split("_")[1] == r["correlationId"] for r in audits)
    assert all(r["activityDateTime"].endswith("Z") for r in audits)
    for record in audits:
        user = record["initiatedBy"]["user"]
        if user:
            assert set(user) >= {"id", "displayName", "userPrincipalName", "ipAddress"}
            assert user["ipAddress"] and user["userType"] is None
        for target in record["targetResources"]:
            assert set(target) >= {"id", "displayName", "type", "modifiedProperties"}
            for prop in target["modifiedProperties"]:
                for value in (prop["oldValue"], prop["newValue"]):
                    assert value is None or isinstance(json.loads(value), str | list | dict)
    policies = [r for r in audits if r["category"] == "Policy"]
    assert all(r["loggedByService"] == "Conditional Access" for r in policies)
    assert all(r["targetResources"][0]["type"] == "Policy" for r in policies)
    events = [e for r in audits for e in normalise_directory_audit(r, "entra:x:directory_audits")]
    assert {"user", "group", "directory_role", "application", "policy"} <= {
        e["target_type"] for e in events
    }


def test_served_json_equals_the_python_records() -> None:
    tenant = SyntheticTenant(TenantConfig(tenant_id="shapes", users=40, apps=30, seed=3))
    for day in (date(2024, 5, 1), date(2024, 5, 2)):
        records = tenant.directory_audits_for_day(day)
        rows = tenant._day(day, "directoryAudits").events
        assert len(rows) == len(records) == 300
        for row, record in zip(rows, records, strict=True):
            assert json.loads(tenant.render_directory_audit_json(row)) == record


def test_generation_is_deterministic() -> None:
    day = date(2024, 5, 1)
    config = TenantConfig(seed=7, directory_audits_per_day=500)
    one = SyntheticTenant(config).directory_audits_for_day(day)
    assert one == SyntheticTenant(config).directory_audits_for_day(day) and len(one) == 500
    other_seed = SyntheticTenant(TenantConfig(seed=8)).directory_audits_for_day(day)
    other_tenant = SyntheticTenant(TenantConfig(tenant_id="x", seed=7)).directory_audits_for_day(
        day
    )
    assert set(ids(one)).isdisjoint(ids(other_seed))
    assert set(ids(one)).isdisjoint(ids(other_tenant))
    # Directory audits draw from their own random streams: sign-ins do not change with them.
    quiet = TenantConfig(seed=7, signins_per_day=300, directory_audits_per_day=0)
    busy = TenantConfig(seed=7, signins_per_day=300, directory_audits_per_day=5000)
    assert SyntheticTenant(quiet).signins_for_day(day) == SyntheticTenant(busy).signins_for_day(day)
    assert SyntheticTenant(quiet).directory_audits_for_day(day) == []
    # Records are independent objects: changing one leaves the cache untouched.
    one[0]["targetResources"].clear()
    assert SyntheticTenant(config).directory_audits_for_day(day)[0]["targetResources"]


def test_cli_flag_sets_the_volume() -> None:
    args = _parse_args(["--directory-audits-per-day", "1234", "--extra-tenant", "fabrikam"])
    assert [t.directory_audits_per_day for t in _tenants(args)] == [1234, 1234]
    assert _parse_args([]).directory_audits_per_day == TenantConfig().directory_audits_per_day


def test_a_busy_day_generates_and_pages_quickly(tmp_path: Any) -> None:
    """20k audits in pages of 1000 over HTTPS (the 100k figures are in the README)."""
    config = TenantConfig(tenant_id="busy", signins_per_day=0, directory_audits_per_day=20_000)
    clock = SimClock(datetime(2024, 5, 2, 12, tzinfo=UTC), frozen=True)
    with (
        GraphSimulator(config, FaultConfig(throttle=False), cert_dir=tmp_path, clock=clock) as busy,
        httpx.Client(verify=False, timeout=10) as client,
    ):
        headers = bearer(client, busy, config)
        started = time.perf_counter()
        params = {"$filter": audit_filter(DAY_START, DAY_START + timedelta(days=1)), "$top": "1000"}
        records, pages = list_collection(client, busy, DIRECTORY_AUDITS, headers, params)
        elapsed = time.perf_counter() - started
    assert len(records) == 20_000 and pages == 20 and len(set(ids(records))) == 20_000
    assert elapsed < 8, f"generating and paging 20k audits took {elapsed:.1f} s"
