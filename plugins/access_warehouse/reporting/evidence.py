"""Access-review evidence packs: the population and the access of a review period, frozen.

:func:`write_evidence_pack` reads everything in **one** ``REPEATABLE READ READ ONLY``
transaction, so every file shows the warehouse at the same moment (a load committing while the
pack is written is in no file, or, in the next pack, in all of them), and writes each file with
``COPY (<query>) TO STDOUT (FORMAT csv, HEADER)`` streamed to disk chunk by chunk (no table is
ever held in memory). Each file's query is one file under ``include/sql/reporting/evidence/``
with the parameters ``%(period_start)s`` and ``%(period_end)s``:

- ``population.csv``: the accounts of every population as they were at the period's end;
- ``access.csv``: per person, resource and source, first/last access, active days, events;
- ``access_review.csv``, ``dormant_accounts.csv``: the reporting tables of those names;
- ``privileged_changes.csv``, ``failed_signins.csv``, ``failed_signin_bursts.csv``: their
  reporting tables' rows on the period's days;
- ``coverage.csv``: per source and day, ``reporting.source_days`` and ``dq.daily_summary``.

``manifest.json`` says what was read and how (the period, the warehouse, the sources, per file
the SQL text and parameters, columns, rows, bytes and SHA-256, completeness per source and day,
the batch chain's head, the reporting builds present); ``manifest.sha256`` holds the
manifest's own SHA-256 (``sha256sum -c`` reads it), and a row in ``reporting.evidence_packs``
records the pack (its own short transaction, after the read).

Every query orders by a full key (text in the ``C`` collation: byte order, the same on every
server whatever its locale) and the read transaction fixes the text form of times and numbers,
so the same warehouse state gives the same CSV files byte for byte; two manifests of one state
written alike (same host, DAG and run ids) differ only in ``pack_id`` and ``created_at``.

:func:`verify_evidence_pack` recomputes every file's SHA-256, size and row count against the
manifest and the manifest against ``manifest.sha256``, and, given a DSN, compares the pack with
its ``reporting.evidence_packs`` row and checks that the recorded chain heads still exist with
the same hashes.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import logging
import os
import shutil
import socket
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from access_warehouse.paths import PROJECT_ROOT
from access_warehouse.warehouse import connect, execute, sql

log = logging.getLogger(__name__)

#: Where :func:`default_pack_dir` puts packs; read at call time (workers set it late).
ENV_VAR = "ACCESS_WAREHOUSE_EVIDENCE"
DEFAULT_DIR = PROJECT_ROOT / "evidence"
MANIFEST = "manifest.json"
MANIFEST_HASH = "manifest.sha256"
FORMAT = "access-warehouse evidence pack 1"
SQL_FOLDER = "reporting/evidence"
#: How each file's query is run (``{query}``: the file's text).
COPY_TEMPLATE = "COPY (\n{query}\n) TO STDOUT WITH (FORMAT csv, HEADER true)"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class FileSpec:
    """One file of a pack: its name, the SQL file that produces it, what it holds."""

    name: str
    sql_name: str
    description: str

    @property
    def sql_path(self) -> str:
        return f"{SQL_FOLDER}/{self.sql_name}"


#: The files of a pack, in the order they are read.
FILES: tuple[FileSpec, ...] = (
    FileSpec(
        "population.csv",
        "population.sql",
        "every account of every population as it was at the end of the period (the version "
        "valid then, deleted ones flagged), with the snapshot it comes from",
    ),
    FileSpec(
        "access.csv",
        "access.sql",
        "access in the period per person, resource and source: first and last access, active "
        "days, events, successes, failures, MFA (from reporting.daily_access)",
    ),
    FileSpec("access_review.csv", "access_review.sql", "reporting.access_review"),
    FileSpec("dormant_accounts.csv", "dormant_accounts.sql", "reporting.dormant_accounts"),
    FileSpec(
        "privileged_changes.csv",
        "privileged_changes.sql",
        "reporting.privileged_changes on the period's days",
    ),
    FileSpec(
        "failed_signins.csv", "failed_signins.sql", "reporting.failed_signins on the period's days"
    ),
    FileSpec(
        "failed_signin_bursts.csv",
        "failed_signin_bursts.sql",
        "reporting.failed_signin_bursts that started on the period's days",
    ),
    FileSpec(
        "coverage.csv",
        "coverage.sql",
        "per source and day of the period: reporting.source_days (can the reports speak for "
        "the day) and dq.daily_summary (what the extracts did)",
    ),
)
_COVERAGE = FILES[-1]


class EvidencePackError(ValueError):
    """A pack that cannot be written as asked (the period, the output folder)."""


@dataclass(frozen=True)
class EvidenceFile:
    """One file written: what the manifest records of it."""

    name: str
    rows: int
    bytes: int
    sha256: str
    columns: tuple[str, ...]


@dataclass(frozen=True)
class EvidencePack:
    """A pack written and recorded."""

    pack_id: str
    directory: Path
    period_start: date
    period_end: date
    created_at: datetime
    files: tuple[EvidenceFile, ...]
    manifest_sha256: str
    chain_head: dict[str, Any]
    completeness: dict[str, Any]

    def as_xcom(self) -> dict[str, Any]:
        """What a DAG task returns: small and JSON-serialisable (the rows stay in the files)."""
        return {
            "pack_id": self.pack_id,
            "directory": str(self.directory),
            "period_start": self.period_start.isoformat(),
            "period_end": self.period_end.isoformat(),
            "manifest_sha256": self.manifest_sha256,
            "files": {f.name: {"rows": f.rows, "sha256": f.sha256} for f in self.files},
            "all_evaluable": self.completeness["all_evaluable"],
        }


# --- where packs go ----------------------------------------------------------------------


def evidence_dir() -> Path:
    """``ACCESS_WAREHOUSE_EVIDENCE``, else ``<project>/evidence``."""
    return Path(os.environ.get(ENV_VAR) or DEFAULT_DIR)


def default_pack_dir(period_start: date, period_end: date) -> Path:
    """A new folder for a pack of the period under :func:`evidence_dir`, named by the period
    and the UTC time (``access-review_2026-10-01_2026-12-31_20270105T101500Z``); a suffix
    keeps two packs in one second apart. Not created: :func:`write_evidence_pack` does."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    name = f"access-review_{period_start.isoformat()}_{period_end.isoformat()}_{stamp}"
    candidate, n = evidence_dir() / name, 2
    while candidate.exists():
        candidate, n = evidence_dir() / f"{name}-{n}", n + 1
    return candidate


# --- writing -----------------------------------------------------------------------------


def write_evidence_pack(
    dsn: str,
    period_start: date,
    period_end: date,
    out_dir: Path,
    *,
    dag_id: str | None = None,
    run_id: str | None = None,
    on_file: Callable[[EvidenceFile], None] | None = None,
) -> EvidencePack:
    """Freeze the review period ``[period_start, period_end]`` (UTC days, both included) into
    ``out_dir`` (new or empty) and record it in ``reporting.evidence_packs``.

    ``on_file`` is called after each file is written, inside the read transaction (progress;
    tests commit a concurrent load there). Until the pack is complete it is written to a
    hidden sibling folder and renamed into place only then, so a failed or interrupted pack
    never looks like one; if it cannot be recorded, the folder is removed again.
    """
    if isinstance(period_start, datetime) or isinstance(period_end, datetime):
        raise EvidencePackError("the period is given in days (dates), not times")
    if period_start > period_end:
        raise EvidencePackError(
            f"the period starts after it ends: {period_start.isoformat()} > "
            f"{period_end.isoformat()}"
        )
    out_dir = Path(out_dir)
    _check_out_dir(out_dir)
    pack_id = str(uuid.uuid4())
    params = {"period_start": period_start, "period_end": period_end}
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = out_dir.parent / f".{out_dir.name}.partial-{pack_id}"
    staging.mkdir()
    try:
        with connect(dsn) as conn:
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            conn.read_only = True
            with conn.transaction():
                manifest, files = _read(conn, staging, params, on_file)
            manifest = {
                "format": FORMAT,
                "pack_id": pack_id,
                "created_at": manifest.pop("created_at"),
                **manifest,
            }
            manifest["created_by"].update(dag_id=dag_id, run_id=run_id)
            manifest_bytes = _manifest_bytes(manifest)
            manifest_sha256 = hashlib.sha256(manifest_bytes).hexdigest()
            (staging / MANIFEST).write_bytes(manifest_bytes)
            (staging / MANIFEST_HASH).write_text(f"{manifest_sha256}  {MANIFEST}\n")
            # onto the folder if it is (still) empty; a folder filled meanwhile refuses
            staging.rename(out_dir)
            try:
                conn.read_only = False
                conn.isolation_level = None
                with conn.transaction():
                    execute(
                        conn,
                        f"{SQL_FOLDER}/pack/record.sql",
                        {
                            "pack_id": pack_id,
                            "period_start": period_start,
                            "period_end": period_end,
                            "created_at": manifest["created_at"],
                            "dag_id": dag_id,
                            "run_id": run_id,
                            "location": str(out_dir.resolve()),
                            "manifest_sha256": manifest_sha256,
                            "chain_head": Jsonb(manifest["chain_head"]),
                            "files": Jsonb(_file_record(files)),
                        },
                    )
            except BaseException:
                # a pack the warehouse does not know cannot be verified against it
                shutil.rmtree(out_dir, ignore_errors=True)
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log.info(
        "evidence pack %s for %s..%s: %s, manifest sha256 %s",
        pack_id,
        period_start,
        period_end,
        out_dir,
        manifest_sha256,
    )
    return EvidencePack(
        pack_id=pack_id,
        directory=out_dir,
        period_start=period_start,
        period_end=period_end,
        created_at=datetime.fromisoformat(manifest["created_at"]),
        files=tuple(files),
        manifest_sha256=manifest_sha256,
        chain_head=manifest["chain_head"],
        completeness=manifest["completeness"],
    )


def _check_out_dir(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise EvidencePackError(f"{out_dir} exists and is not a folder")
    if out_dir.is_dir() and any(out_dir.iterdir()):
        raise EvidencePackError(
            f"{out_dir} is not empty: an evidence pack is written to a new or empty folder, "
            "never over another pack"
        )


def _read(
    conn: psycopg.Connection,
    folder: Path,
    params: Mapping[str, date],
    on_file: Callable[[EvidenceFile], None] | None,
) -> tuple[dict[str, Any], list[EvidenceFile]]:
    """Everything the pack holds, in the caller's read transaction: the files into ``folder``
    and the manifest's content (without pack id)."""
    cursor = conn.cursor(row_factory=dict_row)
    session = cursor.execute(sql(f"{SQL_FOLDER}/pack/session.sql")).fetchone()  # type: ignore[arg-type]
    warehouse = cursor.execute(sql(f"{SQL_FOLDER}/pack/warehouse.sql")).fetchone()  # type: ignore[arg-type]
    assert session is not None and warehouse is not None
    read_at = warehouse.pop("read_at")
    database_user = warehouse.pop("database_user")
    sources = cursor.execute(sql(f"{SQL_FOLDER}/pack/sources.sql")).fetchall()  # type: ignore[arg-type]
    populations = cursor.execute(
        sql(f"{SQL_FOLDER}/pack/populations.sql"),  # type: ignore[arg-type]
        params,
    ).fetchall()

    plain_params = {name: value.isoformat() for name, value in params.items()}
    files: list[EvidenceFile] = []
    entries: list[dict[str, Any]] = []
    for spec in FILES:
        query = _query(spec)
        columns = _columns(conn, query, params)
        written = _copy_to_file(conn, query, params, folder / spec.name, columns)
        files.append(written)
        entries.append(
            {
                "name": spec.name,
                "description": spec.description,
                "sql_file": spec.sql_path,
                "sql": query,
                "parameters": plain_params,
                "statement": COPY_TEMPLATE.format(query="<sql>"),
                "columns": [{"name": name, "type": kind} for name, kind in columns],
                "rows": written.rows,
                "bytes": written.bytes,
                "sha256": written.sha256,
            }
        )
        log.info("%s: %d rows, sha256 %s", spec.name, written.rows, written.sha256)
        if on_file is not None:
            on_file(written)

    # read after the files, in the same snapshot: they describe exactly what the files show
    completeness = _completeness(conn, params)
    builds = cursor.execute(
        sql(f"{SQL_FOLDER}/pack/builds.sql"),  # type: ignore[arg-type]
        params,
    ).fetchall()
    latest = cursor.execute(sql(f"{SQL_FOLDER}/pack/chain_head.sql")).fetchone()  # type: ignore[arg-type]
    heads = cursor.execute(sql(f"{SQL_FOLDER}/pack/source_heads.sql")).fetchall()  # type: ignore[arg-type]
    chain_head = _plain(
        {
            "latest": latest,
            "by_source": {head.pop("source_id"): head for head in heads},
        }
    )
    manifest = {
        "created_at": read_at.astimezone(UTC).isoformat(),
        "period": {
            **plain_params,
            "days": (params["period_end"] - params["period_start"]).days + 1,
            "ends_at": _end_instant(params["period_end"]),
            "time_zone": "UTC",
        },
        "created_by": {
            "database_user": database_user,
            "os_user": _os_user(),
            "host": socket.gethostname(),
        },
        "warehouse": {
            **warehouse,
            "read": "one REPEATABLE READ READ ONLY transaction; every file shows the "
            "warehouse as it was when that transaction started (created_at)",
            "session": session,
        },
        "sources": sources,
        "populations": populations,
        "files": entries,
        "completeness": completeness,
        "chain_head": chain_head,
        "reporting_builds": builds,
    }
    return _plain(manifest), files


def _end_instant(period_end: date) -> str:
    """The instant the period ends (exclusive): midnight UTC after its last day."""
    return datetime.combine(period_end + timedelta(days=1), time(), UTC).isoformat()


def _query(spec: FileSpec) -> str:
    # a trailing ';' would end the statement inside COPY's parentheses
    return sql(spec.sql_path).strip().rstrip(";").rstrip()


def _columns(
    conn: psycopg.Connection, query: str, params: Mapping[str, Any]
) -> list[tuple[str, str]]:
    """The query's result columns and their SQL types, without reading a row."""
    cursor = conn.execute(f"SELECT * FROM (\n{query}\n) AS q LIMIT 0", params)  # type: ignore[arg-type]
    described = cursor.description or []
    types = execute(
        conn,
        f"{SQL_FOLDER}/pack/column_types.sql",
        {"oids": [column.type_code for column in described]},
    ).fetchall()
    return [(column.name, kind) for column, (kind,) in zip(described, types, strict=True)]


def _copy_to_file(
    conn: psycopg.Connection,
    query: str,
    params: Mapping[str, Any],
    path: Path,
    columns: list[tuple[str, str]],
) -> EvidenceFile:
    """COPY the query's rows as CSV into ``path``, hashing the bytes as they stream by."""
    digest = hashlib.sha256()
    size = 0
    with conn.cursor() as cursor:
        with (
            cursor.copy(COPY_TEMPLATE.format(query=query), params) as copy,  # type: ignore[arg-type]
            path.open("wb") as out,
        ):
            for chunk in copy:
                out.write(chunk)
                digest.update(chunk)
                size += len(chunk)
        rows = cursor.rowcount  # from COPY's own command tag
    return EvidenceFile(
        name=path.name,
        rows=rows,
        bytes=size,
        sha256=digest.hexdigest(),
        columns=tuple(name for name, _ in columns),
    )


def _completeness(conn: psycopg.Connection, params: Mapping[str, Any]) -> dict[str, Any]:
    """Per source and day of the period: the status coverage.csv holds, summarised."""
    sources: dict[str, dict[str, Any]] = {}
    with conn.cursor(row_factory=dict_row) as cursor:
        for row in cursor.execute(_query(_COVERAGE), params):  # type: ignore[arg-type]
            source = sources.setdefault(
                row["source_id"], {"days": 0, "evaluable_days": 0, "statuses": {}, "by_day": {}}
            )
            source["days"] += 1
            source["evaluable_days"] += int(row["evaluable"])
            source["statuses"][row["status"]] = source["statuses"].get(row["status"], 0) + 1
            source["by_day"][row["day"].isoformat()] = {
                "status": row["status"],
                "evaluable": row["evaluable"],
                "extract_status": row["extract_status"],
            }
    for source in sources.values():
        source["all_evaluable"] = source["evaluable_days"] == source["days"]
    return {
        "all_evaluable": all(source["all_evaluable"] for source in sources.values()),
        "not_evaluable": {
            source_id: [day for day, status in source["by_day"].items() if not status["evaluable"]]
            for source_id, source in sources.items()
            if not source["all_evaluable"]
        },
        "sources": sources,
    }


def _os_user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a container user without a passwd entry
        return None


def _file_record(files: list[EvidenceFile]) -> dict[str, dict[str, Any]]:
    return {f.name: {"sha256": f.sha256, "rows": f.rows, "bytes": f.bytes} for f in files}


def _plain(value: Any) -> Any:
    """JSON-ready: times and dates in ISO 8601, UUIDs and numerics as text."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    return value


def _manifest_bytes(manifest: Mapping[str, Any]) -> bytes:
    return (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode()


# --- verifying ---------------------------------------------------------------------------

MANIFEST_MISSING = "manifest_missing"
MANIFEST_UNREADABLE = "manifest_unreadable"
MANIFEST_CHANGED = "manifest_changed"
FILE_MISSING = "file_missing"
FILE_CHANGED = "file_changed"
EXTRA_FILE = "extra_file"
NOT_RECORDED = "pack_not_recorded"
RECORD_MISMATCH = "record_mismatch"
CHAIN_HEAD_MISSING = "chain_head_missing"
CHAIN_HEAD_CHANGED = "chain_head_changed"


@dataclass(frozen=True)
class Problem:
    """One thing verification found wrong: its kind, what it is about (a file, a batch, the
    pack) and the numbers."""

    kind: str
    name: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.name}: {self.detail}"


@dataclass
class VerificationResult:
    """What :func:`verify_evidence_pack` checked and found."""

    pack_dir: Path
    pack_id: str | None = None
    period: tuple[str, str] | None = None
    manifest_sha256: str | None = None
    files_checked: int = 0
    database_checked: bool = False
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, kind: str, name: str, detail: str) -> None:
        self.problems.append(Problem(kind, name, detail))


@dataclass(frozen=True)
class _Measured:
    sha256: str
    bytes: int
    rows: int


def verify_evidence_pack(pack_dir: Path, dsn: str | None = None) -> VerificationResult:
    """Check a pack against itself and, with ``dsn``, against the warehouse.

    Offline: ``manifest.sha256`` names the manifest's SHA-256; each file's SHA-256, size and
    rows (CSV records, quoted newlines read as data) are the manifest's; no file is missing
    and none was added. With ``dsn``: the pack's ``reporting.evidence_packs`` row exists with
    the same manifest hash, period, chain head and file hashes, and each batch the chain head
    names still exists with the same ``batch_hash``. A pack rewritten whole (files, manifest
    and its hash together) passes offline; only the warehouse's row, or a copy of the
    manifest hash kept elsewhere, shows it.
    """
    pack_dir = Path(pack_dir)
    result = VerificationResult(pack_dir=pack_dir)
    manifest_path = pack_dir / MANIFEST
    if not manifest_path.is_file():
        result.add(MANIFEST_MISSING, MANIFEST, f"no {MANIFEST} in {pack_dir}")
        return result
    manifest_bytes = manifest_path.read_bytes()
    actual = hashlib.sha256(manifest_bytes).hexdigest()
    result.manifest_sha256 = actual
    recorded_hash = _recorded_manifest_hash(pack_dir / MANIFEST_HASH)
    if recorded_hash is None:
        result.add(FILE_MISSING, MANIFEST_HASH, f"no readable {MANIFEST_HASH}")
    elif recorded_hash != actual:
        result.add(
            MANIFEST_CHANGED,
            MANIFEST,
            f"sha256 is {actual}, {MANIFEST_HASH} says {recorded_hash}",
        )
    try:
        manifest = json.loads(manifest_bytes)
        entries = {entry["name"]: entry for entry in manifest["files"]}
        result.pack_id = manifest["pack_id"]
        result.period = (manifest["period"]["period_start"], manifest["period"]["period_end"])
    except (ValueError, KeyError, TypeError) as exc:
        result.add(MANIFEST_UNREADABLE, MANIFEST, f"not a pack manifest: {exc}")
        return result

    measured: dict[str, _Measured] = {}
    for name, entry in entries.items():
        path = pack_dir / name
        if not path.is_file():
            result.add(FILE_MISSING, name, "listed in the manifest, not in the pack")
            continue
        found = _measure(path)
        measured[name] = found
        result.files_checked += 1
        differences = [
            f"{what} {getattr(found, what)} (manifest: {entry.get(what)})"
            for what in ("sha256", "bytes", "rows")
            if getattr(found, what) != entry.get(what)
        ]
        if differences:
            result.add(FILE_CHANGED, name, "; ".join(differences))
    expected = {*entries, MANIFEST, MANIFEST_HASH}
    for path in sorted(pack_dir.rglob("*")):
        relative = path.relative_to(pack_dir).as_posix()
        if not path.is_dir() and relative not in expected:
            result.add(EXTRA_FILE, relative, "in the pack, not in the manifest")

    if dsn is not None:
        _verify_against_warehouse(dsn, manifest, actual, measured, result)
    return result


def _recorded_manifest_hash(path: Path) -> str | None:
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError):
        return None
    token = text.split()[0] if text.split() else ""
    return token.lower() if len(token) == 64 else None


def _measure(path: Path) -> _Measured:
    """SHA-256, size and CSV rows (header excluded) of a file, in one streamed pass.

    Rows end at a newline outside double quotes: COPY's CSV quotes every field holding a
    quote, a comma or a line break and doubles quotes inside, so the quote characters seen so
    far say whether a newline is data or the end of a row."""
    digest = hashlib.sha256()
    size = lines = 0
    inside = False
    last = b"\n"
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
            size += len(chunk)
            for index, part in enumerate(chunk.split(b'"')):
                if index:
                    inside = not inside
                if not inside:
                    lines += part.count(b"\n")
            last = chunk[-1:]
    if size and last != b"\n":
        lines += 1  # a last row without its newline (edited by hand) is a row all the same
    return _Measured(sha256=digest.hexdigest(), bytes=size, rows=max(lines - 1, 0))


def _verify_against_warehouse(
    dsn: str,
    manifest: Mapping[str, Any],
    manifest_sha256: str,
    measured: Mapping[str, _Measured],
    result: VerificationResult,
) -> None:
    with connect(dsn, autocommit=True) as conn:  # reads only
        cursor = conn.cursor(row_factory=dict_row)
        row = cursor.execute(
            sql(f"{SQL_FOLDER}/pack/recorded.sql"),  # type: ignore[arg-type]
            {"pack_id": _uuid_or_none(manifest.get("pack_id"))},
        ).fetchone()
        result.database_checked = True
        chain_head = manifest.get("chain_head") or {}
        if row is None:
            result.add(
                NOT_RECORDED,
                str(manifest.get("pack_id")),
                "reporting.evidence_packs has no row for this pack id",
            )
        else:
            chain_head = row["chain_head"]  # the warehouse's copy: the manifest may be edited
            _compare_record(row, manifest, manifest_sha256, measured, result)
        for label, head in _chain_heads(chain_head):
            batch = cursor.execute(
                sql(f"{SQL_FOLDER}/pack/batch.sql"),  # type: ignore[arg-type]
                {"batch_id": _uuid_or_none(head.get("batch_id"))},
            ).fetchone()
            if batch is None:
                result.add(
                    CHAIN_HEAD_MISSING,
                    label,
                    f"batch {head.get('batch_id')} (sequence {head.get('sequence_no')}) "
                    "is no longer in audit.batches",
                )
                continue
            changed = [
                f"{what} {batch[what]} (at the pack: {head.get(what)})"
                for what in ("batch_hash", "sequence_no", "source_id")
                if what in head and str(batch[what]) != str(head[what])
            ]
            if changed:
                result.add(
                    CHAIN_HEAD_CHANGED,
                    label,
                    f"batch {head.get('batch_id')}: " + "; ".join(changed),
                )


def _compare_record(
    row: Mapping[str, Any],
    manifest: Mapping[str, Any],
    manifest_sha256: str,
    measured: Mapping[str, _Measured],
    result: VerificationResult,
) -> None:
    pack = str(row["pack_id"])
    if row["manifest_sha256"] != manifest_sha256:
        result.add(
            RECORD_MISMATCH,
            MANIFEST,
            f"sha256 is {manifest_sha256}, reporting.evidence_packs says {row['manifest_sha256']}",
        )
    period = manifest.get("period") or {}
    recorded_period = (row["period_start"].isoformat(), row["period_end"].isoformat())
    if recorded_period != (period.get("period_start"), period.get("period_end")):
        result.add(
            RECORD_MISMATCH,
            pack,
            f"period {period.get('period_start')}..{period.get('period_end')}, recorded "
            f"{recorded_period[0]}..{recorded_period[1]}",
        )
    if row["chain_head"] != manifest.get("chain_head"):
        result.add(RECORD_MISMATCH, pack, "the manifest's chain head is not the one recorded")
    recorded_files: Mapping[str, Any] = row["files"] or {}
    listed = {entry.get("name") for entry in manifest["files"]}
    for name in sorted({*recorded_files, *measured}):
        recorded = recorded_files.get(name)
        found = measured.get(name)
        if recorded is None:
            result.add(RECORD_MISMATCH, name, "not among the files recorded for the pack")
        elif found is None:
            # one listed in the manifest but missing from the folder is reported already
            if name not in listed:
                result.add(RECORD_MISMATCH, name, "recorded for the pack, not in the manifest")
        elif found.sha256 != recorded.get("sha256") or found.rows != recorded.get("rows"):
            result.add(
                RECORD_MISMATCH,
                name,
                f"sha256 {found.sha256} and {found.rows} rows, reporting.evidence_packs "
                f"recorded {recorded.get('sha256')} and {recorded.get('rows')} rows",
            )


def _chain_heads(chain_head: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    if chain_head.get("latest"):
        yield "chain head", chain_head["latest"]
    for source_id, head in sorted((chain_head.get("by_source") or {}).items()):
        yield f"chain head of {source_id}", head


def _uuid_or_none(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None
