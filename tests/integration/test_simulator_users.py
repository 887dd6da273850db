"""The Graph simulator's ``/v1.0/users`` and ``/beta/users`` over real HTTPS: paging, ``$select``,
Graph's page limits, the licence's 403, the shared throttling and faults, and a directory that
agrees with the tenant's sign-in and directory-audit logs."""

from __future__ import annotations

import json
import math
from datetime import timedelta
from typing import Any

import httpx
from graph_http import (
    NOW,
    SIGNINS,
    assert_graph_error,
    bearer,
    list_collection,
    simulator_fixtures,
)

from devtools.graph_simulator import GraphSimulator, TenantConfig
from devtools.graph_simulator.users import DEFAULT_SELECT

CONTOSO = TenantConfig(tenant_id="contoso", signins_per_day=1500)
UNLICENSED = TenantConfig(
    tenant_id="fabrikam", signins_per_day=100, client_id="fab", premium_license=False
)
sim, fresh_state, client = simulator_fixtures(CONTOSO, UNLICENSED)
ACTIVITY = "id,userPrincipalName,accountEnabled,signInActivity"


def users_pages(
    client: httpx.Client,
    sim: GraphSimulator,
    headers: dict[str, str],
    params: dict[str, Any],
    version: str = "v1.0",
) -> list[dict[str, Any]]:
    """Every page's body, following nextLinks (which must stay on this host)."""
    url: str | None = f"{sim.base_url}/{version}/users"
    bodies, query = [], params
    while url:
        response = client.get(url, params=query, headers=headers)
        assert response.status_code == 200, response.text
        bodies.append(response.json())
        url, query = bodies[-1].get("@odata.nextLink"), None
        if url:
            assert url.startswith(f"https://{sim.host_port}/{version}/users?")
    return bodies


def test_users_page_through_the_directory_as_of_the_first_page(
    client: httpx.Client, sim: GraphSimulator
) -> None:
    sim.faults.token_lifetime_s = 2 * 86400  # the token outlives the clock's jump below
    headers = bearer(client, sim)
    expected = sim.tenant("contoso").users(NOW, select=["id"])
    later = sim.tenant("contoso").users(NOW + timedelta(hours=12), select=["id"])
    assert later != expected  # so the listing below shows it is pinned to its first page

    records, pages = list_collection(
        client,
        sim,
        "users",
        headers,
        {"$top": "7"},
        version="v1.0",
        after_first_page=lambda: sim.clock.advance(12 * 3600),
    )

    assert [r["id"] for r in records] == [r["id"] for r in expected]
    assert pages == math.ceil(len(expected) / 7) and sim.stats["user_pages"] == pages
    assert all(tuple(r) == DEFAULT_SELECT for r in records)  # Graph's default properties
    assert len(expected) < 200  # someone was deleted in the hours before NOW


def test_select_names_the_properties_and_the_context_says_so(
    client: httpx.Client, sim: GraphSimulator
) -> None:
    headers = bearer(client, sim)
    (body, *_) = users_pages(
        client, sim, headers, {"$select": "ID,userprincipalname,signInActivity", "$top": "500"}
    )

    assert body["@odata.context"].endswith("$metadata#users(id,userPrincipalName,signInActivity)")
    assert all(set(r) == {"id", "userPrincipalName", "signInActivity"} for r in body["value"])
    activity = body["value"][0]["signInActivity"]
    assert set(activity) == {
        "lastSignInDateTime",
        "lastSignInRequestId",
        "lastNonInteractiveSignInDateTime",
        "lastNonInteractiveSignInRequestId",
        "lastSuccessfulSignInDateTime",
        "lastSuccessfulSignInRequestId",
    }
    error = assert_graph_error(
        client.get(
            f"{sim.base_url}/v1.0/users", params={"$select": "id,shoeSize"}, headers=headers
        ),
        400,
        "BadRequest",
    )
    assert error["message"] == (
        "Could not find a property named 'shoeSize' on type 'microsoft.graph.user'."
    )


def test_graphs_page_limits_hold_and_are_smaller_with_sign_in_activity(
    client: httpx.Client, sim: GraphSimulator
) -> None:
    headers = bearer(client, sim)
    url = f"{sim.base_url}/v1.0/users"
    for params, limit in (
        ({"$top": "1000"}, 999),
        ({"$top": "0"}, 999),
        ({"$top": "501", "$select": ACTIVITY}, 500),
    ):
        error = assert_graph_error(
            client.get(url, params=params, headers=headers), 400, "Request_UnsupportedQuery"
        )
        assert f"Must be between 1 and {limit} inclusive." in error["message"]
    assert client.get(url, params={"$top": "999"}, headers=headers).status_code == 200
    ok = client.get(url, params={"$top": "500", "$select": ACTIVITY}, headers=headers)
    assert ok.status_code == 200 and "@odata.nextLink" not in ok.json()
    # a sign-ins skiptoken is not a users one
    signins = client.get(f"{sim.base_url}/beta/{SIGNINS}", params={"$top": "5"}, headers=headers)
    foreign = signins.json()["@odata.nextLink"].split("$skiptoken=")[1]
    assert_graph_error(
        client.get(url, params={"$skiptoken": foreign}, headers=headers),
        400,
        "Request_UnsupportedQuery",
    )


def test_sign_in_activity_agrees_with_the_sign_in_log(
    client: httpx.Client, sim: GraphSimulator
) -> None:
    tenant = sim.tenant("contoso")
    users = {
        record["id"]: record
        for body in users_pages(client, sim, bearer(client, sim), {"$select": ACTIVITY})
        for record in body["value"]
    }
    signins = tenant.signins(
        NOW - timedelta(days=30),
        NOW,
        event_types=["interactiveUser", "nonInteractiveUser"],
        visible_at=NOW,
    )
    last: dict[tuple[str, str], dict[str, Any]] = {}
    for signin in signins:  # newest first: the first one seen is the last one
        kind = "interactive" if signin["isInteractive"] else "non_interactive"
        last.setdefault((signin["userId"], kind), signin)
        if signin["status"]["errorCode"] == 0:
            last.setdefault((signin["userId"], "success"), signin)
    checked_failures = 0
    for user_id, user in users.items():
        activity = user["signInActivity"]
        for kind, field in (
            ("interactive", "lastSignIn"),
            ("non_interactive", "lastNonInteractiveSignIn"),
            ("success", "lastSuccessfulSignIn"),
        ):
            signin = last.get((user_id, kind))
            assert activity[f"{field}DateTime"] == (signin or {}).get("createdDateTime"), field
            assert activity[f"{field}RequestId"] == (signin or {}).get("id")
        interactive = last.get((user_id, "interactive"))
        if interactive and interactive["status"]["errorCode"] != 0:
            checked_failures += 1  # a failed attempt moves lastSignInDateTime too
    assert checked_failures > 0
    never = [i for i, u in enumerate(tenant._users) if i >= tenant.active_users]
    listed_never = [tenant._users[i].id for i in never if tenant._users[i].id in users]
    assert listed_never
    for user_id in listed_never:
        assert set(users[user_id]["signInActivity"].values()) == {None}


def test_the_directory_follows_the_directory_audit_log(
    client: httpx.Client, sim: GraphSimulator
) -> None:
    tenant = sim.tenant("contoso")
    hours = tenant.config.user_changes_hours
    audits = tenant.directory_audits(
        NOW - timedelta(hours=hours, seconds=-1), NOW + timedelta(seconds=1)
    )
    deleted, disabled = set(), set()
    for audit in audits:
        if audit["result"] != "success":
            continue
        target = audit["targetResources"][0]
        if audit["activityDisplayName"] == "Delete user":
            deleted.add(target["id"])
        changes = {p["displayName"]: p["newValue"] for p in target.get("modifiedProperties") or []}
        if audit["activityDisplayName"] == "Update user" and changes.get("AccountEnabled"):
            assert json.loads(changes["AccountEnabled"]) == [False]
            disabled.add(target["id"])
    assert deleted and disabled
    users = {
        r["id"]: r
        for body in users_pages(client, sim, bearer(client, sim), {"$select": "id,accountEnabled"})
        for r in body["value"]
    }
    assert not deleted & set(users)
    assert set(users) | deleted == {user.id for user in tenant._users}
    assert all(users[user_id]["accountEnabled"] is False for user_id in disabled - deleted)
    # a few who never sign in are disabled for good; everyone else is enabled
    always = {tenant._users[i].id for i in tenant.directory_users.always_disabled}
    off = {user_id for user_id, user in users.items() if not user["accountEnabled"]}
    assert off == (disabled | always) - deleted
    # hours later the deletions have passed: the users are listed again
    later = {u["id"] for u in tenant.users(NOW + timedelta(hours=hours + 24), select=["id"])}
    assert deleted - later != deleted


def test_guests_and_members_have_graphs_shape(client: httpx.Client, sim: GraphSimulator) -> None:
    (body,) = users_pages(
        client,
        sim,
        bearer(client, sim),
        {"$select": "id,userPrincipalName,mail,userType,createdDateTime", "$top": "999"},
        version="beta",
    )
    guests = [u for u in body["value"] if u["userType"] == "Guest"]
    members = [u for u in body["value"] if u["userType"] == "Member"]
    assert guests and members and len(guests) + len(members) == len(body["value"])
    for guest in guests:  # the invited address is the guest's mail
        local = guest["userPrincipalName"].split("#EXT#")[0]
        assert guest["mail"] == local[: local.rindex("_")] + "@" + local[local.rindex("_") + 1 :]
    assert any(m["mail"] is None for m in members)  # no mailbox
    assert all(m["mail"] is None or m["mail"].lower() == m["userPrincipalName"] for m in members)
    assert all(u["createdDateTime"].endswith("Z") for u in body["value"])


def test_a_tenant_without_the_licence_refuses_sign_in_data_only(
    client: httpx.Client, sim: GraphSimulator
) -> None:
    config = sim.tenant("fabrikam").config
    headers = bearer(client, sim, config)
    url = f"{sim.base_url}/v1.0/users"

    error = assert_graph_error(
        client.get(url, params={"$select": ACTIVITY}, headers=headers),
        403,
        "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
    )
    assert error["message"] == "Neither tenant is B2C or tenant doesn't have premium license"
    assert client.get(url, params={"$select": "id"}, headers=headers).status_code == 200
    assert_graph_error(
        client.get(f"{sim.base_url}/beta/{SIGNINS}", headers=headers),
        403,
        "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
    )
    audits = client.get(f"{sim.base_url}/v1.0/auditLogs/directoryAudits", headers=headers)
    assert audits.status_code == 200  # the free tier keeps directory audits


def test_users_share_the_tenants_throttling_budget_and_faults(
    client: httpx.Client, sim: GraphSimulator
) -> None:
    sim.faults.throttle = True
    headers = bearer(client, sim)
    url = f"{sim.base_url}/v1.0/users"
    for _ in range(4):
        assert client.get(url, params={"$top": "5"}, headers=headers).status_code == 200
    assert client.get(f"{sim.base_url}/beta/{SIGNINS}", headers=headers).status_code == 200
    throttled = client.get(url, params={"$top": "5"}, headers=headers)
    assert_graph_error(throttled, 429, "TooManyRequests")
    assert int(throttled.headers["Retry-After"]) >= 1

    sim.faults.throttle = False
    sim.faults.error_rate = 1.0
    failed = client.get(url, headers=headers)
    assert failed.status_code in (503, 504)
    sim.faults.error_rate = 0.0
    unauthenticated = client.get(url)
    assert_graph_error(unauthenticated, 401, "InvalidAuthenticationToken")
