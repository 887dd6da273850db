"""What every file source shares: finding files, the manifest, reading JSON records safely.

A file kind (ECS JSON lines, Cloudflare Logpush, Azure Monitor exports, Mission Control scraper
output...) subclasses :class:`FileSource` and gives a normaliser; :func:`file_pages` does the
rest, for every kind alike:

- files are found by a glob, local or on an object store through ``fsspec`` (``s3://``,
  ``abfs://``, ``gs://``... with the filesystem's package installed; credentials from an
  Airflow connection's extra, ``storage_conn_id``), plain or gzip (``compression: auto`` looks
  at the file's first bytes, whatever its name), in path order;
- every file is loaded once: a file whose size and modification time match the manifest
  (``landing.processed_files``) is skipped; one whose content changed is read again (its
  events upsert on their natural keys, so nothing duplicates); one touched but unchanged (same
  SHA-256) is not landed again, the manifest only takes its new time;
- a file still being written (a last line cut short, a gzip stream that ends early, a size or
  time that changes while it is read) is not landed at all this run: it waits for the next.
  Once it has not changed for ``settle_minutes`` it is taken as finished (its writer died, or
  it was cut short in transit): it lands, and the cut-short tail lands as a bad line, so it is
  quarantined and visible instead of waiting for ever;
- a line that is not JSON, or not a JSON object, lands as ``{"_file_error": ..., "file":
  ..., "line": ..., "text": ...}`` and the shared guard quarantines it with its file and line
  (blank lines are skipped but counted; a UTF-8 byte-order mark on line 1 is ignored);
- a file that vanishes between listing and reading (rotated away) is skipped this run;
- memory stays flat: a file is read twice as a stream (once to check and hash it, counting its
  lines without parsing them but for the last, once to parse and land it page by page, reading
  exactly the bytes checked and verifying their SHA-256, so a file appended to after the check
  still lands what was checked, and one rewritten in between fails the extract for its retry);
  only the ``{"records": [...]}`` envelope (Azure Monitor's older blob format) is parsed
  whole, one file at a time.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import itertools
import logging
import os
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import IO, Any, Literal

from pydantic import Field, field_validator

from access_warehouse.normalise import FILE_ERROR
from access_warehouse.sources.base import (
    Feed,
    FetchRequest,
    FileManifest,
    FileState,
    Normaliser,
    Page,
    SourceConfig,
    valid_cron,
)

log = logging.getLogger(__name__)

#: How much of a bad line is kept with its quarantine reason.
TEXT_KEPT = 10_000
_GZIP_MAGIC = b"\x1f\x8b"
_BOM = b"\xef\xbb\xbf"


class FileSource(SourceConfig):
    """The fields of every file source; a kind adds its own and implements :meth:`normaliser`,
    :meth:`kind_doc` and, if its files are not JSON lines, :attr:`envelope`."""

    #: A glob (``/data/logs/**/*.json.gz``) or a folder (every file below it), local or an
    #: fsspec URL (``s3://bucket/prefix/*.gz``).
    path: str = Field(min_length=1)
    #: ``auto``: gzip when the file starts with gzip's magic bytes, whatever its name.
    compression: Literal["auto", "gzip", "none"] = "auto"
    #: An Airflow connection whose extra holds the object store's fsspec options.
    storage_conn_id: str | None = None
    enabled: bool = True
    schedule: str = "0 * * * *"
    page_size: int = Field(5000, ge=1, le=100_000)
    max_active_runs: int = Field(1, ge=1, le=16)
    #: A file cut short (last line, gzip stream) waits while it changed less than this long
    #: ago; after that it is finished and its cut-short tail is quarantined as a bad line.
    settle_minutes: int = Field(60, ge=0, le=7 * 24 * 60)

    #: ``lines``: one JSON value per line; ``auto``: also the ``{"records": [...]}`` envelope.
    envelope: Literal["lines", "auto"] = "lines"

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        return valid_cron(value)

    @property
    def source_id(self) -> str:
        return f"{self.kind}:{self.name}"

    @property
    def dag_id(self) -> str:
        return f"{self.kind}_{self.name}"

    def normaliser(self) -> Normaliser:
        raise NotImplementedError

    def kind_doc(self) -> str:
        raise NotImplementedError

    def title(self) -> str:
        return f"{self.kind} files ({self.name})"

    def exclusion(self) -> Any:
        return None

    def feed_source_id(self) -> str:
        """The source id the feed writes under (a kind whose files repeat another feed's events
        writes under that feed's id, so each event is stored once)."""
        return self.source_id

    def feeds(self) -> list[Feed]:
        if not self.enabled:
            return []
        return [
            Feed(
                source_id=self.feed_source_id(),
                dag_id=self.dag_id,
                record_kind=self.kind,
                title=self.title(),
                schedule=self.schedule,
                selection=FileManifest(pattern=self.path),
                fetch=lambda request: file_pages(self, request),
                normalise=self.normaliser(),
                exclude=self.exclusion(),
                doc_md=f"Files `{self.path}` (kind `{self.kind}`).\n\n{self.kind_doc()}",
                tags=("files", self.kind),
                max_active_runs=self.max_active_runs,
            )
        ]


# --- finding files ---------------------------------------------------------------------------


def find_files(source: FileSource) -> tuple[Any, dict[str, dict[str, Any]]]:
    """The fsspec filesystem of ``source.path`` and the files it matches with their listing
    info (size, time), by path in path order."""
    import fsspec  # ships with Airflow; only when a fetch runs

    options: dict[str, Any] = {}
    if source.storage_conn_id:
        from access_warehouse.airflow_adapters.connections import airflow_connection

        options = dict(airflow_connection(source.storage_conn_id).extra_dejson or {})
    # ${VAR} in the path: deployments (and the demo) keep log folders in the environment
    fs, root = fsspec.core.url_to_fs(os.path.expandvars(source.path), **options)
    if any(char in root for char in "*?["):
        found = fs.glob(root, detail=True)
    elif fs.isdir(root):
        found = fs.find(root, detail=True)
    else:
        try:
            found = {root: fs.info(root)}
        except FileNotFoundError:
            found = {}
    return fs, {
        path: found[path] for path in sorted(found) if found[path].get("type") != "directory"
    }


def _modified(info: dict[str, Any]) -> datetime | None:
    value = info.get("mtime", info.get("LastModified", info.get("last_modified")))
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return None


def _size(info: dict[str, Any]) -> int:
    return int(info.get("size") or 0)


# --- reading ---------------------------------------------------------------------------------


class _Incomplete(Exception):
    """The file is still being written; it waits for the next run."""


class _HashingReader(io.RawIOBase):
    """Reads at most ``limit`` bytes of ``raw`` and hashes every byte read (the file as
    stored, compressed or not)."""

    def __init__(self, raw: IO[bytes], limit: int | None = None) -> None:
        self._raw = raw
        self._left = limit
        self.sha256 = hashlib.sha256()
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        wanted = len(buffer) if self._left is None else min(len(buffer), self._left)
        if wanted <= 0:
            return 0
        data = self._raw.read(wanted)
        self.sha256.update(data)
        self.size += len(data)
        if self._left is not None:
            self._left -= len(data)
        buffer[: len(data)] = data
        return len(data)


def _lines(stream: IO[bytes], gzipped: bool) -> Iterator[bytes]:
    source: IO[bytes] = io.BufferedReader(stream, 1 << 20)  # type: ignore[arg-type]
    if gzipped:
        source = gzip.GzipFile(fileobj=source)  # type: ignore[assignment]
    try:
        yield from source
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise _Incomplete(f"compressed stream ends early or is corrupt: {exc}") from None


def _is_gzip(source: FileSource, fs: Any, path: str) -> bool:
    if source.compression != "auto":
        return source.compression == "gzip"
    with fs.open(path, "rb") as handle:
        return handle.read(2) == _GZIP_MAGIC


def parse_line(line: bytes, path: str, number: int) -> Any:
    """One JSON-lines line: the object, or a :func:`bad_line` record saying why not."""
    import orjson

    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        return bad_line(path, number, f"not JSON: {exc}", line)
    if type(value) is not dict:
        return bad_line(path, number, f"a JSON {type(value).__name__}, not an object", line)
    return value


def bad_line(path: str, number: int, reason: str, line: bytes) -> dict[str, Any]:
    """The record that stands for a line that is no JSON object: the shared guard
    quarantines it with its file (or command) and line number."""
    return {
        FILE_ERROR: reason,
        "file": path,
        "line": number,
        "text": line[:TEXT_KEPT].decode("utf-8", errors="replace"),
    }


_ENVELOPE = re.compile(rb'^\s*\{\s*"records"\s*:\s*\[')
#: How much of a file is looked at to tell a (pretty-printed) envelope from JSON lines.
_ENVELOPE_HEAD = 64 * 1024


class _Reading:
    """One pass over one file: its records (``parse``) or just one item per record (the
    check pass: lines are counted, only the last one is parsed, to tell a cut-short line)."""

    def __init__(
        self,
        source: FileSource,
        fs: Any,
        path: str,
        gzipped: bool,
        *,
        parse: bool,
        settled: bool,
        limit: int | None = None,
    ) -> None:
        self.source, self.fs, self.path, self.gzipped = source, fs, path, gzipped
        self.parse, self.settled, self.limit = parse, settled, limit
        self.reader: _HashingReader | None = None

    def records(self) -> Iterator[Any]:
        """Raises :class:`_Incomplete` for a file cut short, unless it has settled (its cut
        tail is then a bad line)."""
        path = self.path
        with self.fs.open(path, "rb") as handle:
            self.reader = _HashingReader(handle, self.limit)
            lines = _lines(self.reader, self.gzipped)
            number, line = 0, b""
            try:
                first = next(lines, None)
                if first is None:
                    return
                number = 1
                if first.startswith(_BOM):
                    first = first[len(_BOM) :]
                if self.source.envelope == "auto" and first.lstrip().startswith(b"{"):
                    # the envelope may be pretty-printed: look at the head, not one line
                    head = [first]
                    while sum(map(len, head)) < _ENVELOPE_HEAD and b"[" not in b"".join(head):
                        following = next(lines, None)
                        if following is None:
                            break
                        head.append(following)
                    if _ENVELOPE.match(b"".join(head)):
                        yield from self._envelope(b"".join(head) + b"".join(lines))
                        return
                    lines = itertools.chain(head[1:], lines)
                line = first
                for following in lines:
                    if not line.isspace():
                        yield parse_line(line, path, number) if self.parse else None
                    line, number = following, number + 1
                if line and not line.isspace():
                    if line.endswith(b"\n"):
                        yield parse_line(line, path, number) if self.parse else None
                    else:
                        record = parse_line(line, path, number)
                        if FILE_ERROR in record and not self.settled:
                            raise _Incomplete(f"line {number} is cut short")
                        yield record if self.parse else None
            except _Incomplete as exc:
                if not self.settled:
                    raise
                # finished, yet cut short: what it held lands, the cut is quarantined
                if line.endswith(b"\n") and not line.isspace():
                    yield parse_line(line, path, number) if self.parse else None
                while self.reader.read(1 << 20):  # the rest is hashed all the same
                    pass
                yield bad_line(path, number + 1, f"the file ends early: {exc}", b"")

    def _envelope(self, body: bytes) -> Iterator[Any]:
        import orjson

        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            if not self.settled:
                raise _Incomplete(f"the records envelope is not whole JSON yet: {exc}") from None
            yield bad_line(self.path, 1, f"the records envelope is not JSON: {exc}", body)
            return
        records = document.get("records") if type(document) is dict else None
        if type(records) is not list:
            yield bad_line(self.path, 1, "an envelope without a `records` list", body)
            return
        for number, record in enumerate(records, start=1):
            if type(record) is dict:
                yield record
            else:
                yield bad_line(
                    self.path,
                    number,
                    f"record {number} of the envelope is not an object",
                    orjson.dumps(record),
                )


@dataclass
class _Checked:
    state: FileState
    gzipped: bool
    settled: bool


def _check(source: FileSource, fs: Any, path: str, info: dict[str, Any]) -> _Checked:
    """Read the whole file once: its SHA-256 and record count, or :class:`_Incomplete`."""
    gzipped = _is_gzip(source, fs, path)
    modified = _modified(info)
    settled = modified is None or (  # object stores without a time write objects whole
        datetime.now(UTC) - modified >= timedelta(minutes=source.settle_minutes)
    )
    reading = _Reading(source, fs, path, gzipped, parse=False, settled=settled)
    records = sum(1 for _ in reading.records())
    assert reading.reader is not None
    after = fs.info(path)
    if _size(after) != _size(info) or _modified(after) != modified:
        raise _Incomplete("it changed while it was read")
    if reading.reader.size != _size(info):
        raise _Incomplete(f"{reading.reader.size} bytes read, {_size(info)} listed")
    state = FileState(path, _size(info), modified, reading.reader.sha256.hexdigest(), records)
    return _Checked(state, gzipped, settled)


def file_pages(source: FileSource, request: FetchRequest) -> Iterator[Page]:
    """Pages of the records of every file not loaded yet or changed since (see module doc);
    each file landed is appended to ``request.files`` for the manifest."""
    stats = request.stats
    fs, listed = find_files(source)
    log.info("%d files match %s", len(listed), source.path)
    # Completeness evidence: the files read, each with its lines as counted by the check pass
    # and as landed; the source's count is the sum of the lines counted.
    read_paths: list[str] = []
    said_files: dict[str, dict[str, Any]] = {}
    deferred: dict[str, str] = {}
    stats.asked.update(path=source.path, files_listed=len(listed), files=read_paths)
    stats.source_said.update(files=said_files, deferred=deferred)
    stats.source_count = 0
    for path, info in listed.items():
        known = request.processed.get(path)
        if known is not None and known.size == _size(info) and known.modified_at == _modified(info):
            stats.files_skipped += 1
            continue
        try:
            checked = _check(source, fs, path, info)
        except _Incomplete as exc:
            stats.files_deferred += 1
            deferred[path] = str(exc)
            log.warning("%s waits for the next run: %s", path, exc)
            continue
        except FileNotFoundError:
            log.warning("%s vanished after it was listed (rotated away?): skipped", path)
            continue
        state = checked.state
        if known is not None and known.sha256 == state.sha256:
            stats.files_skipped += 1  # touched, not changed: the manifest takes its new time
            request.files.append(state)
            continue
        stats.files_read += 1
        stats.requests += 1
        read_paths.append(path)
        said = said_files[path] = {
            "size": state.size,
            "sha256": state.sha256,
            "lines": state.records,
            "read": 0,
        }
        stats.source_count += state.records
        reading = _Reading(
            source,
            fs,
            path,
            checked.gzipped,
            parse=True,
            settled=checked.settled,
            limit=state.size,
        )
        page: list[Any] = []
        landed = 0
        for record in reading.records():
            page.append(record)
            if len(page) >= source.page_size:
                landed += len(page)
                said["read"] = landed
                yield Page(records=page, stream=path)
                page = []
        if page:
            landed += len(page)
            said["read"] = landed
            yield Page(records=page, stream=path)
        assert reading.reader is not None
        if landed != state.records or reading.reader.sha256.hexdigest() != state.sha256:
            # rewritten between the check and the landing: those pages are in the batch, so
            # fail it (the retry reads the file whole again) rather than half-load it
            raise RuntimeError(f"{path} changed while it was landed; the retry reads it again")
        request.files.append(state)
        log.info("%s: %d records (sha256 %s)", path, landed, state.sha256[:12])
