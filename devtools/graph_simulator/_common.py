"""What the sign-in and directory-audit generators share: the daily rhythm, ingestion delays,
the compact day layout, and a few fast helpers.

Rows of both feeds are plain tuples that start with ``(ts, visible, created, id, ...)``, so the
tenant's day cache and range queries treat them alike.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, NamedTuple

# Relative activity per UTC hour: quiet nights, a working-day plateau, an evening tail.
HOUR_WEIGHTS: tuple[float, ...] = (
    0.15, 0.12, 0.1, 0.1, 0.12, 0.2, 0.4, 0.8, 1.3, 1.6, 1.7, 1.6,
    1.4, 1.6, 1.7, 1.6, 1.4, 1.1, 0.8, 0.6, 0.45, 0.35, 0.25, 0.2,
)  # fmt: skip
HOUR_CUM: list[float] = [sum(HOUR_WEIGHTS[: i + 1]) for i in range(24)]

#: Ingestion delay bounds (seconds): every record is visible 2..40 min after it happened.
MIN_DELAY_S = 120
MAX_DELAY_S = 2400

#: Row positions every feed shares.
TS, VISIBLE, CREATED, ID = 0, 1, 2, 3


class Day(NamedTuple):
    """One generated UTC day of one feed."""

    events: list[Any]  # rows, newest first
    neg_ts: list[int]  # -ts of each row, ascending, for bisect


def uuid_str(bits: int) -> str:
    """Format 128 random bits as a version-4 UUID string (several times faster than uuid.UUID)."""
    h = f"{bits:032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def ingestion_delay(r: float) -> int:
    """Seconds until a record is visible, from a uniform draw: mostly a few minutes, a long
    tail beyond 30 minutes."""
    return MIN_DELAY_S + int(r**4 * (MAX_DELAY_S - MIN_DELAY_S))


def epoch(moment: datetime) -> float:
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: pass a timezone-aware UTC datetime")
    return moment.timestamp()


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while building many acyclic objects.

    Bulk-creating containers triggers repeated full collections over an ever larger heap, which
    triples the cost of generating or rendering a large day; these objects hold no cycles.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
