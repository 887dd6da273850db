"""Source kind ``mission_control_json``: access logs in the Flanksource Mission Control scraper
shape (config-db's full-mode scrape results), read from files.

The shape, and where it is defined (flanksource/config-db and flanksource/duty on GitHub):

- an access log entry is config-db's ``api/v1.ExternalConfigAccessLog``: duty's
  ``models.ConfigAccessLog`` (``config_id``, ``external_user_id``, ``scraper_id``,
  ``created_at``, ``mfa``, ``properties``, ``count``) plus ``external_config_id``
  (``{config_id, config_type, external_id}``) and ``external_user_aliases``; config-db's
  ``scrapers/extract/README.md`` ("Full Mode Config Map Format") adds the shorthands ``user``
  (an alias or a list of them), a non-UUID ``config_id`` (an external id), ``external_id`` and
  ``config_type``;
- a scrape result (a config item in full mode) carries its entries under ``access_logs`` (or
  ``logs``) and the users they name under ``external_users`` (or ``users``: duty's
  ``models.ExternalUser``: ``id``, ``aliases``, ``name``, ``email``, ``user_type``,
  ``account_id``); its ``uuid``/``config_id``, ``external_id``/``id`` and ``type``/
  ``config_type`` are the config reference of entries that name none (config-db's fixture
  ``fixtures/data/aws_cloudtrail_assume_role_test.json`` is such a file).

Files are JSON lines (each line a scrape result or an entry) or one JSON document: an array of
them, one scrape result, or the ``config-db run`` results object whose ``ConfigAccessLogs`` list
holds the entries. JSON-lines files go through the shared file layer
(:func:`access_warehouse.sources.files.file_pages`); documents are parsed whole, one file at a
time, with the same manifest rules (see :data:`DOC`).
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import re
import socket
import zlib
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import Field

from access_warehouse.contract import NORMALISED_COLUMNS, NormalisationError
from access_warehouse.normalise import FILE_ERROR, clean_text, parse_utc
from access_warehouse.sources.base import (
    Exclusion,
    Feed,
    FetchRequest,
    FileState,
    Normaliser,
    Page,
    SourceKind,
)
from access_warehouse.sources.files import FileSource, bad_line, file_pages, find_files
from access_warehouse.sources.registry import register_kind

log = logging.getLogger(__name__)

KIND = "mission_control_json"
#: The prefix of an event id derived from an entry (Mission Control's entries have no id).
HASH_PREFIX = "sha256:"
#: The target type of an entry whose config reference gives no type.
DEFAULT_TARGET_TYPE = "config_item"

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_NIL_UUID = "00000000-0000-0000-0000-000000000000"
_CATEGORY = re.compile(r"^[a-z][a-z0-9_]{0,40}$")
#: Keys of a scrape result that hold other entities (or the config itself): not copied into
#: every event's ``properties`` (they stay in the landed record).
_ENTITY_KEYS = frozenset(
    {
        "access_logs",
        "logs",
        "external_users",
        "users",
        "config",
        "config_access",
        "access",
        "changes",
        "analysis",
        "external_groups",
        "groups",
        "external_roles",
        "roles",
        "external_user_groups",
        "user_groups",
    }
)
#: Keys of ``properties`` that give the address an access came from.
_IP_KEYS = ("ip", "ip_address", "ipAddress", "source_ip", "client_ip")


def _uuid_text(value: Any) -> str | None:
    """A non-nil UUID as lower-case text, else None."""
    if type(value) is str and _UUID.match(value.strip()) and value.strip() != _NIL_UUID:
        return value.strip().lower()
    return None


def _aliases(value: Any) -> list[str]:
    """``user`` / ``external_user_aliases``: a string or a list of strings (others ignored)."""
    if type(value) is str:
        return [value] if value.strip() else []
    if type(value) is list:
        return [item for item in value if type(item) is str and item.strip()]
    return []


def _is_ip(value: Any) -> bool:
    if type(value) is not str or "\x00" in value:
        return False
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in value else socket.AF_INET, value)
    except (OSError, ValueError):
        return False
    return True


# --- normalise ---------------------------------------------------------------------------------


def _config_ref(entry: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    """(config UUID, external id, config type) the entry itself names, as config-db reads it:
    ``external_config_id`` first, then ``config_id`` (a UUID, or an external id), then
    ``external_id`` and ``config_type`` (or ``type``)."""
    ref = entry.get("external_config_id")
    uuid_text = external = config_type = None
    if type(ref) is dict:
        uuid_text = _uuid_text(ref.get("config_id"))
        external = (
            clean_text(ref.get("external_id")) if type(ref.get("external_id")) is str else None
        )
        config_type = (
            clean_text(ref.get("config_type")) if type(ref.get("config_type")) is str else None
        )
    raw_id = entry.get("config_id")
    if uuid_text is None and _uuid_text(raw_id):
        uuid_text = _uuid_text(raw_id)
    elif (
        external is None
        and type(raw_id) is str
        and raw_id.strip()
        and not _UUID.match(raw_id.strip())
    ):
        external = raw_id  # config-db moves a non-UUID config_id to external_id
    if external is None and type(entry.get("external_id")) is str:
        external = clean_text(entry["external_id"])
    if config_type is None:
        for key in ("config_type", "type"):
            if type(entry.get(key)) is str and clean_text(entry[key]):
                config_type = entry[key]
                break
    return uuid_text, external, config_type


def _item_ref(item: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    """The default config reference of a scrape result (config-db ``applyConfigRefDefaults``):
    ``uuid``/``config_id`` (a UUID), ``external_id``/``id``, ``type``/``config_type``."""
    uuid_text = _uuid_text(item.get("uuid")) or _uuid_text(item.get("config_id"))
    external = None
    for key in ("external_id", "id"):
        if type(item.get(key)) is str and clean_text(item[key]):
            external = item[key]
            break
    config_type = None
    for key in ("type", "config_type"):
        if type(item.get(key)) is str and clean_text(item[key]):
            config_type = item[key]
            break
    return uuid_text, external, config_type


def _find_user(users: list[Any], user_id: str | None, aliases: list[str]) -> dict[str, Any] | None:
    """The external user an entry names: by ``id``, else by any shared alias (lower-cased)."""
    wanted = {alias.strip().lower() for alias in aliases}
    for user in users:
        if type(user) is not dict:
            continue
        if user_id is not None and _uuid_text(user.get("id")) == user_id:
            return user
        if wanted and wanted & {alias.strip().lower() for alias in _aliases(user.get("aliases"))}:
            return user
    return None


def _actor_type(user: dict[str, Any] | None) -> str:
    user_type = str((user or {}).get("user_type") or "").lower().replace(" ", "")
    if "managedidentity" in user_type:
        return "managed_identity"
    if "serviceprincipal" in user_type or user_type in ("application", "app"):
        return "service_principal"
    return "user"


def natural_key(
    config_uuid: str | None,
    external_id: str | None,
    config_type: str | None,
    user_id: str | None,
    aliases: list[str],
    created_at: datetime,
) -> str:
    """``sha256:`` + SHA-256 of the entry's config reference, user and time (see :data:`DOC`)."""
    import orjson

    config = config_uuid or f"{(config_type or '').strip().lower()}|{external_id.strip().lower()}"  # type: ignore[union-attr]
    user = user_id or "\x1f".join(sorted({alias.strip().lower() for alias in aliases}))
    canonical = orjson.dumps([config, user, created_at.astimezone(UTC).isoformat()])
    return HASH_PREFIX + hashlib.sha256(canonical).hexdigest()


def entry_event(
    entry: Any,
    source_id: str,
    *,
    item: dict[str, Any] | None = None,
    users: list[Any] | None = None,
    default_category: str = "authentication",
) -> dict[str, Any]:
    """One access log entry (of ``item``, a scrape result, when it came in one) -> one event."""
    if type(entry) is not dict:
        raise NormalisationError(
            f"access log entry is not a JSON object but {type(entry).__name__}"
        )
    created = entry.get("created_at")
    if type(created) is str and created.startswith("0001-01-01"):
        raise NormalisationError(f"bad created_at {created!r}: Go's zero time (not set)")
    occurred_at = parse_utc(created, "created_at")

    config_uuid, external, config_type = _config_ref(entry)
    from_item = False
    if config_uuid is None and external is None and item is not None:
        config_uuid, external, default_type = _item_ref(item)
        config_type = config_type or default_type
        from_item = True
    if config_uuid is None and external is None:
        raise NormalisationError("access log missing config reference")

    user_id = _uuid_text(entry.get("external_user_id"))
    aliases = _aliases(entry.get("external_user_aliases")) or _aliases(entry.get("user"))
    user = _find_user(users or [], user_id, aliases)
    if user is not None:
        user_id = user_id or _uuid_text(user.get("id"))
        known = {alias.strip().lower() for alias in aliases}
        aliases += [a for a in _aliases(user.get("aliases")) if a.strip().lower() not in known]
    if user_id is None and not aliases:
        raise NormalisationError("access log missing user reference")

    email = (
        clean_text(user.get("email"))
        if user is not None and type(user.get("email")) is str
        else None
    )
    principal = email or next((alias for alias in aliases if "@" in alias), None)
    external_user = user_id or next(
        (
            alias
            for alias in aliases
            if principal is None or alias.strip().lower() != principal.strip().lower()
        ),
        None,
    )

    mfa = entry.get("mfa")
    if mfa is not None and type(mfa) is not bool:
        raise NormalisationError(f"bad mfa {mfa!r}: not true or false")
    entry_properties = entry.get("properties")
    if entry_properties is not None and type(entry_properties) is not dict:
        raise NormalisationError("bad properties: not a JSON object")
    entry_properties = entry_properties or {}
    category = next(
        (
            value
            for value in (entry.get("category"), entry_properties.get("category"))
            if type(value) is str and _CATEGORY.match(value)
        ),
        default_category,
    )
    source_ip = next(
        (entry_properties[key] for key in _IP_KEYS if _is_ip(entry_properties.get(key))), None
    )

    target_name = None
    if item is not None and type(item.get("name")) is str:
        _, item_external, _ = _item_ref(item)
        if from_item or (external and item_external and external == item_external):
            target_name = clean_text(item["name"])

    properties = {key: value for key, value in entry.items() if key not in ("created_at", "mfa")}
    if item is not None:
        properties["item"] = {k: v for k, v in item.items() if k not in _ENTITY_KEYS}
    if user is not None:
        properties["user"] = user
    event = dict.fromkeys(NORMALISED_COLUMNS)
    event.update(
        source_id=source_id,
        event_id=natural_key(config_uuid, external, config_type, user_id, aliases, occurred_at),
        occurred_at=occurred_at,
        category=category,
        action="access",
        outcome="success",
        actor_external_id=external_user,
        actor_name=clean_text(user.get("name"))
        if user is not None and type(user.get("name")) is str
        else None,
        actor_principal_name=principal,
        actor_type=_actor_type(user),
        target_external_id=external or config_uuid,
        target_name=target_name,
        target_type=config_type or DEFAULT_TARGET_TYPE,
        mfa=mfa,
        source_ip=source_ip,
        properties=properties,
    )
    return event


def _entries(record: dict[str, Any]) -> tuple[str, Any] | None:
    for key in ("access_logs", "logs"):
        if key in record:
            return key, record[key]
    return None


def normalise_mission_control(
    record: dict[str, Any], source_id: str, *, default_category: str = "authentication"
) -> dict[str, Any] | list[dict[str, Any]]:
    """A scrape result (several entries -> several events) or one entry -> its event."""
    found = _entries(record)
    if found is None:
        return entry_event(record, source_id, default_category=default_category)
    key, entries = found
    if type(entries) is not list:
        raise NormalisationError(f"`{key}` is not a list")
    users = record.get("external_users", record.get("users")) or []
    if type(users) is not list:
        raise NormalisationError("`external_users` is not a list")
    events = []
    for number, entry in enumerate(entries, start=1):
        try:
            events.append(
                entry_event(
                    entry, source_id, item=record, users=users, default_category=default_category
                )
            )
        except NormalisationError as exc:
            # one bad entry quarantines its scrape result whole: nothing half-loaded
            raise NormalisationError(f"{key}[{number}]: {exc}") from None
    return events


def not_an_access_log(record: dict[str, Any]) -> str | None:
    """A scrape result without access logs (a plain config item) is excluded, not
    quarantined: scraper output holds many of them."""
    found = _entries(record)
    if found is not None:
        return "no_access_logs" if found[1] == [] else None
    if "created_at" in record or FILE_ERROR in record:
        return None
    if any(key in record for key in ("config", "external_users", "users", "changes", "analysis")):
        return "no_access_logs"
    return None


# --- fetch: JSON lines through files.py, JSON documents here ---------------------------------


class _Deferred(Exception):
    """The document is not whole yet (or changed while read): the next run reads it."""


def _modified(info: dict[str, Any]) -> datetime | None:
    value = info.get("mtime", info.get("LastModified", info.get("last_modified")))
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return None


def _gzipped(source: FileSource, head: bytes, path: str) -> bool:
    if source.compression != "auto":
        return source.compression == "gzip"
    return path.endswith((".gz", ".gzip")) or head[:2] == b"\x1f\x8b"


def _is_document(source: FileSource, fs: Any, path: str) -> bool:
    """True for a JSON document (an array, or an object spread over lines); False for JSON
    lines (the first non-blank line is a whole JSON value by itself)."""
    import orjson

    with fs.open(path, "rb") as handle:
        head = handle.read(2)
    with fs.open(path, "rb") as raw:
        stream: Any = gzip.GzipFile(fileobj=raw) if _gzipped(source, head, path) else raw
        try:
            for line in stream:
                stripped = line.strip()
                if not stripped:
                    continue
                if stripped[:1] == b"[":
                    return True
                try:
                    orjson.loads(stripped)
                except orjson.JSONDecodeError:
                    return stripped[:1] == b"{"  # an object spread over lines
                return False
        except (EOFError, gzip.BadGzipFile, zlib.error, OSError):
            return False  # files.py defers or reports it
    return False


def _document_records(document: Any, path: str) -> list[Any]:
    if type(document) is list:
        return document
    if type(document) is dict:
        for key in ("ConfigAccessLogs", "records"):
            if type(document.get(key)) is list and _entries(document) is None:
                return document[key]
        return [document]
    return [bad_line(path, 1, f"a JSON {type(document).__name__}, not an array or object", b"")]


def _read_document(
    source: MissionControlJsonSource, fs: Any, path: str, info: dict[str, Any]
) -> tuple[FileState, list[Any]]:
    import orjson

    if int(info.get("size") or 0) > source.max_document_mb * 1024 * 1024:
        raise ValueError(
            f"{path} is a JSON document larger than max_document_mb={source.max_document_mb}: "
            "write JSON lines instead (they are streamed)"
        )
    with fs.open(path, "rb") as handle:
        stored = handle.read()
    sha256 = hashlib.sha256(stored).hexdigest()
    body = stored
    if _gzipped(source, stored[:2], path):
        try:
            body = gzip.decompress(stored)
        except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as exc:
            raise _Deferred(f"compressed stream ends early or is corrupt: {exc}") from None
    try:
        records = _document_records(orjson.loads(body), path)
    except orjson.JSONDecodeError as exc:
        if str(exc).startswith("unexpected end of data"):
            raise _Deferred(f"the JSON document is not whole yet: {exc}") from None
        records = [bad_line(path, exc.lineno, f"not JSON: {exc}", body)]
    after = fs.info(path)
    if after.get("size") != info.get("size") or _modified(after) != _modified(info):
        raise _Deferred("it changed while it was read")
    state = FileState(path, int(info.get("size") or 0), _modified(info), sha256, len(records))
    return state, records


def _document_pages(
    source: MissionControlJsonSource, fs: Any, path: str, request: FetchRequest
) -> Iterator[Page]:
    stats = request.stats
    info = fs.info(path)
    known = request.processed.get(path)
    if (
        known is not None
        and known.size == info.get("size")
        and known.modified_at == _modified(info)
    ):
        stats.files_skipped += 1
        return
    try:
        state, records = _read_document(source, fs, path, info)
    except _Deferred as exc:
        stats.files_deferred += 1
        log.warning("%s waits for the next run: %s", path, exc)
        return
    if known is not None and known.sha256 == state.sha256:
        stats.files_skipped += 1
        request.files.append(state)
        return
    stats.files_read += 1
    stats.requests += 1
    for offset in range(0, len(records), source.page_size):
        yield Page(records=records[offset : offset + source.page_size], stream=path)
    request.files.append(state)
    log.info("%s (a JSON document): %d records (sha256 %s)", path, len(records), state.sha256[:12])


def mission_control_pages(
    source: MissionControlJsonSource, request: FetchRequest
) -> Iterator[Page]:
    """Every file not loaded yet or changed since: JSON-lines files through the shared file
    layer, JSON documents parsed whole here."""

    fs, paths = find_files(source)
    for path in paths:
        if _is_document(source, fs, path):
            yield from _document_pages(source, fs, path, request)
        else:
            yield from file_pages(source.model_copy(update={"path": path}), request)


# --- the config model ------------------------------------------------------------------------


class MissionControlJsonSource(FileSource):
    """Files of Mission Control scraper output (scrape results with ``access_logs``)."""

    kind: Literal["mission_control_json"]
    #: The category of an entry that names none (``category`` on the entry or its properties).
    category: str = Field("authentication", pattern=_CATEGORY.pattern)
    #: A JSON document (not JSON lines) is parsed whole: at most this many MiB.
    max_document_mb: int = Field(256, ge=1, le=4096)

    def normaliser(self) -> Normaliser:
        category = self.category

        def normalise(record: dict[str, Any], source_id: str) -> Any:
            return normalise_mission_control(record, source_id, default_category=category)

        return normalise

    def exclusion(self) -> Exclusion:
        return not_an_access_log

    def title(self) -> str:
        return f"Mission Control access logs ({self.name})"

    def kind_doc(self) -> str:
        return DOC

    def feeds(self) -> list[Feed]:
        return [
            replace(feed, fetch=lambda request: mission_control_pages(self, request))
            for feed in super().feeds()
        ]


DOC = """Access logs in the Flanksource Mission Control scraper shape, read from files.

Shape (as defined in flanksource/config-db and flanksource/duty): an entry is config-db's
`api/v1.ExternalConfigAccessLog` = duty's `models.ConfigAccessLog` (`config_id`,
`external_user_id`, `scraper_id`, `created_at`, `mfa`, `properties`, `count`) plus
`external_config_id` (`{config_id, config_type, external_id}`) and `external_user_aliases`, with
the shorthands of config-db's `scrapers/extract/README.md` ("Full Mode Config Map Format"):
`user` (alias or list), a non-UUID `config_id` (= external id), `external_id`, `config_type`.
A scrape result (a full-mode config item, e.g. config-db's
`fixtures/data/aws_cloudtrail_assume_role_test.json`) carries entries under `access_logs` (or
`logs`) and their users under `external_users` (or `users`, duty's `models.ExternalUser`).

Files: JSON lines (each line a scrape result or an entry; streamed by the shared file layer,
gzip and object stores included) or one JSON document: an array of scrape results or entries,
one scrape result, or the `config-db run` results object (its `ConfigAccessLogs` list). A
document is parsed whole, one file at a time (`max_document_mb`, default 256); JSON lines keep
memory flat. Each file is loaded once (manifest `landing.processed_files`); a changed file is
read again and its events upsert. A document that ends early waits for the next run; one that
is not JSON lands as one `_file_error` record and is quarantined with its line.

What it records: one event per entry: Mission Control's entries are already aggregated (the
last access `created_at`, a `count`), so an event is "this user accessed this config item,
last at `created_at`, `count` times", not each access. It cannot know failures (access logs
record accesses only), the address (unless the entry's properties have `ip`, `ip_address`,
`ipAddress`, `source_ip` or `client_ip`) or MFA when the entry omits `mfa` (Go's `omitempty`
drops `false` too, so a missing `mfa` is NULL, never guessed false).

Mapping:
- `occurred_at` = `created_at` (Go's zero time `0001-01-01...` is quarantined as unset);
- `category` = the entry's `category` or `properties.category`, else the source's `category`
  (default `authentication`); `action` = `access`; `outcome` = `success`;
- actor: the entry's `external_user_aliases` (or `user`), with the matching user of the scrape
  result (by `id` or a shared alias) adding its aliases, `name`, `email`, `user_type`:
  `actor_principal_name` = the user's `email`, else the first alias with an `@` (a UPN resolves
  to the same person as Entra's sign-ins); `actor_external_id` = `external_user_id` (or the
  user's `id`) when it is a UUID (Mission Control's id for an Entra user is its object id),
  else the first other alias; `actor_type` from `user_type` (`...ServicePrincipal...` ->
  service_principal, `...ManagedIdentity...` -> managed_identity, else user);
- target (a config item): `external_config_id`, else the entry's `config_id` / `external_id` /
  `config_type`, else the scrape result's `uuid`/`config_id`, `external_id`/`id`, `type`/
  `config_type` (as config-db applies defaults; unlike config-db, an entry's own reference is
  never replaced by the scrape result's): `target_type` = the config type (e.g.
  `AWS::IAM::Role`, default `config_item`), `target_external_id` = the external id (else the
  Mission Control config UUID), `target_name` = the scrape result's `name` when it is the
  target;
- `mfa` = `mfa` (true/false; anything else is quarantined);
- `properties` = the entry without `created_at` and `mfa` (so `count`, `scraper_id`, its own
  `properties` and references), `item` = the scrape result's own fields (not `config` nor its
  entity lists, which stay in landing) and `user` = the matched external user.

Entries without a config or a user reference are quarantined (config-db drops them with a
warning); one bad entry quarantines its whole scrape result, so nothing is half-loaded. A scrape
result without access logs (a plain config item) is excluded (`no_access_logs`), not quarantined.

Natural key: entries have no id, so `event_id` = `sha256:` + SHA-256 of the JSON array
[config (its UUID, else lower-cased `type|external id`), user (`external_user_id`, else the
sorted lower-cased aliases joined), `created_at` in UTC]. The same entry scraped again is the
same event (a grown `count` updates it); a later last access is a new event. Note that
`audit.access_logs.count` counts events (entries), while Mission Control's own `count` stays in
`properties.count`.

Privileges: read access to the files (or the bucket prefix through `storage_conn_id`).
"""

EXAMPLE: dict[str, Any] = {
    "name": "mc_scraper",
    "path": "/data/mission-control/scrapes/*.json",
    "schedule": "15 * * * *",
}

MISSION_CONTROL_JSON = register_kind(
    SourceKind(
        name=KIND,
        config=MissionControlJsonSource,
        summary="Mission Control scraper output (config items with access_logs) from files",
        doc=DOC,
        example=EXAMPLE,
    )
)
