"""Azure Monitor exports of Entra logs: real blobs in the diagnostic-settings layout (local
folders), the real shared extract and load, and the real Graph simulator for the same day.

The key property: a sign-in seen through Graph and through an export is one row, whichever
is loaded first (the export's feeds write under the Graph feeds' source ids).
"""

from __future__ import annotations

import copy
import json
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from dag_runs import use_graph
from warehouse_asserts import audit_snapshot, event_ids

from access_warehouse.config import ConfigError, parse_sources
from access_warehouse.extract import extract
from access_warehouse.landing import ExtractWindow
from access_warehouse.load import load_batch
from access_warehouse.sources.azure_monitor_export import container
from access_warehouse.sources.base import Feed
from access_warehouse.sources.entra import SIGNIN_EVENT_TYPES
from devtools.graph_simulator.server import FaultConfig, GraphSimulator, SimClock
from devtools.graph_simulator.tenant import TenantConfig

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "azure_monitor_export"
TENANT_ID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
DAY = datetime(2026, 11, 10, tzinfo=UTC)
#: Graph signInEventTypes -> the diagnostic-settings category Azure Monitor files it under
CATEGORY_OF = {
    "interactiveUser": "SignInLogs",
    "nonInteractiveUser": "NonInteractiveUserSignInLogs",
    "servicePrincipal": "ServicePrincipalSignInLogs",
    "managedIdentity": "ManagedIdentitySignInLogs",
}


def sample(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}_sample.json").read_text())


def blob_path(root: Path, category: str, tenant_id: str, hour: datetime) -> Path:
    return (
        root
        / container(category)
        / f"resourceId=/tenants/{tenant_id}/providers/Microsoft.aadiam"
        / f"y={hour:%Y}/m={hour:%m}/d={hour:%d}/h={hour:%H}/m=00/PT1H.json"
    )


def write_blob(path: Path, records: list[dict[str, Any]], envelope: bool | str) -> None:
    """``envelope`` True: compact, as Azure Monitor writes it; "pretty": indented, as
    Microsoft's documented sample shows it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if envelope == "pretty":
        path.write_text(json.dumps({"records": records}, indent=2))
    elif envelope:
        path.write_text(json.dumps({"records": records}))
    else:
        path.write_text("".join(json.dumps(record) + "\n" for record in records))


def sources(root: Path, *, graph: bool = True, **export: Any) -> dict[str, Feed]:
    entries: list[dict[str, Any]] = []
    if graph:
        entries.append(
            {
                "kind": "entra",
                "name": "contoso",
                "tenant_id": "contoso",
                "conn_id": "msgraph_default",
                "signins": {"page_size": 200, "max_requests_per_10s": None},
            }
        )
    entries.append(
        {
            "kind": "azure_monitor_export",
            "name": "archive",
            "path": str(root),
            "tenant": "contoso",
            **export,
        }
    )
    return {feed.dag_id: feed for feed in parse_sources(entries, "test").feeds()}


def extract_and_load(dsn: str, feed: Feed, window: ExtractWindow | None = None) -> Any:
    extracted = extract(dsn, feed, window=window)
    return extracted, load_batch(dsn, extracted.batch_id, feed)


def count_rows(dsn: str, source_id: str) -> int:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT count(*) FROM audit.access_events WHERE source_id = %s", (source_id,)
        ).fetchone()[0]


# --- the config --------------------------------------------------------------------------


def test_one_feed_per_category_group_under_the_graph_feeds_source_ids(tmp_path: Path) -> None:
    feeds = sources(tmp_path)
    signins = feeds["azure_monitor_export_archive_signins"]
    audits = feeds["azure_monitor_export_archive_directory_audits"]
    assert signins.source_id == feeds["entra_signins"].source_id == "entra:contoso:signins"
    assert audits.source_id == feeds["entra_directory_audits"].source_id
    assert signins.shares_source_id and audits.shares_source_id
    assert not feeds["entra_signins"].shares_source_id
    only_audits = sources(tmp_path, categories=["auditlogs"])
    assert "azure_monitor_export_archive_signins" not in only_audits
    assert "azure_monitor_export_archive_directory_audits" in only_audits


def test_two_owners_of_one_source_id_are_still_refused(tmp_path: Path) -> None:
    entra = {"kind": "entra", "tenant_id": "t", "conn_id": "msgraph_default"}
    clash = [{**entra, "name": "a"}, {**entra, "name": "a", "conn_id": "msgraph_b"}]
    with pytest.raises(ConfigError, match="unique per kind"):
        parse_sources(clash, "test")
    export = {"kind": "azure_monitor_export", "path": str(tmp_path), "tenant": "a"}
    parse_sources([{**entra, "name": "a"}, {**export, "name": "x"}, {**export, "name": "y"}], "t")
    with pytest.raises(ConfigError, match="unknown category 'RiskyUsers'"):
        parse_sources([{**export, "name": "x", "categories": ["RiskyUsers"]}], "test")
    with pytest.raises(ConfigError, match="without a glob"):
        parse_sources([{**export, "name": "x", "path": f"{tmp_path}/*"}], "test")


# --- documented sample records in both file formats ------------------------------------------


def _signins(category: str, count: int, hour: datetime, prefix: str) -> list[dict[str, Any]]:
    records = []
    for index in range(count):
        record = copy.deepcopy(sample("signinlogs"))
        when = hour + timedelta(minutes=5 * index)
        record["category"] = category
        record["time"] = f"{when:%Y-%m-%dT%H:%M:%S}.5522137Z"
        record["properties"]["id"] = f"{prefix}-{index:04d}-4005-bb11-b344eca03c01"
        record["properties"]["createdDateTime"] = f"{when:%Y-%m-%dT%H:%M:%S}.5522137+00:00"
        records.append(record)
    return records


def _audits(count: int, hour: datetime) -> list[dict[str, Any]]:
    records = []
    for index in range(count):
        record = copy.deepcopy(sample("auditlogs"))
        when = hour + timedelta(minutes=7 * index)
        record["time"] = f"{when:%Y-%m-%dT%H:%M:%S}.6161822Z"
        record["properties"]["id"] = f"Directory_VNXV4_{index:08d}"
        record["properties"]["activityDateTime"] = f"{when:%Y-%m-%dT%H:%M:%S}.6161822+00:00"
        records.append(record)
    return records


def test_export_blobs_load_every_record_once_into_the_right_feed(
    tmp_path: Path, warehouse_dsn: str
) -> None:
    hour = DAY.replace(hour=9)
    interactive = _signins("SignInLogs", 3, hour, "0231f922")
    later = _signins("SignInLogs", 2, hour + timedelta(hours=1), "1231f922")
    non_interactive = _signins("NonInteractiveUserSignInLogs", 4, hour, "2231f922")
    audits = _audits(3, hour)
    write_blob(blob_path(tmp_path, "SignInLogs", TENANT_ID, hour), interactive, envelope=False)
    write_blob(blob_path(tmp_path, "SignInLogs", TENANT_ID, hour + timedelta(hours=1)), later, True)
    write_blob(
        blob_path(tmp_path, "NonInteractiveUserSignInLogs", TENANT_ID, hour),
        non_interactive,
        envelope=True,
    )
    write_blob(blob_path(tmp_path, "AuditLogs", TENANT_ID, hour), audits, envelope="pretty")
    # not read: a category this kind does not map, and another tenant's folder
    write_blob(blob_path(tmp_path, "RiskyUsers", TENANT_ID, hour), interactive, envelope=False)
    other = _signins("SignInLogs", 2, hour, "9231f922")
    write_blob(blob_path(tmp_path, "SignInLogs", "0" * 8 + TENANT_ID[8:], hour), other, False)
    feeds = sources(tmp_path, graph=False, tenant_id=TENANT_ID)
    signins = feeds["azure_monitor_export_archive_signins"]
    directory = feeds["azure_monitor_export_archive_directory_audits"]

    extracted, loaded = extract_and_load(warehouse_dsn, signins)
    assert extracted.requests["files_read"] == 3
    assert (loaded.extracted, loaded.inserted, loaded.quarantined) == (9, 9, 0)
    _, audit_load = extract_and_load(warehouse_dsn, directory)
    assert (audit_load.extracted, audit_load.inserted, audit_load.quarantined) == (3, 3, 0)

    expected_signins = {r["properties"]["id"] for r in interactive + later + non_interactive}
    assert sorted(event_ids(warehouse_dsn, "entra:contoso:signins")) == sorted(expected_signins)
    assert sorted(event_ids(warehouse_dsn, "entra:contoso:directory_audits")) == sorted(
        f"{r['properties']['id']}:0" for r in audits
    )
    with psycopg.connect(warehouse_dsn) as conn:
        kinds = dict(
            conn.execute(
                "SELECT event_id, properties->'signInEventTypes'->>0 FROM audit.access_events"
                " WHERE source_id = 'entra:contoso:signins'"
            ).fetchall()
        )
    assert {kinds[r["properties"]["id"]] for r in non_interactive} == {"nonInteractiveUser"}
    assert {kinds[r["properties"]["id"]] for r in interactive} == {"interactiveUser"}

    before = audit_snapshot(warehouse_dsn)
    for feed in (signins, directory):  # a rerun reads no unchanged file and changes nothing
        again, reloaded = extract_and_load(warehouse_dsn, feed)
        assert again.records == 0 and again.requests["files_skipped"] >= 1
        assert (reloaded.inserted, reloaded.updated) == (0, 0)
    assert audit_snapshot(warehouse_dsn) == before

    # the hour's blob grows (Azure Monitor appends until the hour is over): read again whole,
    # the new record inserted, the old ones unchanged
    grown = interactive + _signins("SignInLogs", 1, hour + timedelta(minutes=40), "3231f922")
    path = blob_path(tmp_path, "SignInLogs", TENANT_ID, hour)
    write_blob(path, grown, envelope=False)
    _, regrown = extract_and_load(warehouse_dsn, signins)
    assert (regrown.extracted, regrown.inserted, regrown.updated) == (4, 1, 0)


# --- the same day through Graph and through an export ----------------------------------------


@pytest.fixture
def graph(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[GraphSimulator]:
    clock = SimClock(DAY + timedelta(days=2), frozen=True)
    with GraphSimulator(
        TenantConfig(tenant_id="contoso", signins_per_day=400),
        FaultConfig(throttle=False),
        cert_dir=tmp_path / "cert",
        clock=clock,
    ) as simulator:
        use_graph(monkeypatch, simulator, "contoso")
        yield simulator


def as_exported(signin: dict[str, Any], tenant_id: str) -> tuple[str, dict[str, Any]]:
    """A Graph beta sign-in as Azure Monitor archives it: its category, the common top-level
    fields, the object under ``properties`` with the export's 7-digit ``+00:00`` time."""
    category = CATEGORY_OF[signin["signInEventTypes"][0]]
    seconds = signin["createdDateTime"].removesuffix("Z").partition(".")[0]
    status = signin.get("status") or {}
    properties = {**signin, "createdDateTime": f"{seconds}.0000000+00:00"}
    return category, {
        "time": f"{seconds}.0000000Z",
        "resourceId": f"/tenants/{tenant_id}/providers/Microsoft.aadiam",
        "operationName": "Sign-in activity",
        "operationVersion": "1.0",
        "category": category,
        "tenantId": tenant_id,
        "resultType": str(status.get("errorCode")),
        "resultSignature": "None",
        "resultDescription": status.get("failureReason"),
        "durationMs": 0,
        "callerIpAddress": signin.get("ipAddress"),
        "correlationId": signin.get("correlationId"),
        "identity": signin.get("userDisplayName") or signin.get("servicePrincipalName"),
        "Level": 4,
        "location": (signin.get("location") or {}).get("countryOrRegion"),
        "properties": properties,
    }


def write_export_of(root: Path, served: list[dict[str, Any]]) -> int:
    """The served sign-ins as hourly blobs per category (interactive ones as the envelope,
    the others one record per line); returns the number of blobs."""
    blobs: dict[Path, list[dict[str, Any]]] = defaultdict(list)
    for signin in sorted(served, key=lambda record: record["createdDateTime"]):
        category, record = as_exported(signin, TENANT_ID)
        when = datetime.fromisoformat(signin["createdDateTime"].replace("Z", "+00:00"))
        hour = when.replace(minute=0, second=0, microsecond=0)
        blobs[blob_path(root, category, TENANT_ID, hour)].append(record)
    for path, records in blobs.items():
        write_blob(path, records, envelope="insights-logs-signinlogs" in str(path))
    return len(blobs)


@pytest.mark.parametrize("first", ["graph", "export"])
def test_a_signin_seen_through_graph_and_an_export_is_one_row(
    first: str, tmp_path: Path, graph: GraphSimulator, warehouse_dsn: str
) -> None:
    served = graph.tenant("contoso").signins(
        DAY, DAY + timedelta(days=1), event_types=SIGNIN_EVENT_TYPES
    )
    ids = {record["id"] for record in served}
    assert len(ids) == len(served) > 100
    assert {record["signInEventTypes"][0] for record in served} == set(SIGNIN_EVENT_TYPES)
    root = tmp_path / "storage"
    assert write_export_of(root, served) > 4
    feeds = sources(root, tenant_id=TENANT_ID)
    graph_feed = feeds["entra_signins"]
    export_feed = feeds["azure_monitor_export_archive_signins"]
    window = ExtractWindow(DAY, DAY + timedelta(days=1))

    runs = [(graph_feed, window), (export_feed, None)]
    if first == "export":
        runs.reverse()
    (_, first_load), (_, second_load) = (
        extract_and_load(warehouse_dsn, feed, run_window) for feed, run_window in runs
    )

    assert first_load.inserted == len(ids) and first_load.quarantined == 0
    assert second_load.extracted == len(served) and second_load.quarantined == 0
    # every sign-in was already there: same natural key, and (properties being the Graph beta
    # object) the same normalised event, so not even an update
    assert (second_load.inserted, second_load.updated) == (0, 0)
    assert count_rows(warehouse_dsn, "entra:contoso:signins") == len(ids)
    assert sorted(event_ids(warehouse_dsn, "entra:contoso:signins")) == sorted(ids)

    before = audit_snapshot(warehouse_dsn)
    for feed, run_window in runs:  # reruns of either, in any order, change nothing
        _, rerun = extract_and_load(warehouse_dsn, feed, run_window)
        assert (rerun.inserted, rerun.updated) == (0, 0)
    assert audit_snapshot(warehouse_dsn) == before
