"""A Cloudflare API look-alike over HTTPS for Access authentication logs.

Serves ``GET /client/v4/accounts/{account_id}/access/logs/access_requests`` (``since``,
``until``, ``direction``, ``limit``, ``page``, ``per_page``) in Cloudflare's v4 envelope over
a :class:`~.account.SyntheticAccount`, checks the ``Authorization: Bearer`` API token, and
plays Cloudflare's failure modes on demand (429 with ``Retry-After``, decimal or whole; 5xx;
broken 200 pages; late-indexed records), plus a small unauthenticated ``/_sim/*`` admin API
for tests running it in another process. Stdlib HTTP server, one thread per connection.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import socket
import ssl
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from devtools.graph_simulator.certs import ensure_certificate
from devtools.graph_simulator.server import SimClock

from .account import AccountConfig, SyntheticAccount

log = logging.getLogger(__name__)

MAX_LIMIT = 1000
DEFAULT_PER_PAGE = 25
DEFAULT_RANGE = timedelta(days=7)
#: What a scripted fault can be besides an HTTP status (a broken 200 answer).
PAGE_FAULTS = ("html", "success_false", "missing_result", "repeat_page")
_SERVER_ERRORS = {
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service unavailable",
    504: "Gateway timeout",
}


@dataclass
class FaultConfig:
    """Failure modes; mutable while the server runs (``/_sim/faults`` too)."""

    #: Answers for the next data requests, in order, once ``script_after`` data requests have
    #: been answered normally: an HTTP status (429 or a 5xx) or one of :data:`PAGE_FAULTS`.
    script: list[int | str] = field(default_factory=list)
    script_after: int = 0
    #: ``Retry-After`` on a 429: Cloudflare sends whole seconds; "0.25" tests decimals.
    retry_after: str = "1"
    late_arrival: bool = True  # records appear only once indexed


class SimulatorStats:
    FIELDS = (
        "requests",
        "unauthorized",
        "bad_requests",
        "throttled",
        "errors_5xx",
        "page_faults",
        "pages_served",
        "records_served",
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

    def as_dict(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def reset(self) -> None:
        with self._lock:
            self._counts = dict.fromkeys(self.FIELDS, 0)


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def _json(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Response:
    body = json.dumps(payload, separators=(",", ":")).encode()
    return Response(status, body, {"Content-Type": "application/json", **(headers or {})})


def envelope_error(status: int, code: int, message: str, **headers: str) -> Response:
    """Cloudflare's v4 failure envelope."""
    return _json(
        status,
        {
            "success": False,
            "errors": [{"code": code, "message": message}],
            "messages": [],
            "result": None,
        },
        headers,
    )


def parse_time(value: str) -> datetime:
    """RFC 3339 as the API takes it (``Z`` or an offset, optional fraction)."""
    text = value.strip()
    moment = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1:] in "Zz" else text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class _TLSServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], context: ssl.SSLContext, sim: Any) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.ssl_context = context
        self.simulator = sim
        super().__init__(address, _Handler)

    def get_request(self) -> tuple[Any, Any]:
        sock, address = self.socket.accept()
        return self.ssl_context.wrap_socket(
            sock, server_side=True, do_handshake_on_connect=False
        ), address

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection from %s failed", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "CloudflareSimulator/1.0"
    sys_version = ""
    timeout = 120
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
        try:
            response = self.server.simulator.handle(method, self.path, self.headers, body)
        except Exception:
            log.exception("simulator failed on %s %s", method, self.path)
            response = envelope_error(500, 10000, "Internal server error")
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)


class CloudflareSimulator:
    """The HTTPS simulator of one account (``start``/``stop`` or a ``with`` block)."""

    def __init__(
        self,
        account: AccountConfig | None = None,
        faults: FaultConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        cert_dir: Path | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.account = SyntheticAccount(account or AccountConfig())
        self.faults = faults or FaultConfig()
        self.clock: Any = clock if clock is not None else SimClock()
        self.stats = SimulatorStats()
        self._host, self._port = host, port
        self._cert_dir = cert_dir
        self._owned_cert_dir: Path | None = None
        self._lock = threading.Lock()
        self._data_requests_ok = 0
        self._last_page: bytes | None = None
        self._httpd: _TLSServer | None = None
        self._thread: threading.Thread | None = None
        self.cert_path = Path()
        self.base_url = ""
        self.host_port = ""

    # ---- lifecycle ------------------------------------------------------------------------

    def start(self) -> CloudflareSimulator:
        if self._httpd is not None:
            return self
        cert_dir = self._cert_dir
        if cert_dir is None:
            cert_dir = self._owned_cert_dir = Path(tempfile.mkdtemp(prefix="cloudflare-sim-"))
        self.cert_path, key_path = ensure_certificate(Path(cert_dir), [self._host])
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_path, key_path)
        self._httpd = _TLSServer((self._host, self._port), context, self)
        port = self._httpd.server_address[1]
        host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(self._host, self._host)
        self.host_port = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self.base_url = f"https://{self.host_port}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"cloudflare-simulator-{port}",
            daemon=True,
        )
        self._thread.start()
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

    def __enter__(self) -> CloudflareSimulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def state(self) -> dict[str, Any]:
        """What a client needs: the API base URL, the account, the token, the certificate."""
        return {
            "base_url": self.base_url,
            "api_base_url": f"{self.base_url}/client/v4",
            "host": self.host_port,
            "account_id": self.account.config.account_id,
            "api_token": self.account.config.api_token,
            "cert": str(self.cert_path),
        }

    def reset(self) -> None:
        self.stats.reset()
        with self._lock:
            self._data_requests_ok = 0
            self._last_page = None

    # ---- routing --------------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Response:
        url = urlsplit(target)
        segments = [s for s in url.path.split("/") if s]
        if segments[:1] == ["_sim"]:
            return self._admin(method, segments[1:], body, parse_qs(url.query))
        self.stats.incr("requests")
        if (
            method == "GET"
            and len(segments) == 7
            and segments[:3] == ["client", "v4", "accounts"]
            and segments[4:] == ["access", "logs", "access_requests"]
        ):
            return self._access_requests(segments[3], parse_qs(url.query), headers)
        return envelope_error(
            404, 7003, f"Could not route to {url.path}, perhaps your object identifier is invalid?"
        )

    def _authorised(self, account_id: str, headers: Mapping[str, str]) -> Response | None:
        auth = headers.get("Authorization") or ""
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or token.strip() != self.account.config.api_token:
            self.stats.incr("unauthorized")
            return envelope_error(401, 10000, "Authentication error")
        if account_id != self.account.config.account_id:
            self.stats.incr("unauthorized")
            return envelope_error(403, 10000, "Authentication error")
        return None

    def _scripted(self) -> int | str | None:
        with self._lock:
            faults = self.faults
            if self._data_requests_ok >= faults.script_after and faults.script:
                return faults.script.pop(0)
        return None

    def _access_requests(
        self, account_id: str, query: dict[str, list[str]], headers: Mapping[str, str]
    ) -> Response:
        refused = self._authorised(account_id, headers)
        if refused is not None:
            return refused
        fault = self._scripted()
        if fault == 429:
            self.stats.incr("throttled")
            return envelope_error(
                429,
                10000,
                "Rate limited. Please wait and consider throttling your request speed",
                **{"Retry-After": self.faults.retry_after},
            )
        if isinstance(fault, int):
            self.stats.incr("errors_5xx")
            return envelope_error(fault, 10000, _SERVER_ERRORS.get(fault, "Server error"))
        try:
            page = self._page(query)
        except ValueError as exc:
            self.stats.incr("bad_requests")
            return envelope_error(400, 10001, str(exc))
        payload, count = page
        if fault is not None:
            self.stats.incr("page_faults")
            return self._broken(str(fault), payload)
        with self._lock:
            self._data_requests_ok += 1
            self._last_page = payload
        self.stats.incr("pages_served")
        self.stats.incr("records_served", count)
        return Response(200, payload, {"Content-Type": "application/json"})

    def _page(self, query: dict[str, list[str]]) -> tuple[bytes, int]:
        def one(name: str) -> str | None:
            values = query.get(name)
            return values[-1] if values else None

        def number(name: str, default: int) -> int:
            text = one(name)
            if text is None:
                return default
            try:
                value = int(text)
            except ValueError:
                raise ValueError(f"{name} must be an integer, got {text!r}") from None
            if value < 1:
                raise ValueError(f"{name} must be at least 1")
            return value

        now = self.clock()
        try:
            until = parse_time(one("until")) if one("until") else now
            since = parse_time(one("since")) if one("since") else until - DEFAULT_RANGE
        except ValueError as exc:
            raise ValueError(f"since/until must be RFC 3339 timestamps ({exc})") from None
        direction = one("direction") or "desc"
        if direction not in ("asc", "desc"):
            raise ValueError("direction must be asc or desc")
        limit = number("limit", 0) if one("limit") else None
        per_page = number("per_page", 0) if one("per_page") else None
        if limit is not None and limit > MAX_LIMIT:
            raise ValueError(f"limit must be at most {MAX_LIMIT}")
        size = min(v for v in (limit, per_page, MAX_LIMIT) if v is not None)
        if limit is None and per_page is None:
            size = DEFAULT_PER_PAGE
        page = number("page", 1)
        visible_at = now if self.faults.late_arrival else None
        logins = self.account.logins(since, until, visible_at)
        if direction == "desc":
            logins.reverse()
        chosen = logins[(page - 1) * size : page * size]
        records = [self.account.render(login) for login in chosen]
        payload = {
            "success": True,
            "errors": [],
            "messages": [],
            "result": records,
            "result_info": {
                "page": page,
                "per_page": size,
                "count": len(records),
                "total_count": len(logins),
            },
        }
        return json.dumps(payload, separators=(",", ":")).encode(), len(records)

    def _broken(self, fault: str, payload: bytes) -> Response:
        if fault == "html":
            body = b"<html><body><h1>502 Bad Gateway</h1>cloudflare</body></html>"
            return Response(200, body, {"Content-Type": "text/html"})
        page = json.loads(payload)
        if fault == "success_false":
            page["success"] = False
            page["errors"] = [{"code": 10000, "message": "Internal error"}]
        elif fault == "missing_result":
            del page["result"]
        elif fault == "repeat_page" and self._last_page is not None:
            return Response(200, self._last_page, {"Content-Type": "application/json"})
        return _json(200, page)

    # ---- admin ------------------------------------------------------------------------------

    def _admin(
        self, method: str, path: list[str], body: bytes, query: dict[str, list[str]]
    ) -> Response:
        payload = json.loads(body or b"{}") if method == "POST" else {}
        if path == ["stats"] and method == "GET":
            return _json(200, self.stats.as_dict())
        if path == ["reset"] and method == "POST":
            self.reset()
            return _json(200, {"ok": True})
        if path == ["faults"] and method == "POST":
            with self._lock:
                known = {f.name for f in dataclasses.fields(FaultConfig)}
                unknown = sorted(set(payload) - known)
                if unknown:
                    return _json(400, {"error": f"unknown faults {unknown}"})
                for name, value in payload.items():
                    setattr(self.faults, name, list(value) if name == "script" else value)
            return _json(200, dataclasses.asdict(self.faults))
        if path == ["clock"] and method == "POST":
            if "now" in payload:
                self.clock.set(parse_time(payload["now"]), frozen=bool(payload.get("frozen")))
            if "advance_s" in payload:
                self.clock.advance(float(payload["advance_s"]))
            return _json(200, {"now": self.clock().isoformat()})
        if path == ["records"] and method == "GET":
            # the truth, for tests: every record of [since, until) (indexed by now if visible=1)
            since, until = parse_time(query["since"][0]), parse_time(query["until"][0])
            visible = query.get("visible", ["0"])[0] == "1"
            records = [
                record
                for record in self.account.records(since, until, self.clock() if visible else None)
                if parse_time(record["created_at"]) < until
            ]
            return _json(200, records)
        return _json(404, {"error": f"no admin endpoint {method} /_sim/{'/'.join(path)}"})
