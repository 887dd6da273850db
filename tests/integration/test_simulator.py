"""The Graph simulator over real HTTPS: tokens, paging, shapes, faults, and Microsoft's clients."""

from __future__ import annotations

import asyncio
import json
import signal
import ssl
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from graph_http import (
    DAY_START,
    NOW,
    SCOPE,
    SIGNINS,
    assert_graph_error,
    bearer,
    get_token,
    ids,
    list_collection,
    simulator_fixtures,
)

from devtools.graph_simulator import (
    EVENT_TYPES,
    V1_FIELDS,
    FaultConfig,
    GraphSimulator,
    ODataError,
    SimClock,
    SyntheticTenant,
    TenantConfig,
    parse_filter,
)

pytestmark = pytest.mark.integration

CONTOSO = TenantConfig(tenant_id="contoso", signins_per_day=2000)
FABRIKAM = TenantConfig(
    tenant_id="fabrikam", client_id="fab-client", client_secret="fab-secret", signins_per_day=500
)


def window_filter(start: datetime, end: datetime, extra: str = "") -> str:
    iso = "%Y-%m-%dT%H:%M:%SZ"
    text = f"createdDateTime ge {start.strftime(iso)} and createdDateTime lt {end.strftime(iso)}"
    return f"{text} and {extra}" if extra else text


sim, fresh_state, client = simulator_fixtures(CONTOSO, FABRIKAM)


def test_token_flow_rejects_bad_credentials(client: httpx.Client, sim: GraphSimulator) -> None:
    ok = get_token(client, sim)
    assert ok.status_code == 200
    body = ok.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert body["ext_expires_in"] == 3600 and len(body["access_token"]) > 20

    bad_secret = get_token(client, sim, client_secret="wrong")
    assert bad_secret.status_code == 401
    assert bad_secret.json()["error"] == "invalid_client"
    assert bad_secret.json()["error_description"].startswith("AADSTS7000215: Invalid client secret")

    # contoso's app does not exist in fabrikam; unknown tenants fail discovery-style.
    assert get_token(client, sim, tenant="fabrikam").json()["error"] == "unauthorized_client"
    assert get_token(client, sim, tenant="nowhere").status_code == 400
    assert get_token(client, sim, scope="User.Read").json()["error"] == "invalid_scope"
    assert sim.stats["tokens_issued"] == 1


def test_missing_and_expired_tokens_get_401(client: httpx.Client, sim: GraphSimulator) -> None:
    url = f"{sim.base_url}/v1.0/auditLogs/signIns"
    assert_graph_error(client.get(url), 401, "InvalidAuthenticationToken")
    bogus = {"Authorization": "Bearer not-a-token"}
    assert_graph_error(client.get(url, headers=bogus), 401, "InvalidAuthenticationToken")

    sim.faults.token_lifetime_s = 1
    headers = bearer(client, sim)
    assert client.get(url, params={"$top": "1"}, headers=headers).status_code == 200
    sim.clock.advance(2)
    error = assert_graph_error(client.get(url, headers=headers), 401, "InvalidAuthenticationToken")
    assert error["message"] == "Lifetime validation failed, the token is expired."


def test_tokens_are_bound_to_their_tenant(client: httpx.Client, sim: GraphSimulator) -> None:
    params = {"$filter": window_filter(DAY_START, NOW)}
    contoso, _ = list_collection(client, sim, SIGNINS, bearer(client, sim, CONTOSO), params)
    fabrikam, _ = list_collection(client, sim, SIGNINS, bearer(client, sim, FABRIKAM), params)
    expected = sim.tenant("fabrikam").signins(DAY_START, NOW, visible_at=NOW)
    assert ids(fabrikam) == ids(expected)
    assert set(ids(contoso)).isdisjoint(ids(fabrikam))
    assert all(r["userPrincipalName"].endswith("@fabrikam.onmicrosoft.com") for r in fabrikam)

    # A contoso page link is no good with a fabrikam token.
    first = client.get(
        f"{sim.base_url}/beta/auditLogs/signIns",
        params={**params, "$top": "5"},
        headers=bearer(client, sim, CONTOSO),
    )
    foreign = client.get(first.json()["@odata.nextLink"], headers=bearer(client, sim, FABRIKAM))
    assert_graph_error(foreign, 400, "BadRequest")


def test_paging_is_stable_while_late_events_arrive(
    client: httpx.Client, sim: GraphSimulator
) -> None:
    types = "(signInEventTypes/any(t: t eq 'interactiveUser') or signInEventTypes/any(t: t eq "
    types += "'nonInteractiveUser') or signInEventTypes/any(t: t eq 'servicePrincipal'))"
    params = {"$filter": window_filter(DAY_START, NOW, types), "$top": "50"}
    kinds = ["interactiveUser", "nonInteractiveUser", "servicePrincipal"]
    tenant = sim.tenant("contoso")
    at_snapshot = tenant.signins(DAY_START, NOW, event_types=kinds, visible_at=NOW)
    later = NOW + timedelta(minutes=45)  # past the longest ingestion delay
    eventually = tenant.signins(DAY_START, NOW, event_types=kinds, visible_at=later)
    assert len(eventually) > len(at_snapshot) + 10, "late arrivals must exist for this test"

    headers = bearer(client, sim)
    # Everything late becomes visible between the first and second page.
    records, pages = list_collection(
        client, sim, SIGNINS, headers, params, after_first_page=lambda: sim.clock.advance(45 * 60)
    )
    served = ids(records)
    assert served == ids(at_snapshot)  # same order, no gap, no duplicate
    assert len(set(served)) == len(served) and pages == -(-len(served) // 50)
    created = [r["createdDateTime"] for r in records]
    assert created == sorted(created, reverse=True)

    # A new listing sees the late arrivals.
    again, pages_again = list_collection(client, sim, SIGNINS, headers, params)
    assert ids(again) == ids(eventually)
    assert sim.stats["pages_served"] == pages + pages_again
    assert sim.stats["records_served"] == len(records) + len(again)


def test_v1_is_interactive_only_without_beta_fields(
    client: httpx.Client, sim: GraphSimulator
) -> None:
    headers = bearer(client, sim)
    params = {"$filter": window_filter(DAY_START, NOW)}
    records, _ = list_collection(client, sim, SIGNINS, headers, params, version="v1.0")
    expected = sim.tenant("contoso").signins(DAY_START, NOW, version="v1.0", visible_at=NOW)
    assert records == expected and len(records) > 100
    assert all(set(r) == set(V1_FIELDS) for r in records)
    assert all(r["isInteractive"] for r in records)
    assert not any("authenticationDetails" in r or "signInEventTypes" in r for r in records)

    # v1.0 knows no signInEventTypes.
    bad = {"$filter": "signInEventTypes/any(t: t eq 'servicePrincipal')"}
    url = f"{sim.base_url}/v1.0/auditLogs/signIns"
    assert_graph_error(client.get(url, params=bad, headers=headers), 400, "BadRequest")


def test_beta_filters_by_event_type(client: httpx.Client, sim: GraphSimulator) -> None:
    headers = bearer(client, sim)
    tenant = sim.tenant("contoso")
    default, _ = list_collection(
        client, sim, SIGNINS, headers, {"$filter": window_filter(DAY_START, NOW)}
    )
    assert {r["signInEventTypes"][0] for r in default} == {"interactiveUser"}
    assert all("authenticationDetails" in r for r in default)

    types = "(signInEventTypes/any(t: t eq 'nonInteractiveUser') or "
    types += "signInEventTypes/any(t: t eq 'managedIdentity'))"
    params = {"$filter": window_filter(DAY_START, NOW, types)}
    records, _ = list_collection(client, sim, SIGNINS, headers, params)
    expected = tenant.signins(
        DAY_START, NOW, event_types=["nonInteractiveUser", "managedIdentity"], visible_at=NOW
    )
    assert records == expected
    assert {r["signInEventTypes"][0] for r in records} == {"nonInteractiveUser", "managedIdentity"}
    identities = [r for r in records if r["signInEventTypes"] == ["managedIdentity"]]
    assert all(r["servicePrincipalId"] and r["userPrincipalName"] is None for r in identities)


def test_throttling_answers_429_with_integer_retry_after(
    client: httpx.Client, sim: GraphSimulator
) -> None:
    sim.faults = FaultConfig(throttle=True)
    headers = bearer(client, sim)
    url = f"{sim.base_url}/beta/auditLogs/signIns"
    for _ in range(5):
        assert client.get(url, params={"$top": "1"}, headers=headers).status_code == 200
    throttled = client.get(url, params={"$top": "1"}, headers=headers)
    assert_graph_error(throttled, 429, "TooManyRequests")
    assert 1 <= int(throttled.headers["Retry-After"]) <= 10
    # Another tenant's app has its own budget; the token endpoint is never throttled.
    assert client.get(url, headers=bearer(client, sim, FABRIKAM)).status_code == 200
    assert sim.stats["throttled"] == 1


def test_error_rate_gives_503_or_504(client: httpx.Client, sim: GraphSimulator) -> None:
    sim.faults.error_rate = 1.0
    headers = bearer(client, sim)
    url = f"{sim.base_url}/beta/auditLogs/signIns"
    statuses = set()
    for _ in range(8):
        response = client.get(url, headers=headers)
        statuses.add(response.status_code)
        assert_graph_error(response, response.status_code, response.json()["error"]["code"])
    assert statuses <= {503, 504} and statuses
    assert sim.stats["errors_5xx"] == 8


def test_connection_dropped_after_n_pages(client: httpx.Client, sim: GraphSimulator) -> None:
    sim.faults.drop_connection_after_pages = 2
    headers = bearer(client, sim)
    url = f"{sim.base_url}/beta/auditLogs/signIns"
    for _ in range(2):
        assert client.get(url, params={"$top": "10"}, headers=headers).status_code == 200
    with pytest.raises(httpx.TransportError):
        client.get(url, params={"$top": "10"}, headers=headers)
    assert sim.stats["dropped"] == 1

    # The admin API lifts the fault (and restarts its page count).
    reset = client.post(f"{sim.base_url}/_sim/faults", json={"drop_connection_after_pages": None})
    assert reset.status_code == 200 and reset.json()["drop_connection_after_pages"] is None
    assert client.get(url, params={"$top": "10"}, headers=headers).status_code == 200


@pytest.mark.parametrize(
    "params",
    [
        {"$filter": "userId eq 'x'"},
        {"$filter": "createdDateTime ge yesterday"},
        {"$filter": "(createdDateTime ge 2024-05-01T00:00:00Z"},
        {"$filter": "signInEventTypes/any(t: t eq 'robot')"},
        {"$top": "1001"},
        {"$top": "many"},
        {"$skiptoken": "not-a-token"},
    ],
)
def test_bad_queries_get_graph_400(
    client: httpx.Client, sim: GraphSimulator, params: dict[str, str]
) -> None:
    url = f"{sim.base_url}/beta/auditLogs/signIns"
    response = client.get(url, params=params, headers=bearer(client, sim))
    assert_graph_error(response, 400, "BadRequest")


def test_filter_grammar_is_tolerant_and_exact_at_second_bounds() -> None:
    text = (
        "CreatedDateTime GT 2024-05-01T00:00:00.5Z AND createdDateTime le 2024-05-01T01:00:00Z "
        "and (signInEventTypes/any(x:x eq 'SERVICEPRINCIPAL'))"
    )
    parsed = parse_filter(text, "beta")
    start = int(DAY_START.timestamp())
    assert (parsed.lo, parsed.hi) == (start + 1, start + 3601)
    assert parsed.event_types == {"servicePrincipal"}
    with pytest.raises(ODataError):
        parse_filter("createdDateTime eq 2024-05-01T00:00:00Z", "beta")


def test_generation_is_deterministic_per_seed_and_tenant() -> None:
    day = date(2024, 5, 1)
    one = SyntheticTenant(TenantConfig(seed=7, signins_per_day=300)).signins_for_day(day)
    two = SyntheticTenant(TenantConfig(seed=7, signins_per_day=300)).signins_for_day(day)
    assert one == two and len(one) == 300
    other_seed = SyntheticTenant(TenantConfig(seed=8, signins_per_day=300)).signins_for_day(day)
    other_tenant = SyntheticTenant(
        TenantConfig(tenant_id="fabrikam", seed=7, signins_per_day=300)
    ).signins_for_day(day)
    seen = set(ids(one))
    assert seen.isdisjoint(ids(other_seed))
    assert seen.isdisjoint(ids(other_tenant))
    # Records are independent objects: changing one leaves the cache untouched.
    one[0]["status"]["errorCode"] = -1
    assert SyntheticTenant(TenantConfig(seed=7, signins_per_day=300)).signins_for_day(day) == two


def test_served_json_equals_the_python_records() -> None:
    """The server sends render_json() text; it must parse to exactly render()'s dicts."""
    tenant = SyntheticTenant(TenantConfig(tenant_id="shapes", users=40, apps=30, seed=3))
    for event in tenant.events_for_day(date(2024, 5, 1)):
        for version in ("beta", "v1.0"):
            assert json.loads(tenant.render_json(event, version)) == tenant.render(event, version)


def test_synthetic_content_looks_like_a_real_tenant() -> None:
    tenant = SyntheticTenant(TenantConfig(signins_per_day=5000))
    records = tenant.signins_for_day(date(2024, 5, 1))
    types = {
        t: sum(r["signInEventTypes"] == [t] for r in records) / len(records) for t in EVENT_TYPES
    }
    assert 0.55 < types["interactiveUser"] < 0.65 and 0.03 < types["managedIdentity"] < 0.07
    codes = {r["status"]["errorCode"] for r in records}
    assert {0, 50126, 50074, 53003, 50053} <= codes
    failures = sum(r["status"]["errorCode"] != 0 for r in records) / len(records)
    assert 0.05 < failures < 0.15
    assert any(r["userType"] == "guest" and "#EXT#@" in r["userPrincipalName"] for r in records)
    assert any(not r["userDisplayName"] or not r["userDisplayName"].isascii() for r in records)
    assert any(":" in r["ipAddress"] for r in records)  # some IPv6
    methods = {s["authenticationMethod"] for r in records for s in r["authenticationDetails"]}
    assert {"Password", "Mobile app notification", "FIDO2 security key", "Text message"} <= methods
    assert any(r["location"]["city"] is None for r in records)
    delays = [e.ingestion_delay_s for e in tenant.events_for_day(date(2024, 5, 1))]
    assert min(delays) >= 120 and max(delays) <= 2400 and any(d > 1800 for d in delays)


def test_azure_identity_gets_tokens_the_api_accepts(
    client: httpx.Client, sim: GraphSimulator
) -> None:
    from azure.identity import ClientSecretCredential
    from azure.identity.aio import ClientSecretCredential as AsyncClientSecretCredential

    # Sync (MSAL): instance discovery would ask login.microsoftonline.com, so it is turned off;
    # MSAL then reads this server's openid-configuration.
    credential = ClientSecretCredential(
        "contoso",
        CONTOSO.client_id,
        CONTOSO.client_secret,
        authority=sim.host_port,
        connection_verify=str(sim.cert_path),
        disable_instance_discovery=True,
    )
    token = credential.get_token(SCOPE).token
    url = f"{sim.base_url}/beta/auditLogs/signIns"
    assert client.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 200

    async def async_token() -> str:  # what the Airflow provider's hook uses: no discovery at all
        async with AsyncClientSecretCredential(
            "fabrikam",
            FABRIKAM.client_id,
            FABRIKAM.client_secret,
            authority=sim.host_port,
            connection_verify=False,
        ) as async_credential:
            return (await async_credential.get_token(SCOPE)).token

    headers = {"Authorization": f"Bearer {asyncio.run(async_token())}"}
    records = client.get(url, headers=headers).json()["value"]
    assert records and all("@fabrikam." in r["userPrincipalName"] for r in records)


def test_admin_api_moves_the_clock_and_reports_stats(
    client: httpx.Client, sim: GraphSimulator
) -> None:
    moved = client.post(f"{sim.base_url}/_sim/clock", json={"offset_s": 90})
    assert datetime.fromisoformat(moved.json()["now"]) == NOW + timedelta(seconds=90)
    assert sim.clock() == NOW + timedelta(seconds=90)
    stats = client.get(f"{sim.base_url}/_sim/stats").json()
    assert set(stats) >= {"requests", "tokens_issued", "throttled", "errors_5xx", "dropped"}
    bad = client.post(f"{sim.base_url}/_sim/faults", json={"no_such_fault": 1})
    assert bad.status_code == 400


def test_cli_prints_state_and_stops_on_sigterm(tmp_path: Path) -> None:
    state_file = tmp_path / "state.json"
    command = [
        sys.executable, "-m", "devtools.graph_simulator", "--port", "0",
        "--tenant-id", "cli-tenant", "--signins-per-day", "100", "--no-throttle",
        "--cert-dir", str(tmp_path / "cert"), "--state-file", str(state_file),
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline() if process.stdout else ""
        state = json.loads(line)
        assert state == {**json.loads(state_file.read_text())}
        assert (
            state["base_url"].startswith("https://127.0.0.1:")
            and state["tenant_id"] == "cli-tenant"
        )
        with httpx.Client(verify=ssl.create_default_context(cafile=state["cert"])) as http:
            token = http.post(
                f"{state['base_url']}/{state['tenant_id']}/oauth2/v2.0/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": state["client_id"],
                    "client_secret": state["client_secret"],
                    "scope": SCOPE,
                },
            )
            assert token.status_code == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert not state_file.exists()
    finally:
        if process.poll() is None:
            process.kill()
        if process.stdout:
            process.stdout.close()


def test_one_busy_day_pages_quickly(tmp_path: Path) -> None:
    """20k sign-ins in pages of 1000: a smoke check of speed (the benchmark does 100k)."""
    config = TenantConfig(tenant_id="busy", signins_per_day=20_000)
    clock = SimClock(datetime(2024, 5, 2, 12, tzinfo=UTC), frozen=True)
    faults = FaultConfig(throttle=False)
    with (
        GraphSimulator(config, faults, cert_dir=tmp_path, clock=clock) as busy,
        httpx.Client(verify=False, timeout=10) as client,
    ):
        headers = bearer(client, busy, config)
        started = time.perf_counter()
        types = " or ".join(f"signInEventTypes/any(t: t eq '{t}')" for t in EVENT_TYPES)
        params = {
            "$filter": window_filter(DAY_START, DAY_START + timedelta(days=1), f"({types})"),
            "$top": "1000",
        }
        records, pages = list_collection(client, busy, SIGNINS, headers, params)
        elapsed = time.perf_counter() - started
    assert len(records) == 20_000 and pages == 20
    assert len(set(ids(records))) == 20_000
    assert elapsed < 10, f"paging 20k records took {elapsed:.1f} s"
