"""A Microsoft Graph simulator for Entra ID sign-in and directory audit logs, over a deterministic
synthetic tenant.

Start it from Python (``GraphSimulator(TenantConfig()).start()``) or from the command line
(``python -m devtools.graph_simulator``); see README.md in this package.
"""

from .directory_audits import CATEGORIES as DIRECTORY_AUDIT_CATEGORIES
from .directory_audits import AuditRow, DirectoryAuditEvent
from .odata import (
    DirectoryAuditFilter,
    ODataError,
    SignInFilter,
    parse_directory_audit_filter,
    parse_filter,
)
from .server import FaultConfig, GraphSimulator, SimClock, SimulatorStats
from .tenant import EVENT_TYPES, V1_FIELDS, EventRow, SignInEvent, SyntheticTenant, TenantConfig

__all__ = [
    "DIRECTORY_AUDIT_CATEGORIES",
    "EVENT_TYPES",
    "V1_FIELDS",
    "AuditRow",
    "DirectoryAuditEvent",
    "DirectoryAuditFilter",
    "EventRow",
    "FaultConfig",
    "GraphSimulator",
    "ODataError",
    "SignInEvent",
    "SignInFilter",
    "SimClock",
    "SimulatorStats",
    "SyntheticTenant",
    "TenantConfig",
    "parse_directory_audit_filter",
    "parse_filter",
]
