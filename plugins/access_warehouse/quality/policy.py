"""What a source's batch-level checks allow: the ``quality:`` block of a source in
``sources.yaml`` (every kind has it; the defaults apply where it is left out)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

#: The batch-level checks, by the name their results and errors use.
CHECKS = ("quarantine_share", "volume", "no_events", "freshness")


class QualityPolicy(BaseModel):
    """Thresholds of the checks that fail a whole window (nothing of it loads).

    - ``quarantine_share``: more than ``max_quarantine_share`` of a batch's records quarantined
      (batches of at least ``min_records_for_share`` records): a broken export or a mapping
      that no longer fits;
    - ``volume``: a time window's records per hour below ``min_volume_ratio`` or above
      ``max_volume_ratio`` times the median of the source's last ``volume_history`` loaded
      windows (once ``min_history`` exist): a lost permission, a filter gone wrong, a flood;
    - ``no_events``: a time window with no record at all where each of the last
      ``min_history`` windows had some: a stalled feed is an alert, not a quiet green run;
    - ``freshness``: the newest event more than ``max_event_age_minutes`` older than the
      window's end (off unless set).

    ``warn_only`` turns named checks into warnings (recorded, the window loads). Volume, no
    events and freshness apply to time-window feeds: what is new after a bookmark, or a new
    file, has no expected size.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_quarantine_share: float | None = Field(0.5, ge=0, le=1)
    min_records_for_share: int = Field(20, ge=1)
    volume_history: int = Field(7, ge=1, le=100)
    min_history: int = Field(3, ge=1, le=100)
    min_volume_ratio: float | None = Field(0.1, ge=0)
    max_volume_ratio: float | None = Field(10.0, ge=1)
    expect_events: bool = True
    max_event_age_minutes: int | None = Field(None, ge=1)
    warn_only: tuple[str, ...] = ()

    @field_validator("warn_only")
    @classmethod
    def _known_checks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(value) - set(CHECKS))
        if unknown:
            raise ValueError(f"unknown checks {unknown}; the checks are {list(CHECKS)}")
        return value
