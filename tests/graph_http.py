"""Talking to the Graph simulator over real HTTPS in tests: tokens, bearer headers, listing a
collection to its last page, Graph's error bodies, and the fixtures of a simulator test module."""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from devtools.graph_simulator import FaultConfig, GraphSimulator, SimClock, TenantConfig

NOW = datetime(2024, 5, 1, 14, 0, tzinfo=UTC)  # working hours: many records still in ingestion
DAY_START = datetime(2024, 5, 1, tzinfo=UTC)
SCOPE = "https://graph.microsoft.com/.default"
#: Collection paths below ``/{version}/``.
SIGNINS = "auditLogs/signIns"
DIRECTORY_AUDITS = "auditLogs/directoryAudits"


def simulator_fixtures(*tenants: TenantConfig) -> tuple[Any, Any, Any]:
    """The ``sim``, ``fresh_state`` (autouse) and ``client`` fixtures of a test module whose
    simulator serves ``tenants``.

    Assign them to those three names at module level: pytest finds fixtures by module attribute,
    and importing them by name instead would shadow them in every test's arguments.
    """

    @pytest.fixture(scope="module")
    def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GraphSimulator]:
        clock = SimClock(NOW, frozen=True)
        cert_dir = tmp_path_factory.mktemp("cert")
        with GraphSimulator(list(tenants), cert_dir=cert_dir, clock=clock) as simulator:
            yield simulator

    @pytest.fixture(autouse=True)
    def fresh_state(sim: GraphSimulator) -> None:
        """Every test starts at NOW with throttling off and zeroed counters."""
        sim.faults = FaultConfig(throttle=False)
        sim.clock = SimClock(NOW, frozen=True)
        sim.reset_stats()

    @pytest.fixture(scope="module")
    def client(sim: GraphSimulator) -> Iterator[httpx.Client]:
        # Verify TLS for real: the generated certificate is its own trust anchor.
        context = ssl.create_default_context(cafile=str(sim.cert_path))
        with httpx.Client(verify=context, timeout=10) as http:
            yield http

    return sim, fresh_state, client


def get_token(
    client: httpx.Client,
    sim: GraphSimulator,
    config: TenantConfig | None = None,
    **overrides: str,
) -> httpx.Response:
    """A client-credentials token request for ``config`` (default: the simulator's first tenant);
    ``overrides`` replace form fields, and ``tenant`` the tenant in the URL."""
    config = config or sim.tenants[0].config
    tenant = overrides.pop("tenant", config.tenant_id)
    form = {
        "grant_type": "client_credentials",
        "client_id": config.client_id,
        "client_secret": config.client_secret,
        "scope": SCOPE,
        **overrides,
    }
    return client.post(f"{sim.base_url}/{tenant}/oauth2/v2.0/token", data=form)


def bearer(
    client: httpx.Client, sim: GraphSimulator, config: TenantConfig | None = None
) -> dict[str, str]:
    response = get_token(client, sim, config)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def list_collection(
    client: httpx.Client,
    sim: GraphSimulator,
    collection: str,
    headers: dict[str, str],
    params: dict[str, str],
    *,
    version: str = "beta",
    after_first_page: Callable[[], object] | None = None,
) -> tuple[list[dict], int]:
    """Follow ``collection``'s nextLinks (e.g. :data:`SIGNINS`) to the end; return
    (records, pages)."""
    url: str | None = f"{sim.base_url}/{version}/{collection}"
    records: list[dict] = []
    pages = 0
    query: dict[str, str] | None = params
    while url:
        response = client.get(url, params=query, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["@odata.context"].endswith(f"$metadata#{collection}")
        records.extend(body["value"])
        pages += 1
        url, query = body.get("@odata.nextLink"), None
        if url:
            assert url.startswith(f"https://{sim.host_port}/{version}/{collection}?")
        if pages == 1 and after_first_page is not None:
            after_first_page()
    return records, pages


def assert_graph_error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    assert set(error["innerError"]) >= {"date", "request-id", "client-request-id"}
    return error


def ids(records: list[dict]) -> list[str]:
    return [r["id"] for r in records]
