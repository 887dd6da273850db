"""A retrying JSON GET for the HTTP API source kinds (httpx + tenacity), one page at a time.

What every HTTP kind needs from its API and should not write again:

- throttling (429) waits as long as ``Retry-After`` says, whether it is whole seconds, a decimal
  (``"2.128"``) or an HTTP date; 5xx answers and dropped or refused connections back off
  exponentially; both stop after ``max_attempts`` and then the last error propagates;
- a 2xx that is no readable page (not JSON, or rejected by the kind's ``read_page``) is retried
  like a 5xx and then fails with :class:`UnreadablePage`: paging never ends early on a page it
  could not read;
- 401 and 403 fail at once with :class:`AccessRefused`, naming the connection and never the
  credential (a wrong token does not get better by asking again);
- every request, retry and second waited is counted in the fetch's :class:`RequestStats`.

Graph has its own loop (:mod:`access_warehouse.sources.graph`) because it goes through the
provider's hook; kinds that talk HTTP themselves use :class:`RetryingJSONClient`.
"""

from __future__ import annotations

import email.utils
import logging
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from access_warehouse.sources.base import RequestStats

log = logging.getLogger(__name__)

for _chatty in ("httpx", "httpcore"):
    logging.getLogger(_chatty).setLevel(logging.WARNING)

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
REFUSED_STATUS = frozenset({401, 403})


class HTTPSourceError(Exception):
    """A non-2xx answer, with what a retry decision needs."""

    def __init__(self, status: int, headers: Mapping[str, str], detail: str, where: str) -> None:
        self.status = status
        self.headers = {key.lower(): value for key, value in headers.items()}
        super().__init__(f"{where} answered HTTP {status}: {detail}")

    @property
    def retry_after(self) -> float | None:
        """Seconds to wait from ``Retry-After``: seconds (decimals too) or an HTTP date."""
        return parse_retry_after(self.headers.get("retry-after"))


class AccessRefused(HTTPSourceError):
    """401/403: the credential is wrong, expired or lacks a permission. Not retried."""


class UnreadablePage(Exception):
    """A 2xx answer that is not a page of records (retried, then the extract fails)."""

    def __init__(self, reason: str, where: str) -> None:
        super().__init__(f"{where} sent an unreadable page: {reason}")


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` in seconds (never negative), or None when absent or unreadable."""
    if value is None:
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


def tls_verify(value: Any) -> bool | ssl.SSLContext:
    """An ``httpx`` ``verify`` from a connection extra: true/false (also as text), or the path
    of a CA bundle to trust (e.g. a simulator's self-signed certificate)."""
    if value is None or value is True:
        return True
    if value is False:
        return False
    text = str(value).strip()
    if text.lower() in ("false", "0", "no", "off"):
        return False
    if text.lower() in ("true", "1", "yes", "on", ""):
        return True
    return ssl.create_default_context(cafile=text)


def _detail(response: httpx.Response) -> str:
    """A short, credential-free description of an error answer's body."""
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return response.text[:300].strip() or "(empty body)"
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, list) and errors:
        parts = [
            f"{e.get('code')}: {e.get('message')}" if isinstance(e, dict) else str(e)
            for e in errors[:3]
        ]
        return "; ".join(parts)[:300]
    return str(body)[:300]


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    max_wait_s: float = 120.0  # longest single wait, Retry-After included
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 30.0


class RetryingJSONClient:
    """GET JSON pages from one API over one connection, with retries counted in ``stats``.

    ``label`` names the source and its Airflow connection in every message (e.g. ``Cloudflare
    Access (connection 'cloudflare_default')``); headers, and so the credential, never appear.
    """

    def __init__(
        self,
        base_url: str,
        *,
        label: str,
        headers: Mapping[str, str] | None = None,
        verify: bool | ssl.SSLContext = True,
        timeout_s: float = 60.0,
        policy: RetryPolicy = RetryPolicy(),
        stats: RequestStats | None = None,
    ) -> None:
        self.label = label
        self.policy = policy
        self.stats = stats if stats is not None else RequestStats()
        self._client = httpx.Client(
            base_url=base_url,
            headers=dict(headers or {}),
            verify=verify,
            timeout=timeout_s,
            follow_redirects=False,
        )
        self._backoff = wait_exponential_jitter(
            initial=policy.backoff_initial_s, max=policy.backoff_max_s
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> RetryingJSONClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ---- retries ------------------------------------------------------------------------

    @staticmethod
    def _retryable(exc: BaseException) -> bool:
        if isinstance(exc, UnreadablePage):
            return True
        if isinstance(exc, AccessRefused):
            return False
        if isinstance(exc, HTTPSourceError):
            return exc.status in RETRYABLE_STATUS
        return isinstance(exc, httpx.TransportError)

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, HTTPSourceError) and exc.retry_after is not None:
            wait = exc.retry_after
        else:
            wait = self._backoff(state)
        return min(self.policy.max_wait_s, wait)

    def _before_sleep(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        stats = self.stats
        stats.retries += 1
        if isinstance(exc, UnreadablePage):
            stats.bad_pages += 1
        elif isinstance(exc, HTTPSourceError):
            if exc.status == 429:
                stats.throttled += 1
            else:
                stats.server_errors += 1
        else:
            stats.connection_errors += 1
        delay = state.next_action.sleep if state.next_action else 0.0
        stats.waited_s += delay
        log.warning(
            "%s: request failed (attempt %d of %d): %s; retrying in %.2f s",
            self.label,
            state.attempt_number,
            self.policy.max_attempts,
            exc,
            delay,
        )

    # ---- requests -----------------------------------------------------------------------

    def get_json(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        read_page: Callable[[Any], Any] | None = None,
    ) -> Any:
        """The decoded JSON body of ``GET path``; ``read_page(body)`` may check it (raising
        :class:`UnreadablePage`) and returns what this call returns."""
        retrying = Retrying(
            retry=retry_if_exception(self._retryable),
            stop=stop_after_attempt(self.policy.max_attempts),
            wait=self._wait,
            before_sleep=self._before_sleep,
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                return self._get_once(path, params, read_page)
        raise AssertionError("unreachable: tenacity re-raises the last error")

    def _get_once(
        self,
        path: str,
        params: Mapping[str, Any] | None,
        read_page: Callable[[Any], Any] | None,
    ) -> Any:
        self.stats.requests += 1
        response = self._client.get(path, params=dict(params or {}))
        status = response.status_code
        if status in REFUSED_STATUS:
            raise AccessRefused(
                status,
                response.headers,
                f"{_detail(response)} - check the API token of the connection and its permissions",
                self.label,
            )
        if not 200 <= status < 300:
            raise HTTPSourceError(status, response.headers, _detail(response), self.label)
        try:
            body = orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            kind = response.headers.get("content-type", "no content type").split(";")[0]
            raise UnreadablePage(
                f"{len(response.content)} bytes of {kind} that are not JSON ({exc})", self.label
            ) from None
        return read_page(body) if read_page is not None else body
