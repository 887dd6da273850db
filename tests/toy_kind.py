"""A source kind that exists only in the tests: proof that a kind is one module.

Registered by ``conftest.py`` (nothing in the product names it); it then gets a DAG, config
validation and the contract tests of every kind without a change anywhere else.

It reads an append-only JSON-lines file. Each line is a record such as
``{"id": "toy-1", "at": "2026-11-10T08:00:00Z", "seq": 4, "user": "ann@example.com",
"resource": "/admin", "ok": true}``. In ``window`` mode it selects records by ``at``; in
``bookmark`` mode it reads forward from a position ``(seq, line number)``, so records that share a
``seq`` are told apart by their line.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from access_warehouse.contract import NORMALISED_COLUMNS
from access_warehouse.normalise import clean_text, record_key
from access_warehouse.sources.base import (
    Bookmark,
    Feed,
    FetchRequest,
    Page,
    SourceConfig,
    SourceKind,
    TimeWindow,
    valid_cron,
)

DOC = """Toy events from a JSON-lines file (tests only). Natural key: `id`; time: `at`;
`ok` -> outcome; `user` -> actor; `resource` -> target (type `url`)."""


class ToySource(SourceConfig):
    kind: Literal["toy"]
    path: str
    mode: Literal["window", "bookmark"] = "window"
    schedule: str = "0 0 * * *"
    lookback_minutes: int = Field(0, ge=0)
    page_size: int = Field(3, ge=1)

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        return valid_cron(value)

    def feeds(self) -> list[Feed]:
        selection = (
            TimeWindow(lookback=timedelta(minutes=self.lookback_minutes), time_field="at")
            if self.mode == "window"
            else Bookmark(cursor="seq", tiebreak="line number")
        )
        return [
            Feed(
                source_id=f"toy:{self.name}",
                dag_id=f"toy_{self.name}",
                record_kind="toy_events",
                title=f"Toy events ({self.name})",
                schedule=self.schedule,
                selection=selection,
                fetch=lambda request: fetch(self, request),
                normalise=normalise_toy,
                expectations=toy_expectations,
                doc_md=f"{DOC}\n\nFile `{self.path}`, mode `{self.mode}`.",
                tags=("toy",),
                max_active_runs=1,
            )
        ]


def _lines(path: str) -> list[tuple[int, Any]]:
    records = []
    for number, line in enumerate(Path(path).read_text().splitlines(), start=1):
        if line.strip():
            try:
                records.append((number, json.loads(line)))
            except ValueError:
                records.append((number, line))  # the source sent text: land it as text
    return records


def _seq(record: Any) -> int:
    seq = record.get("seq") if isinstance(record, dict) else None
    return seq if type(seq) is int else 0


def _in_window(record: Any, start: datetime, end: datetime) -> bool:
    try:
        at = datetime.fromisoformat(str(record["at"]).replace("Z", "+00:00"))
    except (KeyError, TypeError, ValueError):
        return True  # no usable time: the source cannot filter it out, so it lands
    if at.tzinfo is None:
        return True
    return start <= at < end


def fetch(source: ToySource, request: FetchRequest) -> Iterator[Page]:
    lines = _lines(source.path)
    request.stats.requests += 1
    if source.mode == "window":
        window = request.window
        chosen = [(0, n, r) for n, r in lines if _in_window(r, window.start, window.end)]
    else:
        after = request.after
        start = (after["cursor"], after["key"]) if after else None
        ordered = sorted((_seq(r), n, r) for n, r in lines)
        chosen = [row for row in ordered if start is None or (row[0], row[1]) > start]
    for offset in range(0, len(chosen), source.page_size):
        page = chosen[offset : offset + source.page_size]
        seq, line, _ = page[-1]
        position = {"cursor": seq, "key": line} if source.mode == "bookmark" else None
        yield Page(records=[record for _, _, record in page], position=position)


def normalise_toy(record: dict[str, Any], source_id: str) -> dict[str, Any]:
    event_id, occurred_at = record_key(record, "at")
    ok = record.get("ok")
    event = dict.fromkeys(NORMALISED_COLUMNS)
    event.update(
        source_id=source_id,
        event_id=event_id,
        occurred_at=occurred_at,
        category="web",
        action="access",
        outcome="success" if ok is True else "failure" if ok is False else "unknown",
        actor_external_id=clean_text(record.get("user")),
        actor_principal_name=clean_text(record.get("user")),
        actor_type="user",
        target_external_id=clean_text(record.get("resource")),
        target_name=clean_text(record.get("resource")),
        target_type="url" if record.get("resource") else None,
        properties={k: v for k, v in record.items() if k not in ("id", "at", "user", "ok")},
    )
    return event


def toy_expectations(gx: Any) -> list[Any]:
    """Beyond the shared suite: toy ids start with ``toy-``."""
    return [gx.expectations.ExpectColumnValuesToMatchRegex(column="event_id", regex=r"^toy-")]


TOY = SourceKind(
    name="toy",
    config=ToySource,
    summary="toy events from a JSON-lines file (tests only)",
    doc=DOC,
    example={"name": "example", "path": "/nonexistent/toy.jsonl"},
)


def toy_line(n: int, *, seq: int = 0, at: datetime | None = None, ok: bool = True) -> str:
    """One record of the toy file."""
    at = at or datetime(2026, 11, 10, 8, tzinfo=UTC) + timedelta(minutes=n)
    return json.dumps(
        {
            "id": f"toy-{n}",
            "at": at.isoformat().replace("+00:00", "Z"),
            "seq": seq,
            "user": f"user{n % 3}@example.com",
            "resource": f"/app/{n % 2}",
            "ok": ok,
        }
    )
