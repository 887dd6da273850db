"""The demo's HTTP and file sources: files it writes in each file kind's documented shape, by
the same people who sign in to the simulated Entra tenant, and the Cloudflare Access simulator.

Files go under ``<data dir>/demo-files/``; the shipped config finds them through
``${ACCESS_WAREHOUSE_DATA}`` (file source paths expand environment variables).
"""

from __future__ import annotations

import gzip
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

FOLDER = "demo-files"

#: The demo's ECS events of one person: (offset minutes, category, action, outcome, target).
_ECS_EVENTS = [
    (5, "authentication", "login", "success", "https://ci.example.com"),
    (6, "iam", "role-granted", "success", "https://ci.example.com/admin"),
    (30, "authentication", "login", "failure", "https://ci.example.com"),
    (45, "file", "artifact-download", "success", "https://ci.example.com/artifacts/build-42"),
    (50, "process", "build-started", "success", "https://ci.example.com/builds/42"),
]


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def write_ecs(root: Path, people: list[str], day: datetime) -> Path:
    """ECS audit events as JSON lines (EngFlow's shape), one bad line among them."""
    folder = root / FOLDER / "ecs"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"audit-{day:%Y-%m-%d}.jsonl"
    if path.exists():  # a file is written once, as a log shipper would: a rerun reads none
        return path
    lines = []
    for number, person in enumerate(people):
        for minutes, category, action, outcome, url in _ECS_EVENTS:
            at = day + timedelta(hours=9 + number, minutes=minutes)
            lines.append(
                json.dumps(
                    {
                        "@timestamp": _iso(at),
                        "event": {
                            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{person}{at}{action}")),
                            "category": [category],
                            "action": action,
                            "outcome": outcome,
                            "kind": "event",
                        },
                        "user": {"email": person, "name": person.split("@")[0]},
                        "source": {"ip": f"203.0.113.{10 + number}"},
                        "user_agent": {"original": "Mozilla/5.0 (X11; Linux x86_64)"},
                        "url": {"full": url},
                        "service": {"name": "engflow"},
                    }
                )
            )
    lines.insert(3, '{"@timestamp": "2026-11-30T10:00:00Z", "event": ')  # a line cut in two
    path.write_text("\n".join(lines) + "\n")
    return path


def write_logpush(root: Path, people: list[str], day: datetime) -> Path:
    """Logpush http_requests records (gzip JSON lines) with the Access identity header."""
    folder = root / FOLDER / "logpush" / f"{day:%Y%m%d}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{day:%Y%m%dT%H%M%SZ}_http_requests.log.gz"
    if path.exists():
        return path
    lines = []
    requests = [("GET", "/dashboard", 200), ("POST", "/api/export", 403), ("GET", "/", 200)]
    for number, person in enumerate([*people, None]):
        for offset, (method, url_path, status) in enumerate(requests):
            at = day + timedelta(hours=10 + number, minutes=offset)
            headers = {"cf-access-user": person} if person else {}
            lines.append(
                json.dumps(
                    {
                        "RayID": f"8{number}{offset}a1b2c3d4e5f6{day:%d}",
                        "EdgeStartTimestamp": _iso(at),
                        "ClientIP": f"198.51.100.{20 + number}",
                        "ClientCountry": "de",
                        "ClientRequestHost": "intranet.contoso.com",
                        "ClientRequestMethod": method,
                        "ClientRequestPath": url_path,
                        "ClientRequestUserAgent": "Mozilla/5.0",
                        "EdgeResponseStatus": status,
                        "RequestHeaders": headers,
                    }
                )
            )
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as handle:
        handle.write(("\n".join(lines) + "\n").encode())  # mtime 0: the same bytes every demo
    return path


def write_azure_monitor(
    root: Path, dsn: str, entra_source_id: str, tenant_guid: str, day: datetime, limit: int = 50
) -> tuple[Path, int]:
    """An Entra diagnostic-settings export (blob layout, one record per line) of sign-ins the
    Graph feed already loaded: Azure Monitor's top-level fields around the Graph record, as
    the export writes them. Loaded, they must add no event."""
    folder = (
        root
        / FOLDER
        / "azure-monitor"
        / "insights-logs-signinlogs"
        / f"resourceId=/tenants/{tenant_guid}/providers/Microsoft.aadiam"
        / f"y={day:%Y}/m={day:%m}/d={day:%d}/h=12/m=00"
    )
    path = folder / "PT1H.json"
    if path.exists():
        return path, len(path.read_text().splitlines())
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT DISTINCT ON (r.payload->>'id') r.payload FROM landing.records r "
            "JOIN landing.extract_batches b USING (batch_id) "
            "WHERE b.source_id = %s AND b.status = 'loaded' "
            "AND r.payload->>'createdDateTime' >= %s AND r.payload->>'createdDateTime' < %s "
            "ORDER BY r.payload->>'id' LIMIT %s",
            (entra_source_id, _iso(day), _iso(day + timedelta(days=1)), limit),
        ).fetchall()
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for (record,) in rows:
        if "interactiveUser" not in (record.get("signInEventTypes") or ["interactiveUser"]):
            continue
        lines.append(
            json.dumps(
                {
                    "time": record["createdDateTime"],
                    "resourceId": f"/tenants/{tenant_guid}/providers/Microsoft.aadiam",
                    "operationName": "Sign-in activity",
                    "operationVersion": "1.0",
                    "category": "SignInLogs",
                    "tenantId": tenant_guid,
                    "resultType": str((record.get("status") or {}).get("errorCode", 0)),
                    "resultSignature": "None",
                    "durationMs": 0,
                    "callerIpAddress": record.get("ipAddress"),
                    "correlationId": record.get("correlationId"),
                    "identity": record.get("userDisplayName"),
                    "Level": 4,
                    "location": (record.get("location") or {}).get("countryOrRegion"),
                    "properties": record,
                }
            )
        )
    path.write_text("\n".join(lines) + "\n")
    return path, len(lines)


def write_mission_control(root: Path, people: list[str], day: datetime) -> Path:
    """A Mission Control scraper's output: a config item with its access_logs."""
    folder = root / FOLDER / "mission-control"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"scrape-{day:%Y%m%d}.jsonl"
    if path.exists():
        return path
    result: dict[str, Any] = {
        "id": "github-org-contoso",
        "type": "GitHub::Organization",
        "name": "contoso",
        "access_logs": [
            {
                "external_user_aliases": [person],
                "created_at": _iso(day + timedelta(hours=14 + number)),
                "mfa": number == 0,
                "count": 3 + number,
            }
            for number, person in enumerate(people)
        ],
    }
    path.write_text(json.dumps(result) + "\n")
    return path
