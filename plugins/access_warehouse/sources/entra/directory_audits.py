"""Microsoft Graph directory audit records (``auditLogs/directoryAudits``) -> access events.

One Graph ``directoryAudit`` record becomes **one access event per target resource**, each with
exactly the columns of :data:`access_warehouse.contract.NORMALISED_COLUMNS`. A record without
targets becomes one event without a target. A record that cannot be an event raises
:class:`~access_warehouse.contract.NormalisationError`; its message is the quarantine reason.
Pure Python (no pandas, no dateutil): it runs on every record of every interval. Text cleaning
and timestamp parsing are the sign-in normaliser's (:mod:`access_warehouse.normalise.common`).

Mapping rules
-------------

Identity and time

- ``source_id``: given by the caller (the configured source, e.g. one Entra tenant).
- ``event_id``: ``"<id>:<n>"``, ``n`` the 0-based position of the target in
  ``targetResources`` (``"<id>:0"`` when there are no targets), so the events of one record
  have distinct, stable natural keys. Missing, null or blank ``id`` ->
  ``NormalisationError("missing id")``.
- ``occurred_at``: ``activityDateTime`` as a timezone-aware UTC ``datetime``, parsed exactly as
  the sign-ins' ``createdDateTime`` (7 fractional digits truncated, offsets converted, no
  offset = UTC). Missing, non-string, date-only or unparsable -> ``NormalisationError``
  quoting the bad value.
- ``category`` = ``"iam"``. ``action`` = ``activityDisplayName`` with surrounding whitespace
  removed (Graph writes some names with a trailing space, e.g.
  ``"Update application \u2013 Certificates and secrets management "``); when it is missing or
  blank, ``operationType``; else ``"unknown"``.

Outcome (``result``)

- ``"success"`` -> ``success``; ``"failure"`` and ``"timeout"`` -> ``failure`` (case-
  insensitive); anything else (``unknownFutureValue``, null, ...) -> ``unknown``.
- Exported logs write a number: ``0`` -> success, ``1`` -> failure, any other number ->
  unknown; integers and numeric strings (``"0"``, ``" 1 "``) alike (booleans are not numbers).
- ``failure_reason``: ``resultReason`` for failures (empty -> null), else null (Graph often
  writes a success text there). ``error_code``: always null (directory audits have none).

Actor (``initiatedBy``)

- ``initiatedBy.user`` naming someone (any of ``id``, ``displayName``, ``userPrincipalName``)
  -> ``actor_type`` ``"user"``: ``actor_external_id`` = ``id``, ``actor_name`` =
  ``displayName``, ``actor_principal_name`` = ``userPrincipalName``. A user wins over an app
  when both are filled (the user acted through the app).
- Else ``initiatedBy.app`` naming something (any of ``servicePrincipalId``, ``appId``,
  ``displayName``, ``servicePrincipalName``) -> ``actor_type`` ``"service_principal"``:
  ``actor_external_id`` = ``servicePrincipalId``, falling back to ``appId`` (Graph often
  sends ``appId`` null), ``actor_name`` = ``displayName`` or ``servicePrincipalName``,
  ``actor_principal_name`` null (applications have no UPN) - the same identifiers sign-ins use
  for service principal actors. ``actor_type`` is ``"managed_identity"`` only when the app
  says so: a ``servicePrincipalType`` of ``ManagedIdentity`` (Graph v1.0 does not send it;
  some exports do). Names are never used to guess it.
- Else (``initiatedBy`` missing, null, ``{}``, or both children null/empty): ``actor_type``
  ``"unknown"`` with all actor columns null. That is a known "unknown" actor (system
  activity), not an error.
- ``source_ip`` = ``initiatedBy.user.ipAddress``.
- Keys of ``initiatedBy`` and of its children are looked up case-insensitively (``User``,
  ``UserPrincipalName``, ``IPAddress`` in exports).

Target (``targetResources[n]``)

- Keys are looked up case-insensitively (exports write ``ID``, ``Type``, ``DisplayName``,
  ``ModifiedProperties``, ...).
- ``target_external_id`` = ``id``; ``target_name`` = ``displayName``, falling back to
  ``userPrincipalName`` (user targets usually have no display name).
- ``target_type`` from the Graph ``type`` (case-insensitive): ``User`` -> ``user``, ``Group``
  -> ``group``, ``Role`` / ``DirectoryRole`` -> ``directory_role``, ``Application`` ->
  ``application``, ``ServicePrincipal`` -> ``service_principal``, ``Policy`` -> ``policy``,
  ``Device`` -> ``device``; any other value lower-cased as given (``Other`` -> ``other``,
  ``Request`` -> ``request``), never an error. No ``type`` but an id or name ->
  ``directory_object``; a target without id, name and type, or no target -> null.
- **Applications resolve to their appId.** Sign-ins key an application by its appId
  (``target_type`` ``application``, ``target_external_id`` = ``appId``), but directory audits
  put the application *object* id (or the service principal object id) in ``id``. So for an
  ``application`` or ``service_principal`` target, when an appId is found, ``target_type``
  becomes ``"application"`` and ``target_external_id`` the appId; the object id and the Graph
  type stay in ``properties["target"]["id"]`` / ``["type"]``. The appId is looked for, first
  match wins, in

  1. the target's decoded ``modifiedProperties`` named (case-insensitively) ``AppId``, then
     ``AppPrincipalId``, then ``TargetId.ServicePrincipalNames``, then
     ``ServicePrincipalNames`` - ``newValue`` first, ``oldValue`` for deletions;
  2. the record's ``additionalDetails`` entry with key ``AppId`` (case-insensitive), but only
     when the record has exactly one application/service principal target (with several,
     a record-level value cannot be attributed to one of them).

  A value counts only if it is or contains a GUID: a JSON list is searched element by
  element, a text is split on ``;`` and ``,`` (``TargetId.ServicePrincipalNames`` is
  ``"<appId>;https://app.contoso.com"``), and the first token that is a whole GUID is the
  appId (kept as written). Without one, the type and object id are kept
  (``application`` / ``service_principal`` with the object id), which will not join the
  sign-ins' config item: that is the honest answer when the record does not say the appId.

Columns directory audits do not carry: ``mfa`` (never guessed), ``country``, ``city``,
``user_agent``, ``client_app``, ``auth_method``: null.

``properties``

Every top-level field of the record except ``id``, ``activityDateTime`` and
``targetResources`` (a list or object; any other value is kept as given), and except
``activityDisplayName`` when ``action`` holds it exactly (kept when it was blank or had
surrounding whitespace). So ``category``, ``operationType``, ``loggedByService``,
``correlationId``, ``result`` (as given: ``timeout`` and numeric codes stay visible),
``resultReason``, ``additionalDetails`` (the key/value list as given), ``initiatedBy`` (whole)
and unknown fields are all kept. Added per event:

- ``target``: this event's target resource, whole, with its known keys in Graph spelling
  (``id``, ``displayName``, ``type``, ``userPrincipalName``, ``groupType``,
  ``modifiedProperties``; other keys as given) and ``modifiedProperties`` decoded: Graph
  JSON-encodes ``oldValue`` / ``newValue`` (``"\\"Global Administrator\\""``,
  ``"[\\"[KeyIdentifier=...]\\"]"``); a value whose first non-blank character is ``"``,
  ``[`` or ``{`` and that parses is replaced by the parsed value (one level: a decoded text
  is not decoded again; keys of the entries are respelled like the target's);
  anything else (plain text, ``"true"``, ``"42"``, broken JSON) is kept as given, so no type
  is guessed. The raw strings are not kept twice: decoding is lossless up to JSON whitespace,
  and the landing tables hold the raw payload. ``null`` when the record has no target; a
  non-object entry is kept as given.
- ``target_index``: ``n`` (null when there is no target); ``target_count``: the number of
  targets of the record. (These three names win over a source field of the same name.)

Nested values are the record's own JSON values (shared with the input record, which is never
modified); ``target`` and its decoded ``modifiedProperties`` are new objects.
"""

from __future__ import annotations

import json
import re
from typing import Any

from access_warehouse.normalise import (
    clean_text,
    record_key,
)

__all__ = ["CATEGORY", "normalise_directory_audit"]

CATEGORY = "iam"
UNKNOWN_ACTION = "unknown"
#: ``target_type`` of a target that names no type.
UNTYPED_TARGET = "directory_object"

#: Graph ``targetResource.type`` (lower case) -> ``target_type``; others are lower-cased.
TARGET_TYPES: dict[str, str] = {
    "user": "user",
    "group": "group",
    "role": "directory_role",
    "directoryrole": "directory_role",
    "application": "application",
    "serviceprincipal": "service_principal",
    "policy": "policy",
    "device": "device",
}
_APP_TARGET_TYPES = frozenset({"application", "service_principal"})

#: modifiedProperties that carry the appId of an application/service principal target,
#: in order of preference (lower case).
_APP_ID_PROPERTIES = (
    "appid",
    "appprincipalid",
    "targetid.serviceprincipalnames",
    "serviceprincipalnames",
)
_APP_ID_PROPERTY_SET = frozenset(_APP_ID_PROPERTIES)

#: Known target keys (lower case) -> Graph spelling, for ``properties["target"]``.
_TARGET_KEYS = {
    "id": "id",
    "displayname": "displayName",
    "type": "type",
    "userprincipalname": "userPrincipalName",
    "grouptype": "groupType",
    "modifiedproperties": "modifiedProperties",
}
_MODIFIED_KEYS = {"displayname": "displayName", "oldvalue": "oldValue", "newvalue": "newValue"}
_TARGET_SPELLED = frozenset(_TARGET_KEYS.values())
_MODIFIED_SPELLED = frozenset(_MODIFIED_KEYS.values())

_SUCCESS_RESULTS = frozenset({"success"})
_FAILURE_RESULTS = frozenset({"failure", "timeout"})
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_TOKEN_SPLIT = re.compile(r"[;,]")
_UNKNOWN_ACTOR = (None, None, None, "unknown")
_JSON_SPACE = frozenset(" \t\r\n")
_json_decode = json.JSONDecoder().decode


def _ci_get(obj: dict, key: str) -> Any:
    """``obj[key]``, or the first non-null value under a key equal to it ignoring case."""
    value = obj.get(key)
    if value is not None:
        return value
    lowered = key.lower()
    for name, candidate in obj.items():
        if candidate is not None and type(name) is str and name.lower() == lowered:
            return candidate
    return None


def _decode(value: Any) -> Any:
    """A Graph JSON-encoded ``oldValue``/``newValue``: parsed when it looks like JSON text,
    array or object and parses; otherwise as given."""
    if type(value) is not str or not value:
        return value
    first = value[0]
    if first == '"':
        # Fast path for the common ``"\"text\""``: no escapes, no inner quotes.
        inner = value[1:-1]
        if (
            len(value) > 1
            and value[-1] == '"'
            and '"' not in inner
            and "\\" not in inner
            and inner.isprintable()
        ):
            return inner
    elif first == "[":
        # Fast path for the common ``"[\"text\"]"``: one plain string in a list.
        if value[-2:] == '"]' and value[1:2] == '"' and len(value) > 3:
            inner = value[2:-2]
            if '"' not in inner and "\\" not in inner and inner.isprintable():
                return [inner]
    elif first != "{" and (first not in _JSON_SPACE or value.lstrip()[:1] not in ('"', "[", "{")):
        return value
    try:
        return _json_decode(value)
    except (ValueError, RecursionError):  # not JSON, or nested past the parser: kept as text
        return value


def _canonical(obj: dict, keys: dict[str, str], spelled: frozenset[str]) -> dict:
    """A copy of ``obj`` with known keys in Graph spelling (first non-null value wins)."""
    if spelled.issuperset(obj):
        return obj.copy()  # the usual case: nothing to respell
    out: dict = {}
    for name, value in obj.items():
        canon = keys.get(name.lower(), name) if type(name) is str else name
        if canon not in out or out[canon] is None:
            out[canon] = value
    return out


def _decoded_modified(entries: Any) -> Any:
    if type(entries) is not list:
        return entries
    decoded = []
    for entry in entries:
        if type(entry) is dict:
            entry = _canonical(entry, _MODIFIED_KEYS, _MODIFIED_SPELLED)
            if "oldValue" in entry:
                entry["oldValue"] = _decode(entry["oldValue"])
            if "newValue" in entry:
                entry["newValue"] = _decode(entry["newValue"])
        decoded.append(entry)
    return decoded


def _guid_in(value: Any) -> str | None:
    """The first whole GUID in a (decoded) value: a text split on ``;``/``,`` or a list."""
    if type(value) is str:
        if len(value) == 36 and _GUID.fullmatch(value):
            return value
        for token in _TOKEN_SPLIT.split(value):
            token = token.strip()
            if len(token) == 36 and _GUID.fullmatch(token):
                return token
        return None
    if type(value) is list:
        for item in value:
            found = _guid_in(item) if type(item) is str else None
            if found:
                return found
    return None


def _app_id_from_modified(entries: Any) -> str | None:
    if type(entries) is not list:
        return None
    named: dict[str, dict] = {}
    for entry in entries:
        if type(entry) is dict:
            name = entry.get("displayName")
            if type(name) is str:
                key = name.strip().lower()
                if key in _APP_ID_PROPERTY_SET and key not in named:
                    named[key] = entry
    if not named:
        return None
    for key in _APP_ID_PROPERTIES:
        entry = named.get(key)
        if entry is not None:
            found = _guid_in(entry.get("newValue")) or _guid_in(entry.get("oldValue"))
            if found:
                return found
    return None


def _app_id_from_details(details: Any) -> str | None:
    if type(details) is not list:
        return None
    for item in details:
        if type(item) is dict:
            key = _ci_get(item, "key")
            if type(key) is str and key.strip().lower() == "appid":
                found = _guid_in(_decode(_ci_get(item, "value")))
                if found:
                    return found
    return None


def _outcome(result: Any) -> str:
    if type(result) is str:
        lowered = result.strip().lower()
        if lowered in _SUCCESS_RESULTS:
            return "success"
        if lowered in _FAILURE_RESULTS:
            return "failure"
        if lowered.lstrip("+-").isdigit():
            result = int(lowered)
        else:
            return "unknown"
    elif type(result) is float and result.is_integer():
        result = int(result)
    if type(result) is int:
        return "success" if result == 0 else "failure" if result == 1 else "unknown"
    return "unknown"


def _actor(initiated_by: Any) -> tuple[str | None, str | None, str | None, str]:
    """(external id, name, principal name, actor type) of ``initiatedBy``."""
    if type(initiated_by) is not dict or not initiated_by:
        return _UNKNOWN_ACTOR
    user = _ci_get(initiated_by, "user")
    if type(user) is dict and user:
        user_id = clean_text(_ci_get(user, "id"))
        name = clean_text(_ci_get(user, "displayName"))
        upn = clean_text(_ci_get(user, "userPrincipalName"))
        if user_id is not None or name is not None or upn is not None:
            return user_id, name, upn, "user"
    app = _ci_get(initiated_by, "app")
    if type(app) is dict and app:
        sp_id = clean_text(_ci_get(app, "servicePrincipalId"))
        app_id = clean_text(_ci_get(app, "appId"))
        name = clean_text(_ci_get(app, "displayName"))
        sp_name = clean_text(_ci_get(app, "servicePrincipalName"))
        if sp_id is not None or app_id is not None or name is not None or sp_name is not None:
            sp_type = _ci_get(app, "servicePrincipalType")
            actor_type = "service_principal"
            if type(sp_type) is str and sp_type.replace("_", "").lower() == "managedidentity":
                actor_type = "managed_identity"
            return sp_id or app_id, name or sp_name, None, actor_type
    return _UNKNOWN_ACTOR


def _source_ip(initiated_by: Any) -> str | None:
    if type(initiated_by) is dict:
        user = _ci_get(initiated_by, "user")
        if type(user) is dict:
            return clean_text(_ci_get(user, "ipAddress"))
    return None


def _target_type(value: Any) -> str | None:
    text = clean_text(value)
    if text is None:
        return None
    lowered = text.strip().lower()
    return TARGET_TYPES.get(lowered, lowered)


def _normalise(record: dict, source_id: str) -> list[dict[str, Any]]:
    record_id, occurred_at = record_key(record, "activityDateTime")
    get = record.get

    display_name = get("activityDisplayName")
    action = clean_text(display_name)
    if action is not None:
        action = action.strip()
    else:
        action = clean_text(get("operationType"))
        action = action.strip() if action is not None else UNKNOWN_ACTION

    outcome = _outcome(get("result"))
    failure_reason = clean_text(get("resultReason")) if outcome == "failure" else None

    initiated_by = get("initiatedBy")
    actor_id, actor_name, actor_upn, actor_type = _actor(initiated_by)
    source_ip = _source_ip(initiated_by)

    raw_targets = get("targetResources")
    keep_raw_targets = False
    if type(raw_targets) is list:
        targets = raw_targets
    elif type(raw_targets) is dict:
        targets = [raw_targets]
    else:
        targets = []
        keep_raw_targets = raw_targets is not None

    base = record.copy()
    del base["id"]
    base.pop("activityDateTime", None)
    if not keep_raw_targets:
        base.pop("targetResources", None)
    if display_name is not None and display_name == action:
        del base["activityDisplayName"]
    base["target_count"] = len(targets)

    template = {
        "source_id": source_id,
        "event_id": f"{record_id}:0",
        "occurred_at": occurred_at,
        "category": CATEGORY,
        "action": action,
        "outcome": outcome,
        "actor_external_id": actor_id,
        "actor_name": actor_name,
        "actor_principal_name": actor_upn,
        "actor_type": actor_type,
        "target_external_id": None,
        "target_name": None,
        "target_type": None,
        "mfa": None,
        "source_ip": source_ip,
        "country": None,
        "city": None,
        "user_agent": None,
        "client_app": None,
        "auth_method": None,
        "error_code": None,
        "failure_reason": failure_reason,
        "properties": base,
    }
    if not targets:
        base["target"] = None
        base["target_index"] = None
        return [template]

    # First pass: targets in Graph spelling, their types, and how many are applications.
    shaped: list[tuple[Any, str | None]] = []
    app_targets = 0
    for raw in targets:
        if type(raw) is dict:
            target = _canonical(raw, _TARGET_KEYS, _TARGET_SPELLED)
            if "modifiedProperties" in target:
                target["modifiedProperties"] = _decoded_modified(target["modifiedProperties"])
            target_type = _target_type(target.get("type"))
            if target_type in _APP_TARGET_TYPES:
                app_targets += 1
            shaped.append((target, target_type))
        else:
            shaped.append((raw, None))
    detail_app_id: str | None = None
    if app_targets == 1:
        detail_app_id = _app_id_from_details(get("additionalDetails"))

    events = []
    for index, (target, target_type) in enumerate(shaped):
        if type(target) is dict:
            target_id = clean_text(target.get("id"))
            target_name = clean_text(target.get("displayName")) or clean_text(
                target.get("userPrincipalName")
            )
            if target_type in _APP_TARGET_TYPES:
                app_id = _app_id_from_modified(target.get("modifiedProperties")) or detail_app_id
                if app_id is not None:
                    target_type, target_id = "application", app_id
            elif target_type is None and (target_id is not None or target_name is not None):
                target_type = UNTYPED_TARGET
        else:
            target_id = target_name = None
        properties = base.copy()
        properties["target"] = target
        properties["target_index"] = index
        event = template.copy()
        event["event_id"] = f"{record_id}:{index}"
        event["target_external_id"] = target_id
        event["target_name"] = target_name
        event["target_type"] = target_type
        event["properties"] = properties
        events.append(event)
    return events


def normalise_directory_audit(record: dict, source_id: str) -> list[dict[str, Any]]:
    """One directoryAudit record -> one access event per target resource (keys exactly
    NORMALISED_COLUMNS). A record with no targets gives one event with no target. Raises
    NormalisationError for a record that cannot be an event (missing id, bad
    activityDateTime); see the module docstring for the mapping rules.

    Run under :func:`access_warehouse.normalise.normalise_record`, which turns a record of an
    unexpected shape into a ``NormalisationError`` (quarantined, not lost).
    """
    return _normalise(record, source_id)
