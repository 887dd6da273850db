"""The demo's retention step: an enforcing run of ``include/config/retention.yaml`` (the demo's
rows are days old: nothing is past a policy yet), the retention status it leaves, and a dry
run as of 14 months later, when the demo's months, its landing batches and its quarantine
would go.

:func:`retention_step` calls the functions the ``access_retention`` DAG calls and returns the
lines to print.
"""

from __future__ import annotations

from datetime import UTC, datetime

from access_warehouse.retention.config import FAMILIES, load_retention_config, parse_keep
from access_warehouse.retention.enforce import enforce_retention
from access_warehouse.warehouse import connect, execute

#: How far ahead the dry run looks: past the 13 months of access events.
LATER = parse_keep("14 months")
STATUS_COLUMNS = [
    ("table", 26), ("policy", 18), ("sources", 7), ("oldest kept", 16), ("complete", 16),
    ("holds", 5), ("next purge", 10), ("note", 60),
]  # fmt: skip


def retention_step(dsn: str, *, now: datetime | None = None) -> list[str]:
    """Enforce the shipped policies as of ``now`` (default: now), then a dry run 14 months on;
    returns what to print: the summary, ``reporting.retention_status``, the dry run."""
    from devtools.demo import _table

    config = load_retention_config()
    now = now or datetime.now(UTC)
    summary = enforce_retention(dsn, config, now=now)
    with connect(dsn) as conn:
        status = execute(conn, "reports/retention_status.sql").fetchall()
    later = LATER.shift(now, 1) or now
    dry = enforce_retention(dsn, config, now=later, dry_run=True)
    policies = ", ".join(f"{family} {config.policies.family(family).keep}" for family in FAMILIES)
    return [
        f"retention (access_retention, include/config/retention.yaml): {policies}",
        f"    {summary.summary_line()}",
        "reporting.retention_status:",
        _table(status, [name for name, _ in STATUS_COLUMNS], [w for _, w in STATUS_COLUMNS]),
        "",
        f"dry run as of {later:%Y-%m-%d} (recorded with dry_run = true, nothing removed):",
        *(f"    {line}" for line in dry.lines or ["nothing would be past its policy"]),
        f"    {dry.summary_line()}",
    ]
