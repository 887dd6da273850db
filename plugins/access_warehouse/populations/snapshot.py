"""One snapshot of one population: read every account, compare, write the history.

A complete snapshot is one warehouse transaction (SQL in ``include/sql/populations/``):

- the listing is streamed into a staging table (COPY), a page at a time;
- an account whose content changed (``content_hash``: everything but sign-in activity) gets a
  new version, the old one ending at ``taken_at``; an unchanged one keeps its version, with its
  sign-in activity refreshed in place;
- an account missing from the listing: its version ends and a ``deleted = true`` version
  begins; listed again later, that one ends and a new live version begins;
- one ``audit.population_snapshots`` row with the counts, what was asked and what the source
  said.

A read (or write) that fails changes no account row: its transaction rolls back, a ``failed``
snapshot row with the error is written in a short transaction of its own, and the error is
raised again. Snapshots of one population are serialised (an advisory lock), and each is taken
after the last, so versions never overlap.
"""

from __future__ import annotations

import logging
import uuid
from contextlib import closing, nullcontext
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from access_warehouse.populations.base import Account, PopulationConfig
from access_warehouse.sources.base import RequestStats

log = logging.getLogger(__name__)

SQL = "populations"


@dataclass(frozen=True)
class SnapshotSummary:
    """What one complete snapshot found and wrote."""

    snapshot_id: str
    population_id: str
    taken_at: datetime
    accounts: int
    #: new accounts and accounts listed again after being recorded as gone (``restored``)
    added: int
    restored: int
    changed: int
    removed: int
    unchanged: int
    #: unchanged accounts whose sign-in activity moved (refreshed in place)
    sign_in_activity_moved: int
    #: an account listed twice in one read (the last listing kept)
    duplicates: int
    pages: int
    #: None for kinds that have no sign-in activity (database logins)
    sign_in_activity_available: bool | None

    def as_xcom(self) -> dict[str, Any]:
        values = asdict(self)
        values["taken_at"] = self.taken_at.isoformat()
        return values


def _row(account: Account) -> tuple[Any, ...]:
    from psycopg.types.json import Jsonb

    return (
        account.account_id,
        account.principal_name,
        account.mail,
        account.display_name,
        account.enabled,
        account.user_type,
        account.account_created_at,
        account.last_sign_in_at,
        account.last_non_interactive_sign_in_at,
        account.last_successful_sign_in_at,
        list(account.aliases),
        Jsonb(account.properties),
        account.content_hash(),
    )


def _registration(population: PopulationConfig) -> dict[str, Any]:
    return {
        "population_id": population.population_id,
        "kind": population.kind,
        "source_ids": list(population.sources),
        "conn_id": population.conn_id,
    }


def _record_failure(
    dsn: str,
    population: PopulationConfig,
    snapshot_id: uuid.UUID,
    started_at: datetime,
    stats: RequestStats,
    error: BaseException,
    dag_id: str | None,
    run_id: str | None,
) -> None:
    """The failed attempt's row, in its own short transaction; never hides ``error``."""
    from psycopg.types.json import Jsonb

    from access_warehouse.warehouse import connect, execute

    # some errors have no message (httpx.ReadError): their class's doc says what happened
    message = (str(error).strip() or (type(error).__doc__ or "").strip()).splitlines()
    message = (message or [""])[0][:2000]
    try:
        with connect(dsn) as conn:
            execute(conn, f"{SQL}/register_population.sql", _registration(population))
            execute(
                conn,
                f"{SQL}/insert_snapshot.sql",
                {
                    "snapshot_id": snapshot_id,
                    "population_id": population.population_id,
                    "dag_id": dag_id,
                    "run_id": run_id,
                    "taken_at": started_at,
                    "status": "failed",
                    "accounts": None,
                    "added": None,
                    "changed": None,
                    "removed": None,
                    "asked": Jsonb(stats.asked),
                    "source_said": Jsonb(stats.source_said),
                    "error": f"{type(error).__name__}: {message}",
                },
            )
    except Exception:
        log.exception("could not record the failed snapshot of %s", population.population_id)


def snapshot_population(
    dsn: str,
    population: PopulationConfig,
    *,
    dag_id: str | None = None,
    run_id: str | None = None,
) -> SnapshotSummary:
    """Snapshot ``population`` (bound by :func:`access_warehouse.populations.config.
    load_populations`) into the warehouse at ``dsn``; see the module doc. Raises what the read
    raised (after recording a ``failed`` snapshot)."""
    from psycopg.types.json import Jsonb

    from access_warehouse.warehouse import connect, execute, sql

    population_id = population.population_id
    snapshot_id = uuid.uuid4()
    started_at = datetime.now(UTC)
    stats = RequestStats()
    log.info("%s: snapshot %s of %s", population_id, snapshot_id, population.describe())
    try:
        with connect(dsn) as conn:
            params: dict[str, Any] = {"population_id": population_id, "snapshot_id": snapshot_id}
            execute(conn, f"{SQL}/lock_population.sql", params)
            execute(conn, f"{SQL}/register_population.sql", _registration(population))
            params["taken_at"] = execute(conn, f"{SQL}/snapshot_time.sql", params).fetchone()[0]  # type: ignore[index]
            execute(conn, f"{SQL}/create_staging.sql")
            pages = listed = 0
            pages_read = population.read(stats)
            with (
                # a failed write stops a generator's read now, its connection with it
                closing(pages_read) if hasattr(pages_read, "close") else nullcontext(),
                conn.cursor() as cursor,
                cursor.copy(sql(f"{SQL}/copy_staging.sql")) as copy,  # type: ignore[arg-type]
            ):
                for accounts in pages_read:
                    pages += 1
                    listed += len(accounts)
                    for account in accounts:
                        copy.write_row(_row(account))
                    log.info(
                        "%s: page %d, %d accounts (%d listed so far)",
                        population_id,
                        pages,
                        len(accounts),
                        listed,
                    )
            duplicates = execute(conn, f"{SQL}/dedupe_staging.sql").rowcount
            execute(conn, f"{SQL}/index_staging.sql")
            (accounts_count,) = execute(conn, f"{SQL}/count_staging.sql").fetchone()  # type: ignore[misc]
            changed = execute(conn, f"{SQL}/close_changed.sql", params).rowcount
            restored = execute(conn, f"{SQL}/close_restored.sql", params).rowcount
            removed = execute(conn, f"{SQL}/close_removed.sql", params).rowcount
            execute(conn, f"{SQL}/insert_removed.sql", params)
            (moved,) = execute(conn, f"{SQL}/count_activity_moved.sql", params).fetchone()  # type: ignore[misc]
            unchanged = execute(conn, f"{SQL}/refresh_current.sql", params).rowcount
            execute(conn, f"{SQL}/confirm_deleted.sql", params)
            inserted = execute(conn, f"{SQL}/insert_versions.sql", params).rowcount
            added = inserted - changed  # new accounts and restored ones
            source_said = {**stats.source_said, "duplicates": duplicates}
            execute(
                conn,
                f"{SQL}/insert_snapshot.sql",
                {
                    **params,
                    "dag_id": dag_id,
                    "run_id": run_id,
                    "status": "complete",
                    "accounts": accounts_count,
                    "added": added,
                    "changed": changed,
                    "removed": removed,
                    "asked": Jsonb(stats.asked),
                    "source_said": Jsonb(source_said),
                    "error": None,
                },
            )
    except Exception as exc:
        log.error("%s: snapshot %s failed: %s", population_id, snapshot_id, exc)
        _record_failure(dsn, population, snapshot_id, started_at, stats, exc, dag_id, run_id)
        raise
    summary = SnapshotSummary(
        snapshot_id=str(snapshot_id),
        population_id=population_id,
        taken_at=params["taken_at"],
        accounts=accounts_count,
        added=added,
        restored=restored,
        changed=changed,
        removed=removed,
        unchanged=unchanged,
        sign_in_activity_moved=moved,
        duplicates=duplicates,
        pages=pages,
        sign_in_activity_available=stats.source_said.get("sign_in_activity_available"),
    )
    available = summary.sign_in_activity_available
    log.info(
        "%s: snapshot %s complete: %d accounts (%d added, %d of them restored; %d changed; "
        "%d removed; %d unchanged, sign-in activity moved for %d) in %d pages%s",
        population_id,
        snapshot_id,
        summary.accounts,
        added,
        restored,
        changed,
        removed,
        unchanged,
        moved,
        pages,
        "" if available is None else f"; signInActivity {'' if available else 'NOT '}available",
    )
    return summary
