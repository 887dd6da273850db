"""Which time window a run extracts: its data interval widened by the feed's lookback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from access_warehouse.landing import ExtractWindow


class WindowError(ValueError):
    """A run's window cannot be determined or is invalid."""


def _parse(name: str, value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        # Airflow hands pendulum datetimes; keep plain stdlib UTC datetimes from here on.
        return datetime.fromtimestamp(value.timestamp(), UTC)
    else:
        try:
            parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError as exc:
            raise WindowError(f"param {name}={value!r} is not an ISO 8601 timestamp") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def last_complete_day(now: datetime) -> tuple[datetime, datetime]:
    """Yesterday, midnight to midnight UTC: the default window of a run with no interval."""
    end = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return end - timedelta(days=1), end


def resolve_window(
    *,
    interval_start: datetime | None,
    interval_end: datetime | None,
    params: dict[str, Any] | None,
    lookback: timedelta,
    now: datetime | None = None,
) -> ExtractWindow:
    """The extract window ``[start - lookback, end)`` of a run.

    Params ``window_start``/``window_end`` win when given (a manual re-extract of any range);
    otherwise the run's data interval; otherwise (a manual or asset-triggered run has none) the
    last complete UTC day. Lookback applies in every case.
    """
    params = params or {}
    start = _parse("window_start", params.get("window_start"))
    end = _parse("window_end", params.get("window_end"))
    if (start is None) != (end is None):
        raise WindowError("give both window_start and window_end, or neither")
    if start is None:
        start, end = (
            _parse("data_interval_start", interval_start),
            _parse("data_interval_end", interval_end),
        )
    if start is None or end is None or start == end:
        start, end = last_complete_day(now or datetime.now(UTC))
    if start > end:
        raise WindowError(f"window_start {start.isoformat()} is after window_end {end.isoformat()}")
    return ExtractWindow(start - lookback, end, lookback)
