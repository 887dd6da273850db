"""The demo's tamper-evidence step: one verifier run over every source's manifest chain (what
``warehouse_verify`` runs daily), as lines to print."""

from __future__ import annotations

import time

from access_warehouse.integrity.verify import verify_warehouse


def verify_step(dsn: str) -> list[str]:
    """Verify the demo's warehouse at ``dsn`` (the run is recorded in ``etl.verifier_runs``)
    and return what to print: the verdict, one line per source with its chain head and rows,
    every finding, and how to check the heads later against a copy kept elsewhere."""
    started = time.monotonic()
    report = verify_warehouse(dsn, dag_id=None, run_id="demo")
    seconds = time.monotonic() - started
    heads = " ".join(
        f"--expect-head {source}={head['entry_no']}:{head['entry_hash']}"
        for source, head in list(report.chain_heads.items())[:1]
    )
    return [
        "tamper evidence: the manifest chain of every source recomputed from the rows "
        "(warehouse_verify; README 'Tamper evidence')",
        *(f"    {line}" for line in report.lines()),
        f"    python -m access_warehouse.cli verify-warehouse --dsn DSN: "
        f"{'OK (exit 0)' if report.ok else 'MISMATCH (exit 1)'} in {seconds:.1f} s; "
        f"recorded as verifier run {report.verifier_run_id} (auditor.verifier_runs)",
        "    keep the heads outside the warehouse (ticket, evidence pack, write-once store) and "
        "check them later, e.g.:",
        f"    python -m access_warehouse.cli verify-warehouse --dsn DSN {heads}",
    ]
