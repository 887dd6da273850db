"""Great Expectations Core, set up quietly for use inside Airflow tasks.

GX floods Airflow's task log at import (hundreds of ``great_expectations._docs_decorators`` info
lines) and shows progress bars: both are turned off before it is imported. Analytics are off.
"""

from __future__ import annotations

import logging
import os
from typing import Any


def import_gx() -> Any:
    """Import ``great_expectations`` with its import-time noise and analytics switched off."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    logging.getLogger("great_expectations._docs_decorators").setLevel(logging.WARNING)
    import great_expectations as gx

    return gx


def ephemeral_context() -> Any:
    """An in-memory GX data context with progress bars off."""
    gx = import_gx()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context
