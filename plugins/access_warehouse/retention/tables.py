"""The tables retention purges, per family, and how (SQL in ``include/sql/retention/``).

``audit.access_events`` is partitioned by month: it loses whole partitions only
(:mod:`access_warehouse.retention.enforce`). Every other table loses rows in bounded
``DELETE`` statements: a *candidates* query (``candidates/<name>.sql``) gives each row older
than the policy with its source, its time and ``kept_by`` (why it stays: a legal hold, a
landing batch never loaded), the *children* files remove what refers to the chosen rows first,
and ``status/<name>.sql`` gives what is left per source for ``reporting.retention_status``.
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql as pgsql

from access_warehouse.warehouse import sql

#: The partitioned table: monthly partitions, never row-by-row deletes.
ACCESS_EVENTS = "audit.access_events"


@dataclass(frozen=True)
class TableSpec:
    family: str
    table: str
    #: ``include/sql/retention/candidates/<candidates>.sql``
    candidates: str
    #: ``include/sql/retention/status/<status>.sql`` (default: the candidates' name)
    status: str = ""
    #: rows belong to one source each (else the family's longest policy applies to all)
    per_source: bool = True
    #: files under ``include/sql/retention/`` run per chunk before the chunk's own rows go
    children: tuple[str, ...] = ()
    #: the candidates and status files are templates over ``{table}``
    templated: bool = False

    @property
    def identifier(self) -> pgsql.Identifier:
        schema, name = self.table.split(".")
        return pgsql.Identifier(schema, name)

    def _query(self, name: str) -> pgsql.Composed | pgsql.SQL:
        text = pgsql.SQL(sql(f"retention/{name}.sql").rstrip().rstrip(";"))  # type: ignore[arg-type]
        return text.format(table=self.identifier) if self.templated else text

    def candidates_query(self) -> pgsql.Composable:
        return self._query(f"candidates/{self.candidates}")

    def status_query(self) -> pgsql.Composable:
        return self._query(f"status/{self.status or self.candidates}")


def _reporting(table: str, *, per_source: bool = True) -> TableSpec:
    name = "reporting_day" if per_source else "reporting_day_all"
    return TableSpec("reporting", f"reporting.{table}", name, per_source=per_source, templated=True)


#: Every table but the partitioned one, in the order a run purges them: landing first (the
#: oldest raw data), access logs after the partitions (a dropped partition folds its accesses
#: into audit.access_logs_retired first), data quality last.
TABLES: tuple[TableSpec, ...] = (
    TableSpec("landing", "landing.extract_batches", "landing", children=("landing_files",)),
    TableSpec("quarantine", "dq.quarantine", "quarantine", children=("quarantine_children",)),
    TableSpec("access_logs", "audit.access_logs", "access_logs", children=("access_log_children",)),
    TableSpec("access_logs", "audit.access_logs_retired", "access_logs_retired"),
    _reporting("daily_access"),
    _reporting("failed_signins"),
    _reporting("privileged_changes"),
    _reporting("source_days"),
    _reporting("mfa_coverage", per_source=False),
    _reporting("failed_signin_bursts", per_source=False),
    TableSpec("reporting", "reporting.evidence_packs", "evidence_packs", per_source=False),
    TableSpec(
        "data_quality", "dq.validation_runs", "validation_runs", children=("validation_children",)
    ),
    TableSpec("data_quality", "dq.completeness", "completeness"),
)

#: Families in purge order, with their tables (the partitioned one named apart).
FAMILY_TABLES: dict[str, tuple[str, ...]] = {}
for _spec in TABLES:
    FAMILY_TABLES.setdefault(_spec.family, ())
    FAMILY_TABLES[_spec.family] += (_spec.table,)
FAMILY_TABLES["access_events"] = (ACCESS_EVENTS,)
