"""The Airflow Assets the DAGs update and schedule on (one place, so producers and consumers
name the same URI)."""

from __future__ import annotations

from airflow.sdk import Asset

#: Updated by every load; its events' extra carries the UTC days the load touched
#: (``{"source_id": ..., "days": ["2026-11-30", ...]}``). ``access_reporting`` runs on it.
ACCESS_EVENTS = Asset("warehouse://audit/access_events")
#: Updated by every population snapshot (``access_populations``); ``access_reporting`` too.
POPULATIONS = Asset("warehouse://audit/populations")
