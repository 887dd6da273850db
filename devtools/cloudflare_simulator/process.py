"""The simulator in its own process, driven over its ``/_sim`` admin API (tests, demos)."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from access_warehouse.paths import PROJECT_ROOT


def http_connection_json(
    state: dict[str, Any], *, token: str | None = None, verify: bool | str | None = None
) -> str:
    """An Airflow ``http`` connection (``AIRFLOW_CONN_*`` JSON) for the simulator of ``state``:
    host = the API base URL, password = the API token, extra ``verify`` (default: trust the
    simulator's certificate by path, so TLS is verified for real)."""
    return json.dumps(
        {
            "conn_type": "http",
            "host": state["api_base_url"],
            "password": token if token is not None else state["api_token"],
            "extra": {"verify": state["cert"] if verify is None else verify},
        }
    )


class SimulatorProcess:
    """``python -m devtools.cloudflare_simulator`` as a child process (``with`` block)."""

    def __init__(self, workdir: Path, *args: str, timeout_s: float = 30.0) -> None:
        self.workdir = Path(workdir)
        self.args = args
        self.timeout_s = timeout_s
        self.state_file = self.workdir / "cloudflare-simulator.json"
        self.state: dict[str, Any] = {}
        self._process: subprocess.Popen[bytes] | None = None
        self._admin: httpx.Client | None = None

    def start(self) -> SimulatorProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PYTHONPATH": f"{PROJECT_ROOT / 'plugins'}{os.pathsep}{PROJECT_ROOT}"}
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "devtools.cloudflare_simulator",
                "--port",
                "0",
                "--state-file",
                str(self.state_file),
                "--cert-dir",
                str(self.workdir / "cert"),
                *self.args,
            ],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=open(self.workdir / "cloudflare-simulator.log", "wb"),  # noqa: SIM115
        )
        deadline = time.monotonic() + self.timeout_s
        while not self.state_file.exists():
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                log = (self.workdir / "cloudflare-simulator.log").read_text()[-2000:]
                raise RuntimeError(f"the Cloudflare simulator did not start:\n{log}")
            time.sleep(0.05)
        self.state = json.loads(self.state_file.read_text())
        context = ssl.create_default_context(cafile=self.state["cert"])
        self._admin = httpx.Client(base_url=self.state["base_url"], verify=context, timeout=30)
        return self

    def stop(self) -> None:
        if self._admin is not None:
            self._admin.close()
            self._admin = None
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None

    def __enter__(self) -> SimulatorProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ---- the admin API --------------------------------------------------------------------

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        assert self._admin is not None, "the simulator is not running"
        response = self._admin.request(method, f"/_sim/{path}", **kwargs)
        response.raise_for_status()
        return response.json()

    def faults(self, **changes: Any) -> dict[str, Any]:
        return self._call("POST", "faults", json=changes)

    def set_clock(self, now: Any, *, frozen: bool = True) -> str:
        text = now.isoformat() if hasattr(now, "isoformat") else str(now)
        return self._call("POST", "clock", json={"now": text, "frozen": frozen})["now"]

    def stats(self) -> dict[str, int]:
        return self._call("GET", "stats")

    def reset(self) -> None:
        self._call("POST", "reset")

    def records(self, since: Any, until: Any, *, visible: bool = False) -> list[dict[str, Any]]:
        """The truth: every record with ``since <= created_at < until`` (only those indexed
        by the simulator's clock when ``visible``)."""
        params = {"since": since.isoformat(), "until": until.isoformat(), "visible": int(visible)}
        return self._call("GET", "records", params=params)
