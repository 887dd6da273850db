"""Azure Monitor export records (Entra diagnostic settings) -> the Graph records they carry.

Azure Monitor writes each Entra sign-in or directory audit as a record with Azure Monitor's
common top-level fields (``time``, ``resourceId``, ``operationName``, ``category``,
``tenantId``, ``resultType``, ``resultSignature``, ``resultDescription``, ``durationMs``,
``callerIpAddress``, ``correlationId``, ``identity``, ``Level``, ``location``) and the Graph
object itself under ``properties``. These functions rebuild the Graph-shaped record from
``properties`` and run the entra normalisers on it, so a record seen through Graph and
through an export normalises to the same event (see ``doc.md``).

Rules (``fill`` = only when the Graph field is missing, null or blank):

- ``properties`` must be a JSON object, and the top-level ``category`` one of the feed's
  categories (case-insensitive); else ``NormalisationError``. With a configured tenant id,
  a record whose ``tenantId`` names another tenant is refused too.
- Sign-ins: fill ``createdDateTime`` from ``time``, ``ipAddress`` from ``callerIpAddress``,
  ``correlationId`` from ``correlationId``, ``signInEventTypes`` from the category
  (``SignInLogs`` -> ``interactiveUser``, ``NonInteractiveUserSignInLogs`` ->
  ``nonInteractiveUser``, ``ServicePrincipalSignInLogs`` -> ``servicePrincipal``,
  ``ManagedIdentitySignInLogs`` -> ``managedIdentity``), ``status`` from ``resultType`` /
  ``resultDescription``.
- Directory audits: fill ``activityDateTime`` from ``time``, ``activityDisplayName`` from
  ``operationName``, ``correlationId`` from ``correlationId``, ``result`` from ``resultType``;
  the export's numeric ``result`` (``0`` / ``1``, also as text) is respelled as Graph's enum
  (``success`` / ``failure``).
- The documented top-level fields restate ``properties`` or describe the pipeline; they are
  not copied into the event (the landed raw record keeps them). Any other top-level field is
  kept in the event's ``properties["azureMonitor"]``, so nothing unknown is lost.
"""

from __future__ import annotations

from typing import Any

from access_warehouse.contract import NormalisationError
from access_warehouse.sources.entra.directory_audits import normalise_directory_audit
from access_warehouse.sources.entra.signins import normalise_signin

#: Sign-in categories -> the Graph ``signInEventTypes`` value they hold.
SIGNIN_CATEGORIES: dict[str, str] = {
    "SignInLogs": "interactiveUser",
    "NonInteractiveUserSignInLogs": "nonInteractiveUser",
    "ServicePrincipalSignInLogs": "servicePrincipal",
    "ManagedIdentitySignInLogs": "managedIdentity",
}
AUDIT_CATEGORIES: tuple[str, ...] = ("AuditLogs",)
#: feed -> its categories, in the order they are read
GROUPS: dict[str, tuple[str, ...]] = {
    "signins": tuple(SIGNIN_CATEGORIES),
    "directory_audits": AUDIT_CATEGORIES,
}
CATEGORIES: tuple[str, ...] = (*SIGNIN_CATEGORIES, *AUDIT_CATEGORIES)
_BY_LOWER = {name.lower(): name for name in CATEGORIES}

#: Azure Monitor's documented top-level fields (``Level`` is written in either case).
ENVELOPE_FIELDS = frozenset(
    {
        "time",
        "resourceId",
        "operationName",
        "operationVersion",
        "category",
        "tenantId",
        "resultType",
        "resultSignature",
        "resultDescription",
        "durationMs",
        "callerIpAddress",
        "correlationId",
        "identity",
        "Level",
        "level",
        "location",
        "properties",
    }
)
#: Where unknown top-level fields go in the event's ``properties``.
EXTRA_KEY = "azureMonitor"


def canonical_category(value: Any) -> str | None:
    """A category name as Microsoft spells it, or None when it is not one this kind reads."""
    if type(value) is not str:
        return None
    return _BY_LOWER.get(value.strip().lower())


def _blank(value: Any) -> bool:
    return value is None or (type(value) is str and not value.strip())


def _fill(graph: dict[str, Any], key: str, value: Any) -> None:
    if _blank(graph.get(key)) and not _blank(value):
        graph[key] = value


def _unpack(
    record: dict[str, Any], categories: frozenset[str], tenant_id: str | None
) -> tuple[str, dict[str, Any]]:
    """The record's category and a copy of its ``properties`` (checked, see module doc)."""
    raw_category = record.get("category")
    category = canonical_category(raw_category)
    if category is None or category not in categories:
        wanted = ", ".join(sorted(categories))
        raise NormalisationError(f"category {raw_category!r} is not one this feed reads ({wanted})")
    if tenant_id is not None:
        tenant = record.get("tenantId")
        if type(tenant) is str and tenant.strip() and tenant.strip().lower() != tenant_id:
            raise NormalisationError(
                f"tenantId {tenant!r} is not the configured tenant {tenant_id!r}"
            )
    properties = record.get("properties")
    if type(properties) is not dict:
        raise NormalisationError(
            f"`properties` is {type(properties).__name__}, not the object holding the Graph record"
        )
    return category, dict(properties)


def _keep_extras(record: dict[str, Any], events: list[dict[str, Any]]) -> None:
    extras = {key: value for key, value in record.items() if key not in ENVELOPE_FIELDS}
    if extras:
        for event in events:
            event["properties"] = {**event["properties"], EXTRA_KEY: extras}


def _error_code(value: Any) -> int | None:
    if type(value) is int:
        return value
    if type(value) is str and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def graph_signin(record: dict[str, Any], category: str, graph: dict[str, Any]) -> dict:
    """The Graph ``signIn`` an export sign-in record carries (``graph``: its properties)."""
    _fill(graph, "createdDateTime", record.get("time"))
    _fill(graph, "ipAddress", record.get("callerIpAddress"))
    _fill(graph, "correlationId", record.get("correlationId"))
    types = graph.get("signInEventTypes")
    if types is None or types == [] or types == "":
        graph["signInEventTypes"] = [SIGNIN_CATEGORIES[category]]
    if graph.get("status") is None:
        code = _error_code(record.get("resultType"))
        if code is not None:
            status: dict[str, Any] = {"errorCode": code}
            if not _blank(record.get("resultDescription")):
                status["failureReason"] = record["resultDescription"]
            graph["status"] = status
    return graph


_RESULTS = {0: "success", 1: "failure"}


def _graph_result(value: Any) -> Any:
    """The export's numeric result as Graph's enum; anything else as given."""
    if type(value) is int:
        return _RESULTS.get(value, value)
    if type(value) is str and value.strip() in ("0", "1"):
        return _RESULTS[int(value.strip())]
    return value


def graph_directory_audit(record: dict[str, Any], graph: dict[str, Any]) -> dict:
    """The Graph ``directoryAudit`` an export audit record carries (``graph``: properties)."""
    _fill(graph, "activityDateTime", record.get("time"))
    _fill(graph, "activityDisplayName", record.get("operationName"))
    _fill(graph, "correlationId", record.get("correlationId"))
    if _blank(graph.get("result")):
        _fill(graph, "result", record.get("resultType"))
    if "result" in graph:
        graph["result"] = _graph_result(graph["result"])
    return graph


class ExportNormaliser:
    """The normaliser of one export feed: its categories' records -> entra events."""

    def __init__(self, group: str, categories: tuple[str, ...], tenant_id: str | None) -> None:
        self.group = group
        self.categories = frozenset(categories)
        self.tenant_id = tenant_id.strip().lower() if tenant_id else None

    def __call__(self, record: dict[str, Any], source_id: str) -> list[dict[str, Any]]:
        category, graph = _unpack(record, self.categories, self.tenant_id)
        if self.group == "signins":
            events = [normalise_signin(graph_signin(record, category, graph), source_id)]
        else:
            events = normalise_directory_audit(graph_directory_audit(record, graph), source_id)
        _keep_extras(record, events)
        return events

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ExportNormaliser) and (
            self.group,
            self.categories,
            self.tenant_id,
        ) == (other.group, other.categories, other.tenant_id)

    def __hash__(self) -> int:
        return hash((self.group, self.categories, self.tenant_id))
