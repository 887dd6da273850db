"""The source interface: what every source kind provides to the shared path.

A source kind is one module or folder under ``access_warehouse/sources/`` that defines

- a config model (a subclass of :class:`SourceConfig` with ``kind: Literal["<kind>"]``), whose
  :meth:`SourceConfig.feeds` turns one configured source into one or more :class:`Feed`;
- for each feed: how it fetches (``fetch``: pages of raw records for a window or after a
  bookmark), its normaliser (raw record -> access event(s)), its data-quality expectations
  beyond the shared suite, and its doc (the DAG's ``doc_md``);
- a :class:`SourceKind` record passed to :func:`access_warehouse.sources.registry.register_kind`.

Everything after ``fetch`` (landing, normalise, validate, resolve, upsert, bookmarks) is shared
and written once; this module imports nothing heavy, because DAG files import it to parse.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator

from access_warehouse.quality.policy import QualityPolicy

#: A source's name: part of its DAG ids and source ids, so lower-case and stable.
NAME_PATTERN = r"^[a-z][a-z0-9_]{0,40}$"


class StrictModel(BaseModel):
    """Unknown keys are errors and values are immutable, in every config model."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def valid_cron(value: str) -> str:
    """``value`` if it is a cron expression, else ``ValueError`` quoting it."""
    from croniter import croniter  # ships with Airflow

    if not croniter.is_valid(value):
        raise ValueError(f"not a valid cron expression: {value!r}")
    return value


class ScheduleConfig(StrictModel):
    """When a feed runs: the fields every feed's config has."""

    enabled: bool = True
    schedule: str = "0 0 * * *"

    @field_validator("schedule")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        return valid_cron(value)


# --- choosing what to extract ------------------------------------------------------------


@dataclass(frozen=True)
class TimeWindow:
    """Extract ``[data_interval_start - lookback, data_interval_end)`` on ``time_field``;
    natural-key upserts make overlapping and repeated windows exact."""

    lookback: timedelta
    time_field: str

    def describe(self) -> str:
        minutes = int(self.lookback.total_seconds() // 60)
        return (
            f"time window on `{self.time_field}`: [data interval start - {minutes} min lookback, "
            "data interval end)"
        )


@dataclass(frozen=True)
class Bookmark:
    """Extract forward only: every record strictly after the stored position
    ``(cursor, tiebreak)``; the position advances only when a load of the batch commits."""

    cursor: str  # what the cursor is, e.g. "event_id" or "file offset"
    tiebreak: str  # the key that orders records with the same cursor value

    def describe(self) -> str:
        return (
            f"forward-only bookmark on (`{self.cursor}`, `{self.tiebreak}`), advanced by "
            "committed loads only"
        )


@dataclass(frozen=True)
class FileManifest:
    """Extract every file matching ``pattern`` that no committed load has read yet, or that
    changed since (size, time or SHA-256 differ); ``landing.processed_files`` is the manifest,
    moved only by the load that committed the batch that read the file."""

    pattern: str

    def describe(self) -> str:
        return (
            f"files matching `{self.pattern}` not loaded yet or changed since (manifest "
            "landing.processed_files, moved by committed loads only)"
        )


Selection = TimeWindow | Bookmark | FileManifest

#: A bookmark position: JSON values, compared for equality only (``{"cursor": .., "key": ..}``).
Position = dict[str, Any]


@dataclass
class RequestStats:
    """What a fetch asked of its source; stored with the landing batch."""

    requests: int = 0
    retries: int = 0
    throttled: int = 0
    server_errors: int = 0
    connection_errors: int = 0
    token_renewals: int = 0
    bad_pages: int = 0  # 2xx answers that were no readable page (retried)
    waited_s: float = 0.0  # in retries (Retry-After, backoff)
    paced_s: float = 0.0  # holding back to stay under the source's documented rate limit
    redacted: int = 0  # string values whose secrets were masked before landing
    by_stream: dict[str, int] = field(default_factory=dict)
    files_read: int = 0  # file sources: files landed by this extract
    files_skipped: int = 0  # unchanged since their committed load
    files_deferred: int = 0  # still being written (cut short, or changing): the next run
    # --- completeness evidence (dq.completeness; access_warehouse.quality.completeness) ---
    # JSON values only. The shared extract and load add the selection, window or bookmark,
    # pages and records; a kind adds what only it knows.
    #: What the fetch asked, exactly: the URL and its ``$filter``, the SQL text and its bound
    #: parameters, the files read.
    asked: dict[str, Any] = field(default_factory=dict)
    #: What the source answered about it: pages and ``paging_ended`` (the last page had no next
    #: link), ``files`` (path -> size, lines counted, lines read), ``count`` and ``count_snapshot``
    #: (whether the count shares the read's snapshot).
    source_said: dict[str, Any] = field(default_factory=dict)
    #: What the source says the request holds (a ``count(*)`` over the same window, the lines
    #: of the files read); None where it cannot say.
    source_count: int | None = None


@dataclass(frozen=True)
class FileState:
    """A file as a load saw it: the manifest's record of it."""

    path: str
    size: int
    modified_at: datetime | None
    sha256: str
    records: int


@dataclass(frozen=True)
class FetchRequest:
    """What the shared extract asks a feed for: one of ``window``, ``after`` or ``processed``.

    ``window`` (an :class:`access_warehouse.landing.ExtractWindow`) for :class:`TimeWindow`
    feeds; ``after`` for :class:`Bookmark` feeds (None: from the beginning); ``processed``
    (the manifest: path -> state) for :class:`FileManifest` feeds, which append each file they
    land to ``files``.
    """

    window: Any = None
    after: Position | None = None
    stats: RequestStats = field(default_factory=RequestStats)
    processed: dict[str, FileState] = field(default_factory=dict)
    files: list[FileState] = field(default_factory=list)


@dataclass(frozen=True)
class Page:
    """One page of raw records as the source sent them (any JSON values: the shared path
    quarantines what is not an object). Bookmark feeds give the position of the page's last
    record; the batch's bookmark moves there once the batch is loaded."""

    records: list[Any]
    position: Position | None = None
    stream: str | None = None  # for the task log: which of a feed's request streams


#: Pages of a feed for one request; the extract lands each before asking for the next.
Fetcher = Callable[[FetchRequest], Iterator[Page]]
#: One raw record (a JSON object) -> one access event, or several; raises
#: :class:`access_warehouse.contract.NormalisationError` with the quarantine reason.
Normaliser = Callable[[dict[str, Any], str], dict[str, Any] | list[dict[str, Any]]]


class RecordRedactor(Protocol):
    """Masks secrets in a raw record in place, before it lands; returns how many values
    changed (:class:`access_warehouse.redaction.Redactor`)."""

    def redact_record(self, record: Any) -> int: ...


#: The configured exclusion a raw record matches (e.g. ``category:Policy``), or None to keep it.
Exclusion = Callable[[dict[str, Any]], str | None]
#: The ``great_expectations`` module -> the feed's expectations beyond the shared suite (each a
#: row-level expectation on a contract column).
ExpectationFactory = Callable[[Any], list[Any]]


@dataclass(frozen=True)
class Feed:
    """One extractable stream of one configured source: one DAG, one source id."""

    source_id: str  # stable: keys every row the feed writes
    dag_id: str
    #: ``audit.sources.kind`` and the folder of the feed's golden fixtures
    #: (``tests/fixtures/<record_kind>/``), e.g. ``entra_signins``.
    record_kind: str
    title: str  # e.g. "Entra ID sign-ins (contoso)"
    schedule: str  # cron, UTC
    selection: Selection
    fetch: Fetcher
    normalise: Normaliser
    doc_md: str  # what the feed reads and how it maps to the contract (Markdown)
    exclude: Exclusion | None = None
    #: Feeds whose records may hold secrets (statement text) mask them before landing.
    redact: RecordRedactor | None = None
    expectations: ExpectationFactory | None = None
    tags: tuple[str, ...] = ()
    tenant_id: str | None = None
    conn_id: str | None = None
    max_active_runs: int = 3
    #: True for a feed that repeats the events of the feed owning ``source_id`` (e.g. an Azure
    #: Monitor export of a Graph feed's sign-ins): it writes under that id, so each event is
    #: stored once; config allows one owner and any number of such feeds per source id.
    shares_source_id: bool = False
    #: The record kind whose suites (``include/quality/suites/``) validate this feed, when it
    #: is not ``record_kind`` (a feed in another kind's shape, e.g. ``exec``).
    suite_kind: str | None = None
    #: The source's batch-level check thresholds (its ``quality:`` block); None: the defaults.
    quality: QualityPolicy | None = None


class SourceConfig(StrictModel):
    """The fields every configured source has; each kind's model adds its own.

    A subclass declares ``kind: Literal["<kind>"]`` (the discriminator in ``sources.yaml``) and
    implements :meth:`feeds`.
    """

    kind: str
    name: str = Field(pattern=NAME_PATTERN)
    #: Thresholds of the checks that fail a whole window (see ``QualityPolicy``).
    quality: QualityPolicy = QualityPolicy()

    def feeds(self) -> list[Feed]:
        """The enabled feeds of this source (each becomes a DAG)."""
        raise NotImplementedError

    @classmethod
    def check_siblings(cls, sources: list[SourceConfig]) -> list[SourceConfig]:
        """Checks across all configured sources of this kind (e.g. at most one default
        tenant); may return adjusted copies. ``ValueError`` says what is wrong."""
        return sources


@dataclass(frozen=True)
class SourceKind:
    """A registered source kind."""

    name: str  # the ``kind:`` value in sources.yaml
    config: type[SourceConfig]
    summary: str  # one line: what it reads
    doc: str  # Markdown: mapping to the contract, natural key, limits
    #: A valid config entry (without ``kind``): shown in docs, used by the contract tests.
    example: dict[str, Any]
