"""What the crash tests share with the process they kill."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from toy_kind import TOY

from access_warehouse.config import parse_sources
from access_warehouse.landing import ExtractWindow
from access_warehouse.sources.base import Feed
from access_warehouse.sources.registry import register_kind

register_kind(TOY)
DAY = datetime(2026, 11, 10, tzinfo=UTC)
WINDOW = ExtractWindow(DAY, DAY + timedelta(days=1))


def toy_feed(path: str) -> Feed:
    entry = {"kind": "toy", "name": "crash", "path": path, "page_size": 50}
    return parse_sources([entry], "crash test").feeds()[0]
