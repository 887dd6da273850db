"""A Microsoft Graph look-alike over HTTPS: OAuth2 client credentials and the audit logs.

Serves what the ETL and Microsoft's own clients (azure-identity/MSAL, msgraph-core/kiota, httpx)
touch: tenant discovery, the v2.0 token endpoint, ``/v1.0`` and ``/beta``
``auditLogs/signIns`` and ``auditLogs/directoryAudits`` with ``$filter``/``$top``/``$skiptoken``,
``users`` with ``$select``/``$top``/``$skiptoken`` (:mod:`.users`; its pages go through the same
auth, throttling budget and faults),
and Graph's failure modes (throttling, 5xx, expired tokens, late-arriving events, killed
connections), plus a small ``/_sim/*`` admin API. Stdlib HTTP server; one thread per connection,
keep-alive. Both feeds go through one listing path (:meth:`GraphSimulator._listing`): the same
auth, throttling budget, faults, snapshot-pinned paging and counters.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import json
import logging
import math
import random
import secrets
import shutil
import socket
import ssl
import struct
import tempfile
import threading
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import parse_qs, quote, urlsplit

from .certs import ensure_certificate
from .odata import (
    Cursor,
    ODataError,
    parse_datetime,
    parse_directory_audit_filter,
    parse_filter,
)
from .tenant import (
    DIRECTORY_AUDITS,
    KIND_BY_EVENT_TYPE,
    SIGNINS,
    VERSIONS,
    SyntheticTenant,
    TenantConfig,
    kinds_for,
)
from .users import DEFAULT_TOP as USERS_DEFAULT_TOP
from .users import MAX_TOP as USERS_MAX_TOP
from .users import MAX_TOP_SIGN_IN_ACTIVITY, USERS, UnknownProperty, parse_select

log = logging.getLogger(__name__)

MAX_TOP = 1000
DEFAULT_LOOKBACK = timedelta(days=30)  # Graph's audit log retention; used when no lower bound
HISTORY = timedelta(days=400)  # the simulated tenant has no events older than this
GRAPH_JSON = (
    "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;"
    "charset=utf-8"
)
_PAGE_CACHE_SIZE = 32
_IDLE_TIMEOUT_S = 120


@dataclass
class FaultConfig:
    """Graph's failure modes; mutable while the server runs."""

    throttle: bool = True  # throttle_limit data requests per throttle_window_s per app+tenant
    throttle_limit: int = 5
    throttle_window_s: float = 10.0
    error_rate: float = 0.0  # share of data requests answered 5xx (seeded, reproducible)
    #: which 5xx an injected error is (503 and 504 are what Graph sends most); drawn evenly
    error_statuses: tuple[int, ...] = (503, 504)
    late_arrival: bool = True  # events appear only after their ingestion delay
    token_lifetime_s: int = 3600
    drop_connection_after_pages: int | None = None  # then close data connections, no response
    #: Retry-After on 429 as Microsoft's docs show it ("2.128"), not Graph's usual integer
    retry_after_decimal: bool = False
    #: answer this many data requests with 429 before anything else (a storm on the first one)
    throttle_first: int = 0
    #: one of PAGE_FAULTS, served in place of data page number page_fault_on_page (1-based,
    #: counted since the last reset), page_fault_times times in a row
    page_fault: str | None = None
    page_fault_on_page: int = 1
    page_fault_times: int = 1


#: Graph's error code and message for each 5xx the simulator can inject.
_SERVER_ERRORS = {
    500: ("InternalServerError", "An internal server error occurred."),
    502: ("BadGateway", "Bad gateway."),
    503: ("ServiceUnavailable", "Service is unavailable, try again later."),
    504: ("GatewayTimeout", "The operation has timed out."),
}

#: What a broken 200 answer can look like (see ``GraphSimulator._broken_page``).
PAGE_FAULTS = (
    "lone_surrogate",  # a string with a lone "\ud800" escape
    "invalid_utf8",  # a byte that is not UTF-8 inside a string
    "deep_nesting",  # arrays nested deeper than JSON parsers allow
    "html",  # an HTML error page with status 200
    "value_object",  # "value" is an object instead of a list
    "truncated",  # the body cut in half
    "repeat_page",  # the previous page served again
    "foreign_next_link",  # the nextLink points at another host
)


class _Feed(NamedTuple):
    """How one ``auditLogs/<name>`` feed is queried and rendered; the listing is shared."""

    name: str  # Graph entity set: URL segment, @odata.context, skiptoken feed
    stat: str  # prefix of its page/record counters
    #: ($filter text, version) -> (lo, hi, selectors); raises ODataError
    select: Callable[[str | None, str], tuple[int | None, int | None, tuple[str, ...]]]
    #: (tenant, lo, hi, selectors, visible_at) -> compact rows, newest first
    rows: Callable[[SyntheticTenant, int, int, tuple[str, ...], int | None], list[Any]]
    #: (tenant, row, version) -> the record's JSON text
    render_json: Callable[[SyntheticTenant, Any, str], str]


def _select_signins(
    text: str | None, version: str
) -> tuple[int | None, int | None, tuple[str, ...]]:
    filt = parse_filter(text, version)
    try:
        kinds = kinds_for(version, filt.event_types)
    except ValueError as exc:
        raise ODataError(f"Invalid filter clause: {exc}") from None
    event_types = tuple(sorted(name for name, k in KIND_BY_EVENT_TYPE.items() if k in kinds))
    return filt.lo, filt.hi, event_types


def _signin_rows(
    tenant: SyntheticTenant, lo: int, hi: int, event_types: tuple[str, ...], visible_at: int | None
) -> list[Any]:
    return tenant.query(lo, hi, [KIND_BY_EVENT_TYPE[name] for name in event_types], visible_at)


#: Directory-audit selector that matches no category (contradictory ``category eq`` clauses).
_NO_CATEGORY = ""


def _select_directory_audits(
    text: str | None, version: str
) -> tuple[int | None, int | None, tuple[str, ...]]:
    filt = parse_directory_audit_filter(text)
    if filt.categories is None:
        categories: tuple[str, ...] = ()  # all
    else:
        categories = tuple(sorted(filt.categories)) or (_NO_CATEGORY,)
    return filt.lo, filt.hi, categories


def _directory_audit_rows(
    tenant: SyntheticTenant, lo: int, hi: int, categories: tuple[str, ...], visible_at: int | None
) -> list[Any]:
    return tenant.directory_audit_rows(lo, hi, categories or None, visible_at)


_FEED_SPECS: dict[str, _Feed] = {
    SIGNINS: _Feed(SIGNINS, "signin", _select_signins, _signin_rows, SyntheticTenant.render_json),
    DIRECTORY_AUDITS: _Feed(
        DIRECTORY_AUDITS,
        "directory_audit",
        _select_directory_audits,
        _directory_audit_rows,
        lambda tenant, row, version: tenant.render_directory_audit_json(row),
    ),
}
_FEEDS_BY_SEGMENT = {name.lower(): feed for name, feed in _FEED_SPECS.items()}


class SimulatorStats:
    """Thread-safe request counters: ``stats["throttled"]``, ``stats.throttled``, ``as_dict()``."""

    FIELDS: tuple[str, ...] = (
        "requests",
        "tokens_issued",
        "unauthorized",
        "bad_requests",
        "throttled",
        "errors_5xx",
        "dropped",
        "page_faults",  # broken 200 answers served (FaultConfig.page_fault)
        "pages_served",  # data pages of both feeds
        "records_served",
        "signin_pages",
        "signin_records",
        "directory_audit_pages",
        "directory_audit_records",
        "user_pages",  # /users (pages_served and records_served count them too)
        "user_records",
    )

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(self.FIELDS, 0)

    def incr(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._counts[name] += amount

    def __getitem__(self, name: str) -> int:
        with self._lock:
            return self._counts[name]

    def __getattr__(self, name: str) -> int:
        if name in SimulatorStats.FIELDS:
            return self[name]
        raise AttributeError(name)

    def as_dict(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def reset(self) -> None:
        with self._lock:
            self._counts = dict.fromkeys(self.FIELDS, 0)

    def __repr__(self) -> str:
        return f"SimulatorStats({self.as_dict()})"


class SimClock:
    """A UTC clock that can be set, frozen and advanced; the simulator's default clock."""

    def __init__(self, start: datetime | None = None, *, frozen: bool = False) -> None:
        self._lock = threading.Lock()
        self._offset = timedelta(0)
        self._frozen_at: datetime | None = None
        if start is not None:
            self.set(start, frozen=frozen)

    def __call__(self) -> datetime:
        with self._lock:
            if self._frozen_at is not None:
                return self._frozen_at
            return datetime.now(UTC) + self._offset

    def set(self, now: datetime, *, frozen: bool = False) -> None:
        """Make ``self()`` return ``now``; frozen there, or ticking on from it."""
        if now.tzinfo is None:
            raise ValueError("SimClock needs a timezone-aware datetime")
        with self._lock:
            if frozen:
                self._frozen_at = now.astimezone(UTC)
            else:
                self._frozen_at = None
                self._offset = now - datetime.now(UTC)

    def advance(self, seconds: float) -> None:
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at += timedelta(seconds=seconds)
            else:
                self._offset += timedelta(seconds=seconds)


class _Token(NamedTuple):
    tenant_key: str
    client_id: str
    expires_at: datetime


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = dataclasses.field(default_factory=dict)


# Returned by the router when the connection must be killed without an answer.
_DROP: Response = Response(0)


def _json_response(status: int, payload: Any, content_type: str = GRAPH_JSON) -> Response:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(status, body, {"Content-Type": content_type})


class _TLSServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self, address: tuple[str, int], context: ssl.SSLContext, simulator: GraphSimulator
    ) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.ssl_context = context
        self.simulator = simulator
        super().__init__(address, _Handler)

    def get_request(self) -> tuple[Any, Any]:
        sock, address = self.socket.accept()
        # The handshake runs in the connection's own thread (see _Handler.setup), so a slow or
        # failing client never blocks the accept loop.
        return self.ssl_context.wrap_socket(
            sock, server_side=True, do_handshake_on_connect=False
        ), address

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that reject the self-signed certificate or vanish mid-request are routine here.
        log.debug("connection from %s failed", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "GraphSimulator/1.0"
    sys_version = ""
    timeout = _IDLE_TIMEOUT_S
    server: _TLSServer

    def setup(self) -> None:
        self.request.settimeout(self.timeout)
        self.request.do_handshake()
        super().setup()

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        simulator = self.server.simulator
        try:
            response = simulator.handle(method, self.path, self.headers, body)
        except Exception:
            log.exception("simulator failed on %s %s", method, self.path)
            response = simulator.graph_error(500, "UnknownError", "Internal server error.", {})
        if response is _DROP:
            self._drop_connection()
            return
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)

    def _drop_connection(self) -> None:
        """Reset the TCP connection: the client sees it die with no HTTP response at all."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)


class GraphSimulator:
    """An HTTPS Microsoft Graph simulator over one or more synthetic tenants.

    >>> with GraphSimulator(TenantConfig(), FaultConfig(throttle=False)) as sim:
    ...     sim.base_url  # doctest: +SKIP
    'https://127.0.0.1:54321'
    """

    def __init__(
        self,
        tenants: list[TenantConfig] | TenantConfig,
        faults: FaultConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        cert_dir: Path | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        configs = [tenants] if isinstance(tenants, TenantConfig) else list(tenants)
        if not configs:
            raise ValueError("GraphSimulator needs at least one tenant")
        self._tenants: dict[str, SyntheticTenant] = {}
        for config in configs:
            key = config.tenant_id.lower()
            if key in self._tenants:
                raise ValueError(f"duplicate tenant_id {config.tenant_id!r}")
            self._tenants[key] = SyntheticTenant(config)
        # Tenants are addressed by name or GUID, as Entra allows.
        self._aliases = {t.tenant_guid: key for key, t in self._tenants.items()}
        self.faults = faults if faults is not None else FaultConfig()
        self.clock: Callable[[], datetime] = clock if clock is not None else SimClock()
        self.stats = SimulatorStats()
        self._host, self._port = host, port
        self._cert_dir = Path(cert_dir) if cert_dir is not None else None
        self._owned_cert_dir: Path | None = None
        self._lock = threading.Lock()
        self._tokens: dict[str, _Token] = {}
        self._windows: dict[tuple[str, str], deque[float]] = {}
        self._fault_rng = random.Random(f"{configs[0].seed}:faults")
        self._pages_ok = 0  # data pages served since the last reset, for drop_connection_...
        self._data_requests = 0  # since the last reset, for throttle_first
        self._page_faults_served = 0
        self._last_page: bytes | None = None
        self._page_cache: OrderedDict[tuple[Any, ...], list[Any]] = OrderedDict()
        self._httpd: _TLSServer | None = None
        self._thread: threading.Thread | None = None
        self.cert_path: Path = Path()
        self.key_path: Path = Path()
        self.host_port = ""
        self.base_url = ""

    # ---- lifecycle --------------------------------------------------------------------

    def start(self) -> GraphSimulator:
        if self._httpd is not None:
            return self
        cert_dir = self._cert_dir
        if cert_dir is None:
            cert_dir = self._owned_cert_dir = Path(tempfile.mkdtemp(prefix="graph-sim-"))
        self.cert_path, self.key_path = ensure_certificate(cert_dir, [self._host])
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_path, self.key_path)
        self._httpd = _TLSServer((self._host, self._port), context, self)
        port = self._httpd.server_address[1]
        host = self._host
        if host in ("0.0.0.0", ""):
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        self.host_port = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self.base_url = f"https://{self.host_port}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"graph-simulator-{port}",
            daemon=True,
        )
        self._thread.start()
        log.info("Graph simulator listening on %s", self.base_url)
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = self._thread = None
        if self._owned_cert_dir is not None:
            shutil.rmtree(self._owned_cert_dir, ignore_errors=True)
            self._owned_cert_dir = None

    def __enter__(self) -> GraphSimulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ---- Python-side helpers ----------------------------------------------------------

    def tenant(self, tenant_id: str) -> SyntheticTenant:
        key = self._tenant_key(tenant_id)
        if key is None:
            raise KeyError(tenant_id)
        return self._tenants[key]

    @property
    def tenants(self) -> list[SyntheticTenant]:
        return list(self._tenants.values())

    def reset_stats(self) -> None:
        """Zero the counters, the dropped-connection page count and the throttle windows."""
        self.stats.reset()
        with self._lock:
            self._pages_ok = 0
            self._data_requests = 0
            self._page_faults_served = 0
            self._windows.clear()

    def credentials(self, tenant_id: str | None = None) -> dict[str, str]:
        """Connection details of a tenant (default: the first), as the CLI prints them."""
        config = (self.tenant(tenant_id) if tenant_id else self.tenants[0]).config
        return {
            "base_url": self.base_url,
            "host": self.host_port,
            "tenant_id": config.tenant_id,
            "client_id": config.client_id,
            "client_secret": config.client_secret,
            "cert": str(self.cert_path),
        }

    def _tenant_key(self, name: str) -> str | None:
        key = name.lower()
        if key in self._tenants:
            return key
        return self._aliases.get(key)

    # ---- routing ----------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Response:
        """Answer one request (also usable without sockets, e.g. from unit tests)."""
        url = urlsplit(target)
        segments = [s for s in url.path.split("/") if s]
        lowered = [s.lower() for s in segments]
        query = parse_qs(url.query, keep_blank_values=True)
        if lowered[:1] == ["_sim"]:
            return self._admin(method, lowered[1:], body)
        self.stats.incr("requests")
        request_ids = self._request_ids(headers)
        if (
            method == "GET"
            and len(lowered) == 3
            and lowered[1] == "auditlogs"
            and lowered[2] in _FEEDS_BY_SEGMENT
            and segments[0] in VERSIONS
        ):
            feed = _FEEDS_BY_SEGMENT[lowered[2]]
            return self._listing(feed, segments[0], query, headers, request_ids)
        if method == "GET" and lowered[1:] == [USERS] and segments[0] in VERSIONS:
            return self._users_listing(segments[0], query, headers, request_ids)
        if method == "POST" and lowered[1:] == ["oauth2", "v2.0", "token"]:
            return self._token(segments[0], body, headers)
        if method == "GET" and lowered[1:] in (
            ["v2.0", ".well-known", "openid-configuration"],
            [".well-known", "openid-configuration"],
        ):
            return self._openid_configuration(segments[0])
        if method == "GET" and lowered == ["common", "discovery", "instance"]:
            return self._instance_discovery(query)
        return self.graph_error(
            404,
            "ResourceNotFound",
            f"Resource not found for the segment '{url.path}'.",
            request_ids,
        )

    def _request_ids(self, headers: Mapping[str, str]) -> dict[str, str]:
        request_id = str(uuid.uuid4())
        return {
            "request-id": request_id,
            "client-request-id": headers.get("client-request-id") or request_id,
        }

    def graph_error(
        self, status: int, code: str, message: str, request_ids: Mapping[str, str]
    ) -> Response:
        """A Graph-shaped error: ``{"error": {"code", "message", "innerError"}}``."""
        request_id = request_ids.get("request-id") or str(uuid.uuid4())
        client_request_id = request_ids.get("client-request-id") or request_id
        inner = {
            "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
            "request-id": request_id,
            "client-request-id": client_request_id,
        }
        response = _json_response(
            status, {"error": {"code": code, "message": message, "innerError": inner}}
        )
        response.headers.update({"request-id": request_id, "client-request-id": client_request_id})
        return response

    # ---- identity platform ------------------------------------------------------------

    def _aad_error(self, status: int, error: str, code: int, description: str) -> Response:
        now = datetime.now(UTC)
        trace_id, correlation_id = str(uuid.uuid4()), str(uuid.uuid4())
        stamp = now.strftime("%Y-%m-%d %H:%M:%SZ")
        return _json_response(
            status,
            {
                "error": error,
                "error_description": f"AADSTS{code}: {description} Trace ID: {trace_id} "
                f"Correlation ID: {correlation_id} Timestamp: {stamp}",
                "error_codes": [code],
                "timestamp": stamp,
                "trace_id": trace_id,
                "correlation_id": correlation_id,
                "error_uri": f"{self.base_url}/error?code={code}",
            },
            "application/json; charset=utf-8",
        )

    def _unknown_tenant(self, name: str) -> Response:
        return self._aad_error(
            400,
            "invalid_request",
            90002,
            f"Tenant '{name}' not found. Check to make sure you have the correct tenant ID and "
            "are signing into the correct cloud.",
        )

    def _openid_configuration(self, tenant_name: str) -> Response:
        key = self._tenant_key(tenant_name)
        if key is None:
            return self._unknown_tenant(tenant_name)
        tenant = self._tenants[key]
        base = f"{self.base_url}/{tenant.config.tenant_id}"
        return _json_response(
            200,
            {
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "private_key_jwt",
                    "client_secret_basic",
                ],
                "jwks_uri": f"{base}/discovery/v2.0/keys",
                "response_modes_supported": ["query", "fragment", "form_post"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "issuer": f"{self.base_url}/{tenant.tenant_guid}/v2.0",
                "request_uri_parameter_supported": False,
                "userinfo_endpoint": f"{self.base_url}/oidc/userinfo",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "http_logout_supported": True,
                "frontchannel_logout_supported": True,
                "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
                "claims_supported": ["sub", "iss", "aud", "exp", "iat", "tid", "oid"],
                "tenant_region_scope": "EU",
                "cloud_instance_name": "microsoftonline.com",
                "cloud_graph_host_name": "graph.windows.net",
                "msgraph_host": self.host_port,
            },
            "application/json; charset=utf-8",
        )

    def _instance_discovery(self, query: dict[str, list[str]]) -> Response:
        """MSAL's ``/common/discovery/instance``: point it at this host's tenant metadata."""
        endpoint = (query.get("authorization_endpoint") or [""])[0]
        parts = [s for s in urlsplit(endpoint).path.split("/") if s]
        tenant = parts[0] if parts else "common"
        return _json_response(
            200,
            {
                "tenant_discovery_endpoint": f"{self.base_url}/{tenant}/v2.0/.well-known/"
                "openid-configuration",
                "api-version": "1.1",
                "metadata": [
                    {
                        "preferred_network": self.host_port,
                        "preferred_cache": self.host_port,
                        "aliases": [self.host_port],
                    }
                ],
            },
            "application/json; charset=utf-8",
        )

    def _token(self, tenant_name: str, body: bytes, headers: Mapping[str, str]) -> Response:
        key = self._tenant_key(tenant_name)
        if key is None:
            return self._unknown_tenant(tenant_name)
        config = self._tenants[key].config
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        client_id, secret = form.get("client_id"), form.get("client_secret")
        authorization = headers.get("Authorization") or ""
        if authorization.lower().startswith("basic "):  # client_secret_basic
            try:
                decoded = base64.b64decode(authorization[6:]).decode()
                client_id, _, secret = decoded.partition(":")
            except ValueError:
                pass
        if form.get("grant_type") != "client_credentials":
            return self._aad_error(
                400,
                "unsupported_grant_type",
                70003,
                "The app requested an unsupported grant type; the simulator implements "
                "'client_credentials' only.",
            )
        if client_id != config.client_id:
            return self._aad_error(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory "
                f"'{config.tenant_id}'.",
            )
        if not secret:
            return self._aad_error(
                401,
                "invalid_client",
                7000216,
                "'client_assertion', 'client_secret' or 'request' is required for the "
                "'client_credentials' grant type.",
            )
        if not secrets.compare_digest(secret, config.client_secret):
            return self._aad_error(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is "
                f"the client secret value, not the client secret ID, for a secret added to app "
                f"'{client_id}'.",
            )
        scopes = (form.get("scope") or "").split()
        if not scopes or not all(scope.endswith("/.default") for scope in scopes):
            return self._aad_error(
                400,
                "invalid_scope",
                1002012,
                f"The provided value for scope {form.get('scope') or ''} is not valid. Client "
                "credential flows must have a scope value with /.default suffixed to the "
                "resource identifier (application ID URI).",
            )
        lifetime = int(self.faults.token_lifetime_s)
        token = secrets.token_urlsafe(32)
        now = self.clock()
        with self._lock:
            if len(self._tokens) > 10_000:
                self._tokens = {k: t for k, t in self._tokens.items() if t.expires_at > now}
            self._tokens[token] = _Token(key, config.client_id, now + timedelta(seconds=lifetime))
        self.stats.incr("tokens_issued")
        return _json_response(
            200,
            {
                "token_type": "Bearer",
                "expires_in": lifetime,
                "ext_expires_in": lifetime,
                "access_token": token,
            },
            "application/json; charset=utf-8",
        )

    def _authenticate(
        self, headers: Mapping[str, str], request_ids: Mapping[str, str]
    ) -> _Token | Response:
        authorization = headers.get("Authorization") or ""
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            message = "Access token is empty."
        else:
            token = self._tokens.get(value.strip())
            if token is None:
                message = "Invalid JWT token. Token format not valid."
            elif token.expires_at <= self.clock():
                message = "Lifetime validation failed, the token is expired."
            else:
                return token
        self.stats.incr("unauthorized")
        response = self.graph_error(401, "InvalidAuthenticationToken", message, request_ids)
        response.headers["WWW-Authenticate"] = 'Bearer realm="", error="invalid_token"'
        return response

    # ---- audit log listings (sign-ins and directory audits alike) ----------------------

    def _throttle(self, token: _Token) -> int | None:
        """Seconds to wait if this request is over the limit, else None (and take a slot)."""
        faults = self.faults
        if not faults.throttle:
            return None
        now = time.monotonic()
        with self._lock:
            window = self._windows.setdefault((token.tenant_key, token.client_id), deque())
            while window and window[0] <= now - faults.throttle_window_s:
                window.popleft()
            if len(window) >= faults.throttle_limit:
                # A 429 takes no slot; the wait is until the oldest request leaves the window.
                wait = window[len(window) - faults.throttle_limit] + faults.throttle_window_s - now
                return max(1, math.ceil(wait))
            window.append(now)
        return None

    def _injected_fault(self, request_ids: Mapping[str, str]) -> Response | None:
        faults = self.faults
        with self._lock:
            limit = faults.drop_connection_after_pages
            if limit is not None and self._pages_ok >= limit:
                self.stats.incr("dropped")
                return _DROP
            if faults.error_rate <= 0 or self._fault_rng.random() >= faults.error_rate:
                return None
            pick = self._fault_rng.random()
            retry_after = self._fault_rng.random() < 0.3
        self.stats.incr("errors_5xx")
        statuses = faults.error_statuses
        status = statuses[min(int(pick * len(statuses)), len(statuses) - 1)]
        code, message = _SERVER_ERRORS[status]
        response = self.graph_error(status, code, message, request_ids)
        if retry_after:
            response.headers["Retry-After"] = "1"
        return response

    def _listing(
        self,
        feed: _Feed,
        version: str,
        query: dict[str, list[str]],
        headers: Mapping[str, str],
        request_ids: dict[str, str],
    ) -> Response:
        """One page of ``/{version}/auditLogs/{feed}``: auth, the tenant+app throttling budget
        (shared by every feed), injected faults, then the page of a snapshot-pinned listing."""
        token = self._data_request(headers, request_ids)
        if isinstance(token, Response):
            return token
        if feed.name == SIGNINS and not self._tenants[token.tenant_key].config.premium_license:
            return self._no_premium_license(request_ids)
        # OData options are matched case-insensitively, with or without their "$".
        params = {k.lower().lstrip("$"): v[-1] for k, v in query.items()}
        try:
            cursor, top = self._cursor(feed, version, token, params)
        except ODataError as exc:
            self.stats.incr("bad_requests")
            return self.graph_error(400, "BadRequest", str(exc), request_ids)
        events = self._matching(feed, cursor)
        page = events[cursor.offset : cursor.offset + top]
        tenant = self._tenants[token.tenant_key]
        # Records come as ready JSON text (see SyntheticTenant.render_json): the page is
        # assembled as text rather than built as dicts and encoded, several times faster.
        context = f"{self.base_url}/{version}/$metadata#auditLogs/{feed.name}"
        head = f'{{"@odata.context":{json.dumps(context)}'
        if cursor.offset + top < len(events):
            link = self._next_link(cursor, top, params.get("filter"))
            head += f',"@odata.nextLink":{json.dumps(link)}'
        render_json = feed.render_json
        records = ",".join([render_json(tenant, e, version) for e in page])
        body = f'{head},"value":[{records}]}}'.encode()
        content_type = GRAPH_JSON
        broken = self._broken_page(body)
        if broken is not None:
            body, content_type = broken
        else:
            self._last_page = body
        response = Response(200, body, {"Content-Type": content_type})
        response.headers.update(request_ids)
        with self._lock:
            self._pages_ok += 1
        self.stats.incr("pages_served")
        self.stats.incr("records_served", len(page))
        self.stats.incr(f"{feed.stat}_pages")
        self.stats.incr(f"{feed.stat}_records", len(page))
        return response

    def _data_request(
        self, headers: Mapping[str, str], request_ids: Mapping[str, str]
    ) -> _Token | Response:
        """What every data request goes through first: auth, the tenant+app throttling budget
        (one for every collection), injected faults. The token, or the answer to send."""
        token = self._authenticate(headers, request_ids)
        if isinstance(token, Response):
            return token
        with self._lock:
            self._data_requests += 1
            storm = self._data_requests <= self.faults.throttle_first
        wait = 1 if storm else self._throttle(token)
        if wait is not None:
            self.stats.incr("throttled")
            response = self.graph_error(429, "TooManyRequests", "Too many requests.", request_ids)
            # Microsoft's docs show decimals ("2.128"); Graph itself sends integers
            decimal = self.faults.retry_after_decimal
            response.headers["Retry-After"] = f"{wait + 0.128:.3f}" if decimal else str(wait)
            return response
        fault = self._injected_fault(request_ids)
        if fault is not None:
            return fault
        return token

    def _no_premium_license(self, request_ids: Mapping[str, str]) -> Response:
        """Graph's answer to sign-in data from a tenant without Entra ID P1/P2."""
        return self.graph_error(
            403,
            "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
            "Neither tenant is B2C or tenant doesn't have premium license",
            request_ids,
        )

    # ---- users ------------------------------------------------------------------------

    def _users_listing(
        self,
        version: str,
        query: dict[str, list[str]],
        headers: Mapping[str, str],
        request_ids: dict[str, str],
    ) -> Response:
        """One page of ``/{version}/users``: the same gate as the audit logs, then ``$select``,
        ``$top`` (Graph's limits: 999, 500 with signInActivity) and a snapshot-pinned listing
        of the directory at the first page's clock time."""
        token = self._data_request(headers, request_ids)
        if isinstance(token, Response):
            return token
        params = {k.lower().lstrip("$"): v[-1] for k, v in query.items()}
        try:
            cursor, top = self._users_cursor(version, token, params)
        except UnknownProperty as exc:
            self.stats.incr("bad_requests")
            return self.graph_error(400, "BadRequest", str(exc), request_ids)
        except ODataError as exc:
            self.stats.incr("bad_requests")
            return self.graph_error(400, "Request_UnsupportedQuery", str(exc), request_ids)
        tenant = self._tenants[token.tenant_key]
        if "signInActivity" in cursor.selectors and not tenant.config.premium_license:
            return self._no_premium_license(request_ids)
        key = (USERS, cursor.tenant_id, cursor.selectors, cursor.snapshot, cursor.late_arrival)
        with self._lock:
            records = self._page_cache.get(key)
        if records is None:
            visible_at = cursor.snapshot if cursor.late_arrival else None
            records = tenant.directory_users.records_json(
                cursor.snapshot, cursor.selectors, visible_at
            )
            with self._lock:
                self._page_cache[key] = records
                while len(self._page_cache) > _PAGE_CACHE_SIZE:
                    self._page_cache.popitem(last=False)
        page = records[cursor.offset : cursor.offset + top]
        selected = "" if "select" not in params else f"({','.join(cursor.selectors)})"
        context = f"{self.base_url}/{version}/$metadata#users{selected}"
        head = f'{{"@odata.context":{json.dumps(context)}'
        if cursor.offset + top < len(records):
            following = dataclasses.replace(cursor, offset=cursor.offset + top)
            parts = [f"$top={top}"]
            if "select" in params:
                parts.append(f"$select={quote(','.join(cursor.selectors), safe=',')}")
            parts.append(f"$skiptoken={following.encode()}")
            link = f"{self.base_url}/{version}/users?{'&'.join(parts)}"
            head += f',"@odata.nextLink":{json.dumps(link)}'
        body = f'{head},"value":[{",".join(page)}]}}'.encode()
        content_type = GRAPH_JSON
        broken = self._broken_page(body)
        if broken is not None:
            body, content_type = broken
        else:
            self._last_page = body
        response = Response(200, body, {"Content-Type": content_type})
        response.headers.update(request_ids)
        with self._lock:
            self._pages_ok += 1
        self.stats.incr("pages_served")
        self.stats.incr("records_served", len(page))
        self.stats.incr("user_pages")
        self.stats.incr("user_records", len(page))
        return response

    def _users_cursor(
        self, version: str, token: _Token, params: dict[str, str]
    ) -> tuple[Cursor, int]:
        skiptoken = params.get("skiptoken")
        if skiptoken:
            cursor = Cursor.decode(skiptoken)
            if (
                cursor.tenant_id != token.tenant_key
                or cursor.version != version
                or cursor.feed != USERS
            ):
                raise ODataError("Invalid $skiptoken value: it belongs to another query.")
        else:
            if params.get("filter"):
                raise ODataError("The simulator's /users takes $select, $top and $skiptoken.")
            cursor = Cursor(
                tenant_id=token.tenant_key,
                version=version,
                lo=0,
                hi=0,
                selectors=parse_select(params.get("select")),
                snapshot=math.floor(self.clock().timestamp()),
                late_arrival=self.faults.late_arrival,
                offset=0,
                feed=USERS,
            )
        limit = MAX_TOP_SIGN_IN_ACTIVITY if "signInActivity" in cursor.selectors else USERS_MAX_TOP
        top = USERS_DEFAULT_TOP
        if "top" in params:
            try:
                top = int(params["top"])
            except ValueError:
                raise ODataError(f"Invalid page size specified: '{params['top']}'.") from None
        if not 1 <= top <= limit:
            raise ODataError(
                f"Invalid page size specified: '{top}'. Must be between 1 and {limit} inclusive."
            )
        return cursor, top

    def _broken_page(self, body: bytes) -> tuple[bytes, str] | None:
        """``(body, content type)`` of the configured page fault, when this page is due one."""
        faults = self.faults
        with self._lock:
            due = (
                faults.page_fault is not None
                and self._pages_ok + 1 >= faults.page_fault_on_page
                and self._page_faults_served < faults.page_fault_times
            )
            if not due:
                return None
            self._page_faults_served += 1
        self.stats.incr("page_faults")
        mode = faults.page_fault
        if mode == "lone_surrogate":
            return body.replace(b'"id":"', b'"id":"\\ud800', 1), GRAPH_JSON
        if mode == "invalid_utf8":
            return body.replace(b'"id":"', b'"id":"\xff\xfe', 1), GRAPH_JSON
        if mode == "deep_nesting":
            return body.replace(
                b'"value":[', b'"deep":' + b"[" * 5000 + b"]" * 5000 + b',"value":[', 1
            ), GRAPH_JSON
        if mode == "html":
            return b"<html><body><h1>Service Unavailable</h1></body></html>", "text/html"
        if mode == "value_object":
            start = body.index(b'"value":[') + len(b'"value":')
            return body[
                :start
            ] + b'{"id":"x","createdDateTime":"2026-11-10T00:00:00Z"}}', GRAPH_JSON
        if mode == "truncated":
            return body[: len(body) // 2], GRAPH_JSON
        if mode == "repeat_page":
            return (self._last_page or body), GRAPH_JSON
        if mode == "foreign_next_link":
            link = b'"@odata.nextLink":"' + self.base_url.encode()
            elsewhere = b'"@odata.nextLink":"https://graph.evil.example'
            return body.replace(link, elsewhere, 1), GRAPH_JSON
        raise ValueError(f"unknown page fault {mode!r}; known: {PAGE_FAULTS}")

    def _cursor(
        self, feed: _Feed, version: str, token: _Token, params: dict[str, str]
    ) -> tuple[Cursor, int]:
        top = MAX_TOP
        if "top" in params:
            try:
                top = int(params["top"])
            except ValueError:
                raise ODataError(f"Invalid value '{params['top']}' for $top.") from None
            if top > MAX_TOP:
                raise ODataError(f"The limit of '{MAX_TOP}' for Top query has been exceeded.")
            if top < 1:
                raise ODataError(f"Invalid value '{top}' for $top: must be positive.")
        skiptoken = params.get("skiptoken")
        if skiptoken:
            cursor = Cursor.decode(skiptoken)
            if (
                cursor.tenant_id != token.tenant_key
                or cursor.version != version
                or cursor.feed != feed.name
            ):
                raise ODataError("Invalid $skiptoken value: it belongs to another query.")
            return cursor, top
        lo, hi, selectors = feed.select(params.get("filter"), version)
        snapshot = math.floor(self.clock().timestamp())
        if lo is None:
            lo = snapshot - int(DEFAULT_LOOKBACK.total_seconds())
        # Nothing is older than HISTORY: an unbounded past would mean generating it all.
        lo = max(lo, snapshot - int(HISTORY.total_seconds()))
        if hi is None:
            hi = snapshot + 1
        cursor = Cursor(
            tenant_id=token.tenant_key,
            version=version,
            lo=lo,
            hi=hi,
            selectors=selectors,
            snapshot=snapshot,
            late_arrival=self.faults.late_arrival,
            offset=0,
            feed=feed.name,
        )
        return cursor, top

    def _matching(self, feed: _Feed, cursor: Cursor) -> list[Any]:
        """Every record of a listing, computed once per snapshot and kept for its later pages."""
        key = (feed.name, cursor.tenant_id, cursor.lo, cursor.hi, cursor.selectors)
        key += (cursor.snapshot, cursor.late_arrival)
        with self._lock:
            events = self._page_cache.get(key)
            if events is not None:
                self._page_cache.move_to_end(key)
                return events
        tenant = self._tenants[cursor.tenant_id]
        # Nothing after the snapshot exists yet, late arrival or not.
        hi = min(cursor.hi, cursor.snapshot + 1)
        visible_at = cursor.snapshot if cursor.late_arrival else None
        events = feed.rows(tenant, cursor.lo, hi, cursor.selectors, visible_at)
        with self._lock:
            self._page_cache[key] = events
            while len(self._page_cache) > _PAGE_CACHE_SIZE:
                self._page_cache.popitem(last=False)
        return events

    def _next_link(self, cursor: Cursor, top: int, filter_text: str | None) -> str:
        # The skiptoken alone defines the page; $filter rides along as Graph's links show it.
        following = dataclasses.replace(cursor, offset=cursor.offset + top)
        parts = [f"$top={top}"]
        if filter_text:
            parts.append(f"$filter={quote(filter_text, safe='')}")
        parts.append(f"$skiptoken={following.encode()}")
        return f"{self.base_url}/{cursor.version}/auditLogs/{cursor.feed}?{'&'.join(parts)}"

    # ---- admin ------------------------------------------------------------------------

    def _admin(self, method: str, path: list[str], body: bytes) -> Response:
        try:
            payload = json.loads(body) if body.strip() else {}
            if not isinstance(payload, dict):
                raise ValueError("expected a JSON object")
            if method == "GET" and path == ["stats"]:
                return _json_response(200, self.stats.as_dict(), "application/json")
            if method == "POST" and path == ["reset"]:
                self.reset_stats()
                return _json_response(200, self.stats.as_dict(), "application/json")
            if path == ["faults"] and method in ("GET", "POST"):
                if method == "POST":
                    self._update_faults(payload)
                return _json_response(200, dataclasses.asdict(self.faults), "application/json")
            if path == ["clock"] and method in ("GET", "POST"):
                if method == "POST":
                    self._move_clock(payload)
                return _json_response(200, {"now": self.clock().isoformat()}, "application/json")
        except (ValueError, TypeError) as exc:
            return _json_response(400, {"error": str(exc)}, "application/json")
        return _json_response(404, {"error": f"no admin route {method} /_sim/{'/'.join(path)}"})

    def _update_faults(self, changes: dict[str, Any]) -> None:
        fields = {f.name for f in dataclasses.fields(FaultConfig)}
        unknown = set(changes) - fields
        if unknown:
            raise ValueError(f"unknown fault fields {sorted(unknown)}; expected {sorted(fields)}")
        updated = dataclasses.replace(self.faults, **changes)
        with self._lock:
            self.faults = updated
            self._pages_ok = 0  # a new drop_connection_after_pages counts from now

    def _move_clock(self, payload: dict[str, Any]) -> None:
        clock = self.clock
        if "now" in payload:
            now = datetime.fromtimestamp(parse_datetime(str(payload["now"])), UTC)
            if not isinstance(clock, SimClock):
                clock = SimClock()
            clock.set(now, frozen=bool(payload.get("frozen", False)))
        if "offset_s" in payload:
            seconds = float(payload["offset_s"])
            if isinstance(clock, SimClock):
                clock.advance(seconds)
            else:
                base, delta = clock, timedelta(seconds=seconds)
                clock = lambda: base() + delta  # noqa: E731 - a shifted foreign clock
        self.clock = clock
