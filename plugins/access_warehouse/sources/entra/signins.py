"""Microsoft Graph sign-in records (``auditLogs/signIns``, v1.0 or beta) -> access events.

One Graph ``signIn`` record becomes one access event with exactly the columns of
:data:`access_warehouse.contract.NORMALISED_COLUMNS`. A record that cannot be an event raises
:class:`~access_warehouse.contract.NormalisationError`; its message is the quarantine reason.
Pure Python (no pandas, no dateutil): it runs on every record of every interval.

Mapping rules
-------------

Identity and time

- ``source_id``: given by the caller (the configured source, e.g. one Entra tenant).
- ``event_id``: the record's ``id``. Missing, null or blank -> ``NormalisationError("missing id")``.
- ``occurred_at``: ``createdDateTime`` as a timezone-aware UTC ``datetime``. Graph sends
  ``2026-11-20T10:15:30Z`` and also 7 fractional digits (``...30.1234567Z``); fractions beyond
  microseconds are truncated. An offset other than ``Z`` is converted to UTC; a value without
  an offset is taken as UTC (Graph timestamps are always UTC). Missing, non-string, date-only
  or unparsable -> ``NormalisationError`` quoting the bad value.
- ``category`` = ``"authentication"``, ``action`` = ``"signIn"`` (interactive, non-interactive,
  service principal and managed identity sign-ins alike; ``signInEventTypes`` stays in
  ``properties``).

Outcome (``status``)

- ``status.errorCode`` 0 -> ``outcome`` ``"success"``; any other value -> ``"failure"``;
  ``status`` missing/null or ``errorCode`` null or a boolean -> ``"unknown"``.
- ``error_code``: the error code as text (``"50126"``) for failures, else null.
- ``failure_reason``: ``status.failureReason`` for failures, else null (Graph writes
  ``"Other."`` on successes; that is not a failure reason).

Actor (who signed in)

- The sign-in type is the first value of beta ``signInEventTypes``; when absent (v1.0, which
  only returns interactive sign-ins) it is ``interactiveUser``.
- ``servicePrincipal`` -> ``actor_type`` ``"service_principal"``; ``managedIdentity`` ->
  ``"managed_identity"``. Actor = ``servicePrincipalId`` / ``servicePrincipalName``;
  ``actor_principal_name`` is null (applications have no UPN). If both are empty the client
  application (``appId`` / ``appDisplayName``) is the actor.
- ``interactiveUser`` / ``nonInteractiveUser`` -> ``actor_type`` ``"user"``: ``userId`` /
  ``userDisplayName`` / ``userPrincipalName``. Exception: a record that names no user
  (neither ``userId`` nor ``userPrincipalName``) but has a ``servicePrincipalId`` is treated as
  a service principal sign-in.
- Any other (future) type, e.g. ``agentSignIn``, is not an error: ``actor_type`` ``"user"`` if
  the record has any user field, else ``"unknown"`` with the service principal fields as the
  actor. The type itself is kept as text in ``properties["signInEventTypes"]``.

Target (what was accessed)

- User sign-ins: the application signed into: ``target_external_id`` = ``appId``,
  ``target_name`` = ``appDisplayName``, ``target_type`` = ``"application"``.
- Service principal, managed identity and unknown-type application sign-ins: the actor *is*
  the application, so the target is the resource it obtained a token for:
  ``resourceId`` / ``resourceDisplayName``, ``target_type`` ``"application"``. Without a
  resource, the ``appId`` / ``appDisplayName`` (unless they already named the actor).
- ``target_type`` is null when nothing identifies a target.

MFA (``mfa``: True / False / null, never guessed)

- null when the record carries neither ``authenticationRequirement`` nor
  ``authenticationDetails`` (v1.0 records: the source cannot tell).
- True when the record proves MFA for this sign-in, i.e. an ``authenticationDetails`` step
    * has ``succeeded`` true and an ``authenticationStepRequirement`` naming multifactor
      authentication ("Multifactor authentication", "Multi-factor authentication", "MFA"), or
    * has ``succeeded`` true and a multi-factor method in itself (FIDO2 security key, Windows
      Hello for Business, passwordless phone sign-in, passkeys), or
    * has ``succeeded`` true and a second-factor method (Mobile app notification, Microsoft
      Authenticator app, Text message/SMS, Voice, Phone call approval, OATH verification code,
      OATH tokens) in a step that is not the primary one (SMS sign-in as the *primary* factor
      is single-factor), or
    * says the MFA requirement was met (``authenticationStepResultDetail`` contains "MFA
      requirement satisfied" - by claim in the token, by an external provider, ... -, "MFA
      completed" or "MFA successfully completed") and did not fail;
  or when ``authenticationRequirement`` is ``multiFactorAuthentication`` and the sign-in
  succeeded (Entra only lets such a sign-in succeed once MFA is satisfied, e.g. "Previously
  satisfied" non-interactive sign-ins with an MFA claim in the token).
- False, when nothing proves MFA and the record says enough: ``authenticationRequirement`` is
  ``singleFactorAuthentication`` (this includes service principal and managed identity
  sign-ins, which cannot do MFA), or it is ``multiFactorAuthentication`` and the sign-in
  failed (MFA was required and not completed), or the authentication steps are listed and
  none of them is an MFA step.
- null otherwise: an unknown requirement value (an evolving enum) with no steps listed, or an
  MFA requirement on a sign-in of unknown outcome.

Other columns

- ``auth_method``: the distinct ``authenticationMethod`` values of succeeded steps, in order,
  joined with ``", "`` (e.g. ``"Password, Mobile app notification"``); null without them.
- ``source_ip`` = ``ipAddress``; ``country`` = ``location.countryOrRegion``; ``city`` =
  ``location.city``; ``user_agent`` = ``userAgent`` (beta only); ``client_app`` =
  ``clientAppUsed``. A null or malformed ``location`` gives null columns, never an error.
- Text is stored as given (names keep their case, enum values are not validated, unknown
  values are accepted); empty or blank strings become null.

``properties``

Every top-level field of the record except those whose whole value went into a column:
``id``, ``createdDateTime``, ``ipAddress``, ``clientAppUsed``, ``userAgent`` always, plus the
identity fields used for the actor and target of this record (``userId``,
``userDisplayName``, ``userPrincipalName``, ``appId``, ``appDisplayName``,
``servicePrincipalId``, ``servicePrincipalName``). Identity fields not used by this record's
columns are kept when they hold a value (e.g. ``appId`` of a service principal sign-in, whose
target is the resource) and dropped when empty. Partly mapped objects (``status``,
``location``, ``deviceDetail``, ``authenticationDetails``, ``signInEventTypes``,
``resourceId``, ``resourceDisplayName``, ...) and unknown extra fields are kept whole, so
nothing the source said is lost. Values are the record's own JSON values (the dict is a
shallow copy: nested objects are shared with the input record).
"""

from __future__ import annotations

from typing import Any

from access_warehouse.normalise import (
    clean_text,
    record_key,
)

__all__ = ["ACTION", "CATEGORY", "normalise_signin"]

CATEGORY = "authentication"
ACTION = "signIn"
TARGET_TYPE = "application"

_DEFAULT_EVENT_TYPE = "interactiveUser"  # v1.0 returns interactive user sign-ins only
_USER_EVENT_TYPES = frozenset({"interactiveUser", "nonInteractiveUser"})
_APP_EVENT_TYPES = {"servicePrincipal": "service_principal", "managedIdentity": "managed_identity"}

_ALWAYS_MAPPED = frozenset({"id", "createdDateTime", "ipAddress", "clientAppUsed", "userAgent"})
_USER_MAPPED = _ALWAYS_MAPPED | {
    "userId",
    "userDisplayName",
    "userPrincipalName",
    "appId",
    "appDisplayName",
}
_SP_MAPPED = _ALWAYS_MAPPED | {"servicePrincipalId", "servicePrincipalName"}
_SP_AND_APP_MAPPED = _SP_MAPPED | {"appId", "appDisplayName"}
_APP_ONLY_MAPPED = _ALWAYS_MAPPED | {"appId", "appDisplayName"}
#: Top-level fields that may be dropped from ``properties`` (when mapped or empty).
_DROPPABLE = tuple(sorted(_USER_MAPPED | _SP_MAPPED))

_MFA_REQUIRED = "multifactorauthentication"
_SINGLE_FACTOR = "singlefactorauthentication"
#: Phrases of ``authenticationStepResultDetail`` that state the MFA requirement was met.
_MFA_DONE_PHRASES = ("mfa requirement satisfied", "mfa completed", "mfa successfully completed")
#: Methods that are multi-factor on their own (possession + PIN/biometric), lower case prefixes.
_STRONG_METHOD_PREFIXES = ("fido2", "windows hello", "passwordless", "passkey")
#: Methods that are a second factor when they are not the primary step, lower case prefixes.
_SECOND_FACTOR_PREFIXES = (
    "mobile app",
    "microsoft authenticator",
    "authenticator app",
    "text message",
    "sms",
    "voice",
    "phone call",
    "oath",
    "software oath",
    "hardware oath",
)


def _step_proves_mfa(step: dict, succeeded: Any, method: Any) -> bool:
    """Whether one ``authenticationDetails`` entry proves MFA (see module docstring)."""
    if succeeded is False:
        return False
    detail = step.get("authenticationStepResultDetail")
    if type(detail) is str and detail:
        lowered = detail.lower()
        for phrase in _MFA_DONE_PHRASES:
            if phrase in lowered:
                return True
    if succeeded is not True:
        return False
    primary = False
    requirement = step.get("authenticationStepRequirement")
    if type(requirement) is str and requirement:
        req = requirement.lower().replace("-", "").replace(" ", "")
        if "multifactor" in req or req == "mfa":
            return True
        primary = "primary" in req
    if type(method) is str and method:
        lowered = method.lower()
        if lowered.startswith(_STRONG_METHOD_PREFIXES):
            return True
        if not primary and lowered.startswith(_SECOND_FACTOR_PREFIXES):
            return True
    return False


def _mfa_and_methods(record: dict, outcome: str) -> tuple[bool | None, str | None]:
    requirement = record.get("authenticationRequirement")
    details = record.get("authenticationDetails")
    if requirement is None and details is None:
        return None, None  # v1.0 shape: the source cannot tell

    proven = False
    methods: list[str] = []
    steps = details if type(details) is list else ()
    for step in steps:
        if type(step) is not dict:
            continue
        succeeded = step.get("succeeded")
        method = step.get("authenticationMethod")
        if succeeded is True and type(method) is str and method and method not in methods:
            methods.append(method)
        if not proven and _step_proves_mfa(step, succeeded, method):
            proven = True
    auth_method = ", ".join(methods) if methods else None

    if proven:
        return True, auth_method
    req = requirement.lower() if type(requirement) is str else None
    if req == _MFA_REQUIRED:
        if outcome == "success":
            return True, auth_method
        if outcome == "failure":
            return False, auth_method
        return None, auth_method
    if req == _SINGLE_FACTOR or steps:
        return False, auth_method
    return None, auth_method


def _normalise(record: dict, source_id: str) -> dict[str, Any]:
    event_id, occurred_at = record_key(record, "createdDateTime")
    get = record.get

    # Outcome
    status = get("status")
    code = status.get("errorCode") if type(status) is dict else None
    if code is None or code == "" or type(code) is bool:  # false == 0 in Python: not a code
        outcome, error_code, failure_reason = "unknown", None, None
    elif code == 0 or code == "0":
        outcome, error_code, failure_reason = "success", None, None
    else:
        outcome, error_code = "failure", clean_text(code) or str(code)
        failure_reason = clean_text(status.get("failureReason"))

    # Sign-in type
    types = get("signInEventTypes")
    event_type = None
    if type(types) is list:
        for value in types:
            if type(value) is str and value:
                event_type = value
                break
    elif type(types) is str and types:
        event_type = types
    if event_type is None:
        event_type = _DEFAULT_EVENT_TYPE

    # Actor and target
    user_id = clean_text(get("userId"))
    user_name = clean_text(get("userDisplayName"))
    upn = clean_text(get("userPrincipalName"))
    sp_id = clean_text(get("servicePrincipalId"))
    sp_name = clean_text(get("servicePrincipalName"))
    app_id = clean_text(get("appId"))
    app_name = clean_text(get("appDisplayName"))

    if event_type in _APP_EVENT_TYPES:
        actor_type = _APP_EVENT_TYPES[event_type]
    elif event_type in _USER_EVENT_TYPES:
        if user_id is None and upn is None and sp_id is not None:
            actor_type = "service_principal"
        else:
            actor_type = "user"
    elif user_id is not None or upn is not None or user_name is not None:
        actor_type = "user"
    else:
        actor_type = "unknown"

    if actor_type == "user":
        actor_id, actor_name, actor_upn = user_id, user_name, upn
        target_id, target_name = app_id, app_name
        mapped = _USER_MAPPED
    else:
        actor_upn = None
        if sp_id is not None or sp_name is not None:
            actor_id, actor_name = sp_id, sp_name
            app_is_actor = False
        else:
            actor_id, actor_name = app_id, app_name
            app_is_actor = True
        target_id = clean_text(get("resourceId"))
        target_name = clean_text(get("resourceDisplayName"))
        if target_id is None and target_name is None and not app_is_actor:
            target_id, target_name = app_id, app_name
            mapped = _SP_AND_APP_MAPPED
        elif app_is_actor:
            mapped = _APP_ONLY_MAPPED
        else:
            mapped = _SP_MAPPED
    target_type = TARGET_TYPE if target_id is not None or target_name is not None else None

    mfa, auth_method = _mfa_and_methods(record, outcome)

    location = get("location")
    if type(location) is dict:
        country = clean_text(location.get("countryOrRegion"))
        city = clean_text(location.get("city"))
    else:
        country = city = None

    properties = dict(record)  # shallow copy; then drop what the columns hold (or empties)
    for key in _DROPPABLE:
        if key in properties and (
            key in mapped or properties[key] is None or properties[key] == ""
        ):
            del properties[key]

    return {
        "source_id": source_id,
        "event_id": event_id,
        "occurred_at": occurred_at,
        "category": CATEGORY,
        "action": ACTION,
        "outcome": outcome,
        "actor_external_id": actor_id,
        "actor_name": actor_name,
        "actor_principal_name": actor_upn,
        "actor_type": actor_type,
        "target_external_id": target_id,
        "target_name": target_name,
        "target_type": target_type,
        "mfa": mfa,
        "source_ip": clean_text(get("ipAddress")),
        "country": country,
        "city": city,
        "user_agent": clean_text(get("userAgent")),
        "client_app": clean_text(get("clientAppUsed")),
        "auth_method": auth_method,
        "error_code": error_code,
        "failure_reason": failure_reason,
        "properties": properties,
    }


def normalise_signin(record: dict, source_id: str) -> dict[str, Any]:
    """One Microsoft Graph signIn record (v1.0 or beta shape) -> one access event dict with
    exactly the keys of NORMALISED_COLUMNS. Raises NormalisationError(reason) when the record
    cannot be an event (see the module docstring for the mapping rules).

    Run under :func:`access_warehouse.normalise.normalise_record`, which turns a record of an
    unexpected shape into a ``NormalisationError`` (quarantined, not lost).
    """
    return _normalise(record, source_id)
