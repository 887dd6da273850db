"""The body of ``warehouse_verify``'s verification task: a thin adapter to
:func:`access_warehouse.integrity.verify.verify_warehouse`."""

from __future__ import annotations

import logging
from typing import Any

from access_warehouse.airflow_adapters.connections import warehouse_dsn

log = logging.getLogger(__name__)


def verify(context: dict[str, Any]) -> dict[str, Any]:
    """Verify every source's chain and rows (the run is recorded either way); a finding fails
    the task for good: retrying cannot make a changed row match again."""
    from airflow.sdk.exceptions import AirflowFailException

    from access_warehouse.integrity.verify import verify_warehouse

    report = verify_warehouse(
        warehouse_dsn(), dag_id=context["dag"].dag_id, run_id=context.get("run_id")
    )
    for line in report.lines():
        log.info("%s", line)
    if not report.ok:
        first = "; ".join(
            source.first.line() for source in report.sources if source.first is not None
        )
        raise AirflowFailException(
            f"the warehouse does not verify: {len(report.findings)} finding(s) "
            f"(verifier run {report.verifier_run_id}); first per source: {first}"
        )
    return report.as_xcom()
