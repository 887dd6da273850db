"""Page through a Microsoft Graph audit-log feed with the provider's `KiotaRequestAdapterHook`.

Why not ``MSGraphAsyncOperator``: it keeps every page in XCom and defers per page, which does not
fit bulk logs. We call the hook page by page from one task and hand each page to a callback that
lands it, so memory holds one page at a time.

Retries are ours, not Kiota's: Kiota's retry handler crashes on a decimal ``Retry-After`` (which
Microsoft documents), and the provider's response handler drops the status code and headers. So
each request turns Kiota's retries off and answers with :class:`GraphHTTPError`, and a tenacity
loop retries throttling (429, honouring ``Retry-After``), 5xx and connection errors with backoff,
and renews the token after a 401 by evicting the hook's cached adapter.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Generator,
    Iterator,
    Sequence,
)
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson
from kiota_abstractions.response_handler import ResponseHandler
from kiota_http.middleware.options import ResponseHandlerOption, RetryHandlerOption
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from access_warehouse.sources.base import FetchRequest, Page, RequestStats

log = logging.getLogger(__name__)

# azure-identity and httpx log every request and header at INFO: our own page lines say enough.
for _chatty in ("azure", "httpx", "httpcore", "msal"):
    logging.getLogger(_chatty).setLevel(logging.WARNING)

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


class GraphHTTPError(Exception):
    """A non-2xx answer from Graph, with what a retry decision needs."""

    def __init__(self, status: int, headers: dict[str, str], body: Any, url: str) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.url = url
        error = body.get("error") if isinstance(body, dict) else None
        code = error.get("code") if isinstance(error, dict) else None
        message = error.get("message") if isinstance(error, dict) else body
        super().__init__(f"Graph answered {status} {code or ''}: {message} ({url})")
        self.code = code

    @property
    def retry_after(self) -> float | None:
        """Seconds from ``Retry-After``; Graph sends integers, Microsoft's docs show decimals."""
        value = self.headers.get("retry-after")
        try:
            return max(0.0, float(value)) if value is not None else None
        except ValueError:
            return None


class GraphPageError(Exception):
    """A 2xx answer that is not a page of records: a body that does not decode (invalid UTF-8,
    a lone surrogate, nesting too deep, HTML, cut short), a ``value`` that is not a list, or the
    previous page again. Retried like a 5xx, then the extract fails: paging never ends early
    on a page it could not read."""

    def __init__(self, reason: str, url: str) -> None:
        super().__init__(f"Graph sent an unreadable page: {reason} ({url})")
        self.url = url


class _RaisingResponseHandler(ResponseHandler):
    """A page (a dict with a ``value`` list) for 2xx; :class:`GraphHTTPError` with status,
    headers and body for anything else; :class:`GraphPageError` for a 2xx that is no page."""

    async def handle_response_async(self, response: Any, error_map: Any) -> Any:
        resp: httpx.Response = response
        url = str(resp.request.url)
        try:
            body: Any = orjson.loads(resp.content)  # pages are large: orjson, not json
        except orjson.JSONDecodeError as exc:
            if 200 <= resp.status_code < 300:
                kind = resp.headers.get("content-type", "no content type").split(";")[0]
                raise GraphPageError(
                    f"{len(resp.content)} bytes of {kind} that are not JSON ({exc})", url
                ) from None
            body = resp.text[:2000]
        if 200 <= resp.status_code < 300:
            if not isinstance(body, dict):
                raise GraphPageError(f"a JSON {type(body).__name__}, not an object", url)
            if type(body.get("value")) is not list:
                shape = type(body.get("value")).__name__ if "value" in body else "missing"
                raise GraphPageError(f"'value' is {shape}, not a list of records", url)
            return body
        raise GraphHTTPError(
            resp.status_code,
            {key.lower(): value for key, value in resp.headers.items()},
            body,
            str(resp.request.url),
        )


@dataclass(frozen=True)
class GraphFeedQuery:
    """One audit-log collection read over a time window."""

    conn_id: str
    api_version: str
    path: str  # e.g. "auditLogs/signIns"
    time_field: str  # e.g. "createdDateTime"; "" for a listing without window (fetch_listing)
    page_size: int = 1000
    #: Extra ``$filter`` clauses, one stream each; ``(None,)`` means one unfiltered stream.
    streams: Sequence[str | None] = (None,)
    max_attempts: int = 8
    timeout_s: float = 60.0
    max_wait_s: float = 120.0
    #: Client-side pacing: at most this many requests in any ``rate_window_s`` (None: no
    #: pacing, 429s alone slow the extract down).
    max_requests: int | None = None
    rate_window_s: float = 10.0


class SlidingWindowPacer:
    """At most ``limit`` requests in any ``window_s`` seconds, the way Graph counts them.

    Written here because the maintained asyncio limiter (aiolimiter) is a leaky bucket: after a
    burst of ``limit`` it lets one more through every ``window_s / limit``, nine in the first
    ten seconds for Graph's five, and a sliding-window server answers the extra ones with 429.
    Pacing to the limit wastes no request on a 429 and no second on a ``Retry-After`` rounded
    up to whole seconds. A request counts from when its answer came (:meth:`done`): the server
    saw it before that, however long the connection or the token took, so the next one can
    never arrive early.
    """

    def __init__(self, limit: int, window_s: float, margin_s: float = 0.05) -> None:
        self.limit, self.window_s, self.margin_s = limit, window_s, margin_s
        self._done: deque[float] = deque(maxlen=limit)

    async def wait(self) -> float:
        """Sleep until one more request fits; return the seconds slept."""
        if len(self._done) < self.limit:
            return 0.0
        slept = max(0.0, self._done[0] + self.window_s + self.margin_s - time.monotonic())
        if slept:
            await asyncio.sleep(slept)
        return slept

    def done(self) -> None:
        """A request was answered (whatever the answer)."""
        self._done.append(time.monotonic())


def window_filter(time_field: str, start: datetime, end: datetime, extra: str | None) -> str:
    """Graph ``$filter`` for ``start <= time_field < end`` (UTC, no quotes, as Graph expects)."""
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    clause = f"{time_field} ge {start.strftime(fmt)} and {time_field} lt {end.strftime(fmt)}"
    return f"{clause} and {extra}" if extra else clause


def _is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, GraphPageError):
        return True
    if isinstance(exc, GraphHTTPError):
        return exc.status in RETRYABLE_STATUS or exc.status == 401
    # PermissionError: the provider's own token acquisition failing transiently.
    return isinstance(exc, httpx.TransportError | PermissionError)


def _wait_for(
    exc: BaseException | None, fallback: Callable[[RetryCallState], float], state
) -> float:
    if isinstance(exc, GraphHTTPError) and exc.retry_after is not None:
        return exc.retry_after
    return fallback(state)


def graph_getter(
    hook: Any, query: GraphFeedQuery, stats: RequestStats
) -> Callable[[str, dict[str, Any] | None, tuple[Any, ...]], Awaitable[dict[str, Any]]]:
    """``get(url, params, previous_ids)``: one Graph page with this module's retries (429 with
    ``Retry-After``, 5xx, connection errors, a 401 renewing the token, unreadable pages),
    pacing and counters in ``stats``; a page repeating ``previous_ids`` is unreadable."""
    backoff = wait_exponential_jitter(initial=1, max=30)
    pacer = (
        SlidingWindowPacer(query.max_requests, query.rate_window_s)
        if query.max_requests is not None
        else None
    )

    async def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        stats.retries += 1
        if isinstance(exc, GraphPageError):
            stats.bad_pages += 1
        elif isinstance(exc, GraphHTTPError):
            if exc.status == 429:
                stats.throttled += 1
            elif exc.status == 401:
                # Evict the cached adapter: the next request builds a credential and a new token.
                stats.token_renewals += 1
                await hook.close()
            else:
                stats.server_errors += 1
        else:
            stats.connection_errors += 1
            await hook.close()
        delay = state.next_action.sleep if state.next_action else 0
        stats.waited_s += delay
        log.warning(
            "Graph request failed (attempt %d of %d): %s; retrying in %.1f s",
            state.attempt_number,
            query.max_attempts,
            exc,
            delay,
        )

    async def get(
        url: str, params: dict[str, Any] | None, previous_ids: tuple[Any, ...]
    ) -> dict[str, Any]:
        async for attempt in AsyncRetrying(
            retry=retry_if_exception(_is_retryable),
            stop=stop_after_attempt(query.max_attempts),
            wait=lambda state: min(
                query.max_wait_s,
                _wait_for(state.outcome.exception() if state.outcome else None, backoff, state),
            ),
            before_sleep=before_sleep,
            reraise=True,
        ):
            with attempt:
                if pacer is not None:
                    stats.paced_s += await pacer.wait()
                stats.requests += 1
                info = hook.request_information(url=url, query_parameters=params)
                info.add_request_options(
                    [
                        ResponseHandlerOption(response_handler=_RaisingResponseHandler()),
                        # should_retry=False skips Kiota's retry handler: with max_retries=0
                        # alone it still parses Retry-After with int() and fails on "2.128"
                        RetryHandlerOption(max_retries=0, should_retry=False),
                    ]
                )
                try:
                    page = await hook.send_request(info)
                finally:
                    if pacer is not None:
                        pacer.done()
                ids = _record_ids(page["value"])
                if ids and ids == previous_ids:
                    raise GraphPageError(f"the previous page again ({len(ids)} records)", url)
                return page
        raise AssertionError("unreachable: tenacity re-raises the last error")

    return get


async def fetch_window(
    hook: Any,
    query: GraphFeedQuery,
    start: datetime,
    end: datetime,
    stats: RequestStats | None = None,
) -> AsyncIterator[tuple[str | None, list[Any]]]:
    """Yield ``(stream, records)`` for every page of ``[start, end)`` of each stream of
    ``query`` (``stream`` is the stream's extra filter, None for an unfiltered one).

    ``hook`` is a ``KiotaRequestAdapterHook`` for ``query.conn_id``/``query.api_version``. The
    next page is requested only when the caller asks for it, so memory holds one page. The
    hook's cached adapter is closed when the generator finishes or is closed, in its loop.
    """
    stats = stats if stats is not None else RequestStats()
    get = graph_getter(hook, query, stats)

    # Completeness evidence: each stream's request as sent, and whether its paging ended
    # (a page without @odata.nextLink); false until it did, so a cut-short fetch says so.
    asked_streams: list[dict[str, Any]] = []
    said_streams: dict[str, dict[str, Any]] = {}
    stats.asked.update(
        conn_id=query.conn_id, api_version=query.api_version, path=query.path, streams=asked_streams
    )
    stats.source_said.update(paging_ended=False, streams=said_streams)
    try:
        for stream in query.streams:
            url: str | None = query.path
            params: dict[str, Any] | None = {
                "$filter": window_filter(query.time_field, start, end, stream),
                "$top": query.page_size,
            }
            said = said_streams[stream or "all"] = {"pages": 0, "records": 0, "paging_ended": False}
            asked_streams.append(
                {
                    "stream": stream or "all",
                    "request": f"GET /{query.api_version}/{query.path}?{urlencode(params)}",
                    "params": dict(params),
                }
            )
            pages = 0
            previous_ids: tuple[Any, ...] = ()
            while url:
                response = await get(url, params, previous_ids)
                records = response["value"]
                previous_ids = _record_ids(records)
                pages += 1
                said["pages"], said["records"] = pages, said["records"] + len(records)
                yield stream, records
                url = response.get("@odata.nextLink")
                params = None  # the next link carries the query
                if url:
                    await hook.assert_allowed_host(url)  # the provider's SSRF guard
            said["paging_ended"] = True
            stats.by_stream[stream or "all"] = pages
        stats.source_said["paging_ended"] = all(s["paging_ended"] for s in said_streams.values())
    finally:
        await hook.close()


async def fetch_listing(
    hook: Any,
    query: GraphFeedQuery,
    params: dict[str, Any],
    stats: RequestStats | None = None,
) -> AsyncIterator[list[Any]]:
    """Yield the records of every page of ``GET /{api_version}/{path}?params``: a collection
    read whole, without a time window (``users``), with the same retries, pacing, next-link
    checks and completeness evidence as :func:`fetch_window`. ``query.time_field`` and
    ``query.streams`` are not used."""
    stats = stats if stats is not None else RequestStats()
    get = graph_getter(hook, query, stats)
    said: dict[str, Any] = {"pages": 0, "records": 0, "paging_ended": False}
    stats.asked.update(
        conn_id=query.conn_id,
        api_version=query.api_version,
        path=query.path,
        request=f"GET /{query.api_version}/{query.path}?{urlencode(params)}",
        params=dict(params),
    )
    stats.source_said.update(said)
    try:
        url: str | None = query.path
        query_params: dict[str, Any] | None = params
        previous_ids: tuple[Any, ...] = ()
        while url:
            response = await get(url, query_params, previous_ids)
            records = response["value"]
            previous_ids = _record_ids(records)
            said["pages"] += 1
            said["records"] += len(records)
            stats.source_said.update(said)
            yield records
            url = response.get("@odata.nextLink")
            query_params = None  # the next link carries the query
            if url:
                await hook.assert_allowed_host(url)  # the provider's SSRF guard
        stats.source_said["paging_ended"] = True
        stats.by_stream["all"] = said["pages"]
    finally:
        await hook.close()


def _record_ids(records: list[Any]) -> tuple[Any, ...]:
    return tuple(record.get("id") for record in records if isinstance(record, dict))


def make_graph_hook(query: GraphFeedQuery) -> Any:
    """The provider's hook for the query's ``msgraph`` connection and API version."""
    from airflow.providers.microsoft.azure.hooks.msgraph import KiotaRequestAdapterHook

    return KiotaRequestAdapterHook(
        conn_id=query.conn_id, api_version=query.api_version, timeout=query.timeout_s
    )


def fetch_pages(query: GraphFeedQuery, request: FetchRequest) -> Iterator[Page]:
    """The pages of ``request.window`` as a plain iterator (the :data:`Fetcher` interface):
    one event loop drives :func:`fetch_window` a page at a time."""
    window = request.window
    hook = make_graph_hook(query)
    pages = _drive(fetch_window(hook, query, window.start, window.end, request.stats))
    try:
        for stream, records in pages:
            yield Page(records=records, stream=stream)
    finally:
        pages.close()  # a caller that stops early closes the fetch (and the hook) now


def listing_pages(
    query: GraphFeedQuery, params: dict[str, Any], stats: RequestStats
) -> Iterator[list[Any]]:
    """The pages of :func:`fetch_listing` as a plain iterator of record lists."""
    return _drive(fetch_listing(make_graph_hook(query), query, params, stats))


def _drive(pages: AsyncGenerator[Any, None]) -> Generator[Any, None, None]:
    """An async generator as a plain iterator: one event loop drives it an item at a time,
    and closes it (the hook's adapter with it) however the caller stops."""
    loop = asyncio.new_event_loop()
    try:
        while True:
            try:
                item = loop.run_until_complete(anext(pages))
            except StopAsyncIteration:
                return
            yield item
    finally:
        loop.run_until_complete(pages.aclose())
        loop.close()
