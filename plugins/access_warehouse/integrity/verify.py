"""The verifier: recompute every source's manifest chain from the stored rows and name what no
recorded load, re-processing or purge explains.

Per source, in chain order:

1. each entry's hash is recomputed from its fields (``manifest_changed`` when it differs), its
   number follows the previous one (``manifest_deleted`` for a gap) and its ``prev_hash`` is
   the previous entry's hash (``chain_broken``: an entry rewritten with a fresh hash, or put in
   between);
2. per batch, the rows stored now with that batch id (count, lane sums of their fingerprints
   and, where no later entry removed any of them, the ordered SHA-256) are compared with what
   its entry wrote minus what later entries took over or purged: more rows is ``added``, fewer
   ``deleted``, as many with another digest ``changed``; rows with a batch id that no entry
   wrote are ``added``. A fingerprint covers the row's key, time, content hash and resolution;
   every row's content hash is recomputed from its columns too (``contract.content_hash``), so
   an edit that left ``content_hash`` alone is ``changed`` as well;
3. a load the global batch chain (``audit.batches``) records without a manifest entry is
   ``manifest_missing``, and a broken link of that chain is ``batch_chain_broken``;
4. a chain head published earlier (``expected_heads``: entry number and hash, e.g. from an
   earlier run's ``chain_heads``) must still be in the chain with that hash
   (``published_head_changed``, ``published_head_missing``): a chain the owner rewrote
   consistently passes 1-3, not this.

Findings about the chains come first (with a chain in doubt, so is what the rows are compared
with), then those about rows, each in chain order: a source's first finding names the earliest
entry, batch and window the chain does not explain.

Everything is read in one ``REPEATABLE READ READ ONLY`` transaction, so a load committing
meanwhile is wholly in or wholly out. Each run is recorded in ``etl.verifier_runs`` (in a
transaction of its own, after the reading one), failed runs included.
"""

from __future__ import annotations

import itertools
import json
import logging
import uuid
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from access_warehouse.contract import NORMALISED_COLUMNS, content_hash
from access_warehouse.warehouse import connect, execute, sql

log = logging.getLogger(__name__)

#: Finding kinds about rows (what the issue calls the kind of change) and about the chains.
ROW_KINDS = ("changed", "added", "deleted")
CHAIN_KINDS = (
    "manifest_changed",
    "manifest_deleted",
    "chain_broken",
    "manifest_missing",
    "batch_chain_broken",
    "published_head_changed",
    "published_head_missing",
)
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


@dataclass(frozen=True)
class Finding:
    """One thing the chain does not explain. ``entry_no`` is the manifest entry it concerns
    (None for rows no entry wrote); the window is that entry's (or the batch's)."""

    source_id: str
    kind: str
    detail: str
    entry_no: int | None = None
    entry_kind: str | None = None
    batch_id: str | None = None
    window_start: str | None = None
    window_end: str | None = None
    bookmark_to: Any = None
    expected_rows: int | None = None
    found_rows: int | None = None

    def where(self) -> str:
        """The batch and its window, as people name them."""
        parts = []
        if self.entry_no is not None:
            parts.append(f"entry {self.entry_no} ({self.entry_kind})")
        if self.batch_id is not None:
            parts.append(f"batch {self.batch_id}")
        if self.window_start or self.window_end:
            parts.append(f"window {self.window_start} .. {self.window_end}")
        elif self.bookmark_to is not None:
            parts.append(f"bookmark to {self.bookmark_to}")
        return ", ".join(parts) or "-"

    def line(self) -> str:
        return f"{self.source_id}: {self.kind}: {self.where()}: {self.detail}"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SourceVerification:
    source_id: str
    entries: int
    rows: int
    batches: int
    #: the source's last manifest entry: what to publish outside the warehouse
    head_entry_no: int | None
    head_hash: str | None
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def first(self) -> Finding | None:
        """The first finding in chain order: the earliest batch the chain does not explain."""
        return self.findings[0] if self.findings else None


@dataclass(frozen=True)
class VerificationReport:
    verifier_run_id: str
    started_at: datetime
    finished_at: datetime
    source_id: str | None
    sources: list[SourceVerification]

    @property
    def ok(self) -> bool:
        return all(source.ok for source in self.sources)

    @property
    def findings(self) -> list[Finding]:
        return [finding for source in self.sources for finding in source.findings]

    @property
    def chain_heads(self) -> dict[str, dict[str, Any]]:
        return {
            source.source_id: {"entry_no": source.head_entry_no, "entry_hash": source.head_hash}
            for source in self.sources
            if source.head_entry_no is not None
        }

    def lines(self) -> list[str]:
        """A printable account: one line per source (head, and the first finding), then every
        finding."""
        entries = sum(source.entries for source in self.sources)
        rows = sum(source.rows for source in self.sources)
        verdict = "OK" if self.ok else f"MISMATCH ({len(self.findings)} findings)"
        out = [
            f"warehouse verification {self.verifier_run_id}: {len(self.sources)} sources, "
            f"{entries} manifest entries, {rows} rows: {verdict}"
        ]
        width = max((len(source.source_id) for source in self.sources), default=0)
        for source in self.sources:
            head = (
                f"head #{source.head_entry_no} {source.head_hash[:16]}"
                if source.head_hash
                else "no chain"
            )
            state = "ok"
            if source.first is not None:
                state = f"FIRST: {source.first.kind} at {source.first.where()}"
            out.append(
                f"  {source.source_id:<{width}}  {source.entries:>5} entries  "
                f"{source.rows:>9} rows  {head}  {state}"
            )
        out += [f"  {finding.line()}" for finding in self.findings]
        return out

    def as_xcom(self) -> dict[str, Any]:
        """Small and JSON-safe: counts, heads and the first 50 findings."""
        return {
            "verifier_run_id": self.verifier_run_id,
            "ok": self.ok,
            "sources_checked": len(self.sources),
            "entries_checked": sum(source.entries for source in self.sources),
            "rows_checked": sum(source.rows for source in self.sources),
            "findings": [finding.as_dict() for finding in self.findings[:50]],
            "chain_heads": self.chain_heads,
        }


class WarehouseTampered(RuntimeError):
    """The verifier found what the chain does not explain (the report says what)."""

    def __init__(self, report: VerificationReport) -> None:
        self.report = report
        super().__init__("\n".join(report.lines()))


def verify_warehouse(
    dsn: str,
    *,
    source_id: str | None = None,
    dag_id: str | None = None,
    run_id: str | None = None,
    expected_heads: Mapping[str, tuple[int, str]] | None = None,
) -> VerificationReport:
    """Verify every source's chain and rows (or ``source_id``'s only) and record the run in
    ``etl.verifier_runs``; ``report.ok`` is False on any finding. ``expected_heads`` maps source
    ids to a head published earlier, ``(entry_no, entry_hash)``, which must still be there. A
    run that fails (the database, not the data) is recorded with status ``error`` and raises."""
    expected_heads = dict(expected_heads or {})
    verifier_run_id = str(uuid.uuid4())
    started = datetime.now(UTC)
    try:
        with connect(dsn) as conn:
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            conn.read_only = True
            with conn.transaction():
                chosen = (
                    [source_id]
                    if source_id is not None
                    else sorted(
                        {row[0] for row in execute(conn, "integrity/verified_sources.sql")}
                        | expected_heads.keys()
                    )
                )
                links = _batch_chain_findings(conn)
                sources = [
                    _verify_source(
                        conn, chosen_id, links.get(chosen_id, []), expected_heads.get(chosen_id)
                    )
                    for chosen_id in chosen
                ]
    except Exception as exc:
        try:
            _record(
                dsn,
                verifier_run_id=verifier_run_id,
                started_at=started,
                source_id=source_id,
                dag_id=dag_id,
                run_id=run_id,
                status="error",
                error=f"{type(exc).__name__}: {exc}",
            )
        except psycopg.Error:  # the database is what failed: the original error says why
            log.exception("could not record the failed verifier run %s", verifier_run_id)
        raise
    report = VerificationReport(verifier_run_id, started, datetime.now(UTC), source_id, sources)
    _record(
        dsn,
        verifier_run_id=verifier_run_id,
        started_at=started,
        finished_at=report.finished_at,
        source_id=source_id,
        dag_id=dag_id,
        run_id=run_id,
        status="ok" if report.ok else "mismatch",
        report=report,
    )
    for line in report.lines():
        (log.info if report.ok else log.error)("%s", line)
    return report


@dataclass
class _Stored:
    rows: int = 0
    content_sha256: str = EMPTY_SHA256
    lanes: tuple[int, ...] = (0, 0, 0, 0)


def _lanes(values: Any) -> tuple[int, ...]:
    return tuple(int(value) for value in values)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _at(source_id: str, entry: dict[str, Any], kind: str, detail: str, **more: Any) -> Finding:
    return Finding(
        source_id=source_id,
        kind=kind,
        detail=detail,
        entry_no=entry["entry_no"],
        entry_kind=entry["kind"],
        batch_id=str(entry["batch_id"]) if entry["batch_id"] else None,
        window_start=_iso(entry["window_start"]),
        window_end=_iso(entry["window_end"]),
        bookmark_to=entry["bookmark_to"],
        **more,
    )


def _verify_source(
    conn: psycopg.Connection,
    source_id: str,
    link_findings: list[Finding],
    published: tuple[int, str] | None,
) -> SourceVerification:
    params = {"source_id": source_id}
    with conn.cursor(row_factory=dict_row) as cursor:
        entries = cursor.execute(sql("integrity/manifest_entries.sql"), params).fetchall()
    findings: list[Finding] = []
    wrote: dict[uuid.UUID, dict[str, Any]] = {}
    removed: dict[uuid.UUID, list[tuple[dict[str, Any], int, tuple[int, ...]]]] = defaultdict(list)
    previous: dict[str, Any] | None = None
    for entry in entries:
        expected_no = previous["entry_no"] + 1 if previous else 1
        if entry["entry_no"] != expected_no:
            findings.append(
                Finding(
                    source_id=source_id,
                    kind="manifest_deleted",
                    detail=f"entries {expected_no}..{entry['entry_no'] - 1} of the chain are "
                    f"missing (entry {entry['entry_no']} follows entry {expected_no - 1})",
                    entry_no=expected_no,
                )
            )
        items = entry["removed"] or []
        if entry["recomputed_hash"] != entry["entry_hash"] or sum(
            int(item["rows"]) for item in items
        ) != int(entry["removed_row_count"]):
            findings.append(
                _at(
                    source_id,
                    entry,
                    "manifest_changed",
                    f"the entry's fields hash to {entry['recomputed_hash'][:16]}..., "
                    f"not to its entry_hash {entry['entry_hash'][:16]}...: it was edited",
                )
            )
        elif entry["entry_no"] == expected_no and entry["prev_hash"] != (
            previous["entry_hash"] if previous else None
        ):
            findings.append(
                _at(
                    source_id,
                    entry,
                    "chain_broken",
                    f"prev_hash {str(entry['prev_hash'])[:16]}... is not the hash of entry "
                    f"{expected_no - 1}: an entry before it was rewritten, or this one was",
                )
            )
        previous = entry
        if entry["batch_id"] is not None:
            wrote[entry["batch_id"]] = entry
        for item in items:
            removed[uuid.UUID(item["batch_id"])].append(
                (entry, int(item["rows"]), _lanes(item["lanes"]))
            )

    stored: dict[uuid.UUID, _Stored] = {}
    for batch_id, rows, content_sha256, lanes in execute(
        conn, "integrity/stored_batches.sql", params
    ):
        stored[batch_id] = _Stored(rows, content_sha256, _lanes(lanes))
    total_rows = sum(batch.rows for batch in stored.values())
    edited = _edited_in_place(conn, source_id)

    for batch_id, entry in wrote.items():
        now = stored.pop(batch_id, _Stored())
        gone = removed.pop(batch_id, [])
        expected_rows = entry["row_count"] - sum(rows for _, rows, _ in gone)
        expected_lanes = [int(value) for value in entry["lanes"]]
        for _, _, lanes in gone:
            expected_lanes = [have - less for have, less in zip(expected_lanes, lanes, strict=True)]
        kind, detail = _compare(now, expected_rows, tuple(expected_lanes), entry, gone)
        if batch_id in edited:
            also = _edited_detail(edited.pop(batch_id))
            kind, detail = kind or "changed", f"{detail}; {also}" if detail else also
        if kind is not None:
            findings.append(
                _at(
                    source_id,
                    entry,
                    kind,
                    detail,
                    expected_rows=expected_rows,
                    found_rows=now.rows,
                )
            )

    unknown = {row["batch_id"]: row for row in _batches_without_manifest(conn, source_id)}
    for row in unknown.values():
        findings.append(
            Finding(
                source_id=source_id,
                kind="manifest_missing",
                detail=f"audit.batches records load #{row['sequence_no']} of this source, "
                "but no manifest entry does: its entry was deleted",
                batch_id=str(row["batch_id"]),
                window_start=_iso(row["window_start"]),
                window_end=_iso(row["window_end"]),
            )
        )
    for batch_id, now in stored.items():
        edited.pop(batch_id, None)  # reported with the batch: rows no entry wrote
        batch = unknown.get(batch_id, {})
        findings.append(
            Finding(
                source_id=source_id,
                kind="added",
                detail=f"{now.rows} row(s) carry a batch id that no manifest entry of this "
                "source wrote",
                batch_id=str(batch_id),
                window_start=_iso(batch.get("window_start")),
                window_end=_iso(batch.get("window_end")),
                expected_rows=0,
                found_rows=now.rows,
            )
        )
    for batch_id, gone in removed.items():  # rows no entry wrote, since taken over or purged
        entry = gone[0][0]
        findings.append(
            _at(
                source_id,
                entry,
                "added",
                f"{sum(rows for _, rows, _ in gone)} row(s) of batch {batch_id}, which no "
                "manifest entry wrote, were taken over or purged by this entry",
                expected_rows=0,
                found_rows=sum(rows for _, rows, _ in gone),
            )
        )
    findings += link_findings
    if published is not None:
        findings += _published_head(source_id, entries, *published)
    # A broken chain first (what the rows are compared with is then in doubt), then the rows;
    # each in chain order, what no entry explains after the entries.
    findings.sort(
        key=lambda finding: (
            finding.kind in ROW_KINDS,
            finding.entry_no is None,
            finding.entry_no or 0,
        )
    )
    head = entries[-1] if entries else None
    return SourceVerification(
        source_id=source_id,
        entries=len(entries),
        rows=total_rows,
        batches=len(wrote),
        head_entry_no=head["entry_no"] if head else None,
        head_hash=head["entry_hash"] if head else None,
        findings=findings,
    )


def _published_head(
    source_id: str, entries: list[dict[str, Any]], entry_no: int, entry_hash: str
) -> list[Finding]:
    """A head published before must still be in the chain, unchanged."""
    entry = next((entry for entry in entries if entry["entry_no"] == entry_no), None)
    if entry is None:
        return [
            Finding(
                source_id=source_id,
                kind="published_head_missing",
                detail=f"the published head, entry {entry_no} ({entry_hash[:16]}...), is no "
                "longer in the chain",
                entry_no=entry_no,
            )
        ]
    if entry["entry_hash"] != entry_hash:
        return [
            _at(
                source_id,
                entry,
                "published_head_changed",
                f"entry {entry_no} now hashes to {entry['entry_hash'][:16]}..., not to the "
                f"published {entry_hash[:16]}...: the chain up to it was rewritten",
            )
        ]
    return []


def _compare(
    now: _Stored,
    expected_rows: int,
    expected_lanes: tuple[int, ...],
    entry: dict[str, Any],
    gone: list[tuple[dict[str, Any], int, tuple[int, ...]]],
) -> tuple[str | None, str]:
    """The kind of change between a batch's rows now and what the chain expects of them."""
    after = (
        f" (written {entry['row_count']}, {sum(rows for _, rows, _ in gone)} taken over or "
        f"purged by entries {', '.join(str(by['entry_no']) for by, _, _ in gone)})"
        if gone
        else ""
    )
    if now.rows > expected_rows:
        return "added", (
            f"{now.rows - expected_rows} row(s) more than the chain accounts for: "
            f"{expected_rows} expected{after}, {now.rows} stored"
        )
    if now.rows < expected_rows:
        return "deleted", (
            f"{expected_rows - now.rows} row(s) fewer than the chain accounts for: "
            f"{expected_rows} expected{after}, {now.rows} stored"
        )
    if now.lanes != expected_lanes:
        return "changed", (
            f"{now.rows} row(s) as expected{after}, but their content is not what was loaded"
        )
    if not gone and now.content_sha256 != entry["content_sha256"]:
        return "changed", (
            f"{now.rows} row(s) as expected, but their SHA-256 {now.content_sha256[:16]}... is "
            f"not the manifest's {entry['content_sha256'][:16]}..."
        )
    return None, ""


#: Most numbers in one event's properties whose original type a jsonb round trip cannot tell.
AMBIGUOUS_NUMBERS_LIMIT = 10
#: Event ids named per batch whose rows were edited in place.
EDITED_EXAMPLES = 3


def _edited_in_place(conn: psycopg.Connection, source_id: str) -> dict[uuid.UUID, list[str]]:
    """Per batch, the events whose columns no longer hash to their stored content hash (streamed
    through a server-side cursor: memory stays flat however many rows the source holds)."""
    edited: dict[uuid.UUID, list[str]] = defaultdict(list)
    with conn.cursor(name="verify_content") as cursor:
        cursor.itersize = 5000
        cursor.execute(sql("integrity/stored_content.sql"), {"source_id": source_id})
        for batch_id, stored_hash, *columns, properties in cursor:
            event = dict(zip(NORMALISED_COLUMNS[:-1], columns, strict=True))
            if not _hashes_to(event, properties, stored_hash):
                edited[batch_id].append(event["event_id"])
    return edited


def _hashes_to(event: dict[str, Any], properties: str, stored_hash: str) -> bool:
    """Whether the stored columns give ``stored_hash`` again. The load hashed the properties as
    orjson wrote them; jsonb keeps their value, so parsing its text and writing it with orjson
    gives the same bytes, but for two cases jsonb cannot tell apart: an integral float orjson
    wrote with an exponent (``1e+16``, stored as ``10000000000000000``, read back as an int)
    and ``-0.0`` (stored as ``0.0``). Those are tried both ways."""
    try:
        canonical = orjson.dumps(orjson.loads(properties), option=orjson.OPT_SORT_KEYS)
        if content_hash(event, canonical) == stored_hash:
            return True
    except (orjson.JSONDecodeError, orjson.JSONEncodeError):
        pass
    return any(content_hash(event, variant) == stored_hash for variant in _variants(properties))


class _Either:
    """A number whose original type is one of ``options``; ``pick`` is the one tried now."""

    __slots__ = ("options", "pick")

    def __init__(self, *options: int | float) -> None:
        self.options = options
        self.pick = options[0]


def _variants(properties: str) -> Any:
    """The orjson texts the properties may have had, one per reading of their ambiguous numbers
    (none when there are none, or more than ``AMBIGUOUS_NUMBERS_LIMIT``)."""
    found: list[_Either] = []

    def on_int(token: str) -> Any:
        value = int(token)
        try:
            written = orjson.dumps(float(value))
        except OverflowError:
            return value
        if b"e" in written and Decimal(written.decode()) == value:
            found.append(_Either(value, float(value)))
            return found[-1]
        return value

    def on_float(token: str) -> Any:
        if token == "0.0":
            found.append(_Either(0.0, -0.0))
            return found[-1]
        return float(token)

    parsed = json.loads(properties, parse_int=on_int, parse_float=on_float)
    if not found or len(found) > AMBIGUOUS_NUMBERS_LIMIT:
        return
    for picks in itertools.product(*(either.options for either in found)):
        for either, pick in zip(found, picks, strict=True):
            either.pick = pick
        try:
            yield orjson.dumps(
                parsed, default=lambda either: either.pick, option=orjson.OPT_SORT_KEYS
            )
        except orjson.JSONEncodeError:  # an int orjson could not have written
            continue


def _edited_detail(event_ids: list[str]) -> str:
    shown = ", ".join(event_ids[:EDITED_EXAMPLES]) + (" ..." if len(event_ids) > 3 else "")
    return (
        f"{len(event_ids)} row(s) edited in place: their columns no longer give their "
        f"content_hash (event {shown})"
    )


def _batches_without_manifest(conn: psycopg.Connection, source_id: str) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cursor:
        return cursor.execute(
            sql("integrity/batches_without_manifest.sql"), {"source_id": source_id}
        ).fetchall()


def _batch_chain_findings(conn: psycopg.Connection) -> dict[str, list[Finding]]:
    """Broken links of the global batch chain, by the source of the row after the break."""
    found: dict[str, list[Finding]] = defaultdict(list)
    with conn.cursor(row_factory=dict_row) as cursor:
        for row in cursor.execute(sql("integrity/batch_chain_links.sql")):
            found[row["source_id"]].append(
                Finding(
                    source_id=row["source_id"],
                    kind="batch_chain_broken",
                    detail=f"audit.batches row #{row['sequence_no']} points at "
                    f"{str(row['prev_hash'])[:16]}..., not at the row before it "
                    f"({str(row['previous_hash'])[:16]}...): a load's row was deleted, "
                    "inserted or rehashed before it",
                    batch_id=str(row["batch_id"]),
                    window_start=_iso(row["window_start"]),
                    window_end=_iso(row["window_end"]),
                )
            )
    return found


def _record(
    dsn: str,
    *,
    verifier_run_id: str,
    started_at: datetime,
    source_id: str | None,
    dag_id: str | None,
    run_id: str | None,
    status: str,
    finished_at: datetime | None = None,
    report: VerificationReport | None = None,
    error: str | None = None,
) -> None:
    """Write the run's row. A run that cannot be recorded fails: an unrecorded verification
    is one an auditor cannot see."""
    findings = [finding.as_dict() for finding in report.findings] if report else []
    with connect(dsn) as conn:
        execute(
            conn,
            "integrity/insert_verifier_run.sql",
            {
                "verifier_run_id": verifier_run_id,
                "started_at": started_at,
                "finished_at": finished_at or datetime.now(UTC),
                "source_id": source_id,
                "dag_id": dag_id,
                "run_id": run_id,
                "status": status,
                "sources_checked": len(report.sources) if report else 0,
                "entries_checked": sum(s.entries for s in report.sources) if report else 0,
                "rows_checked": sum(s.rows for s in report.sources) if report else 0,
                "findings": Jsonb(findings),
                "chain_heads": Jsonb(report.chain_heads if report else {}),
                "error": error,
            },
        )
