"""A Microsoft Graph simulator for Entra ID sign-in logs, over a deterministic synthetic tenant.

Start it from Python (``GraphSimulator(TenantConfig()).start()``) or from the command line
(``python -m access_warehouse.simulator``); see README.md in this package.
"""

from .odata import ODataError, SignInFilter, parse_filter
from .server import FaultConfig, GraphSimulator, SimClock, SimulatorStats
from .tenant import EVENT_TYPES, V1_FIELDS, EventRow, SignInEvent, SyntheticTenant, TenantConfig

__all__ = [
    "EVENT_TYPES",
    "V1_FIELDS",
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
    "parse_filter",
]
