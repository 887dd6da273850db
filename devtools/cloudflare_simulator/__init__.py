"""A Cloudflare API simulator for Access authentication logs, over a deterministic synthetic
account whose users are mostly the Graph simulator tenant's users.

Run it in its own process (``python -m devtools.cloudflare_simulator``, or
:class:`SimulatorProcess` from tests) or in-process (:class:`CloudflareSimulator`); see
README.md in this package.
"""

from .account import AccountConfig, Login, SyntheticAccount, format_created_at
from .process import SimulatorProcess, http_connection_json
from .server import PAGE_FAULTS, CloudflareSimulator, FaultConfig, SimulatorStats

__all__ = [
    "PAGE_FAULTS",
    "AccountConfig",
    "CloudflareSimulator",
    "FaultConfig",
    "Login",
    "SimulatorProcess",
    "SimulatorStats",
    "SyntheticAccount",
    "format_created_at",
    "http_connection_json",
]
