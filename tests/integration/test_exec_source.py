"""``exec`` with a real command: a Python script in a real subprocess prints records (in the
Mission Control shape and in the tests' ``toy`` shape) that are extracted and loaded into a real
warehouse; the window reaches it as environment variables; a non-zero exit, a timeout (the
whole process group killed) and a bad line behave as documented; the env connection's secret
never shows in logs, errors or the warehouse."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from warehouse_asserts import audit_snapshot, tables_containing

from access_warehouse.config import parse_sources
from access_warehouse.extract import extract
from access_warehouse.landing import ExtractWindow
from access_warehouse.load import load_batch
from access_warehouse.sources.base import Feed
from access_warehouse.sources.exec_command import ExecFailed

pytestmark = pytest.mark.integration

CONN_ID = "exec_env"
SECRET = "s3cr3t-token-7f1e2d9c"
WINDOW = ExtractWindow(
    datetime(2026, 11, 20, 9, tzinfo=UTC), datetime(2026, 11, 20, 10, tzinfo=UTC), timedelta(0)
)

SCRIPT = r"""
import json, os, subprocess, sys, time
mode = sys.argv[1]
start, end = os.environ["WINDOW_START"], os.environ["WINDOW_END"]
seen = {"window_start": start, "window_end": end,
        "lookback": os.environ["WINDOW_LOOKBACK_SECONDS"],
        "token_set": "API_TOKEN" in os.environ, "home_set": "HOME" in os.environ}
def out(record):
    print(json.dumps(record), flush=True)
if mode in ("mc", "bad_line", "leak"):
    for n in range(5):
        out({"external_config_id": {"config_type": "MissionControl::Application",
                                    "external_id": f"app-{n % 2}"},
             "external_user_aliases": [f"user{n}@contoso.com"], "created_at": start,
             "count": n + 1, "properties": {"seen": seen, "n": n}})
        if mode == "bad_line" and n == 2:
            print("Traceback: this is not JSON", flush=True)
    if mode == "leak":
        out({"external_config_id": {"config_type": "X", "external_id": "leak"}, "user": "l@x.io",
             "created_at": start, "properties": {"token": os.environ["API_TOKEN"]}})
elif mode == "toy":
    for n in range(4):
        out({"id": f"toy-{n}", "at": start, "user": f"u{n}@example.com", "resource": "/a",
             "ok": n % 2 == 0})
elif mode == "fail":
    out({"user": "x@contoso.com", "config_id": "a", "created_at": start})
    for n in range(30):
        print(f"progress {n}", file=sys.stderr)
    print("auth failed with token " + os.environ["API_TOKEN"], file=sys.stderr)
    sys.exit(3)
elif mode == "hang":
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    open(sys.argv[2], "w").write(str(child.pid))
    out({"user": "x@contoso.com", "config_id": "a", "created_at": start})
    time.sleep(600)
elif mode == "stderr_flood":
    for n in range(100000):
        print("noise " * 20, file=sys.stderr)
    time.sleep(600)
"""


@pytest.fixture
def script(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "emit.py"
    path.write_text(SCRIPT)
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{CONN_ID.upper()}",
        json.dumps({"conn_type": "generic", "extra": {"API_TOKEN": SECRET}}),
    )
    # Airflow configures logging when first imported: before caplog starts, not inside it
    from access_warehouse.airflow_adapters.connections import airflow_connection

    airflow_connection(CONN_ID)
    return path


def _feed(script: Path, *args: str, **extra: Any) -> Feed:
    entry = {
        "kind": "exec",
        "name": "emitter",
        "command": [sys.executable, str(script), *args],
        "format": "mission_control_json",
        "env_conn_id": CONN_ID,
        "timeout_seconds": 30,
        "cwd": str(script.parent),
        "page_size": 2,
        **extra,
    }
    return parse_sources([entry], "test").feeds()[0]


def _run(dsn: str, feed: Feed) -> tuple[Any, Any]:
    extracted = extract(dsn, feed, window=WINDOW)
    return extracted, load_batch(dsn, extracted.batch_id, feed)


def _failed_batches(dsn: str) -> list[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT status, error FROM landing.extract_batches WHERE source_id = 'exec:emitter'"
        ).fetchall()
    return [error for status, error in rows if status == "failed"]


def test_records_load_with_the_window_in_the_environment(
    warehouse_dsn: str, script: Path, caplog: pytest.LogCaptureFixture
) -> None:
    feed = _feed(script, "mc")
    assert (feed.dag_id, feed.source_id) == ("exec_emitter", "exec:emitter")
    with caplog.at_level(logging.INFO):
        extracted, loaded = _run(warehouse_dsn, feed)

    assert extracted.records == 5 and extracted.pages == 3  # streamed in pages of 2
    assert (loaded.loaded, loaded.quarantined, loaded.inserted) == (5, 0, 5)
    with psycopg.connect(warehouse_dsn) as conn:
        seen, occurred = conn.execute(
            "SELECT properties->'properties'->'seen', occurred_at FROM audit.access_events LIMIT 1"
        ).fetchone()
    assert seen == {
        "window_start": "2026-11-20T09:00:00Z",
        "window_end": "2026-11-20T10:00:00Z",
        "lookback": "0",
        "token_set": True,
        "home_set": False,  # only the allow-list passes through
    }
    assert occurred == WINDOW.start
    leaks = [line for line in caplog.text.splitlines() if SECRET in line]
    assert not leaks, leaks
    assert "API_TOKEN" in caplog.text  # names, never values

    before = audit_snapshot(warehouse_dsn)
    _, again = _run(warehouse_dsn, feed)
    assert (again.inserted, again.updated) == (0, 0)
    assert audit_snapshot(warehouse_dsn) == before


def test_another_kinds_shape_is_normalised_by_that_kind(warehouse_dsn: str, script: Path) -> None:
    feed = _feed(script, "toy", format="toy")
    _, loaded = _run(warehouse_dsn, feed)
    assert (loaded.loaded, loaded.quarantined) == (4, 0)
    with psycopg.connect(warehouse_dsn) as conn:
        outcomes = conn.execute(
            "SELECT event_id, outcome FROM audit.access_events ORDER BY 1"
        ).fetchall()
    assert outcomes == [
        ("toy-0", "success"),
        ("toy-1", "failure"),
        ("toy-2", "success"),
        ("toy-3", "failure"),
    ]


def test_a_bad_line_is_quarantined_with_its_line_number(warehouse_dsn: str, script: Path) -> None:
    feed = _feed(script, "bad_line")
    extracted, loaded = _run(warehouse_dsn, feed)
    assert (extracted.records, loaded.loaded, loaded.quarantined) == (6, 5, 1)
    with psycopg.connect(warehouse_dsn) as conn:
        (reasons,) = conn.execute("SELECT reasons FROM dq.quarantine").fetchone()
    assert f"{sys.executable} {script} bad_line line 4: not JSON" in reasons[0]


def test_a_non_zero_exit_fails_the_extract_without_the_secret(
    warehouse_dsn: str, script: Path, caplog: pytest.LogCaptureFixture
) -> None:
    feed = _feed(script, "fail")
    with caplog.at_level(logging.DEBUG), pytest.raises(ExecFailed) as failure:
        extract(warehouse_dsn, feed, window=WINDOW)
    message = str(failure.value)
    assert "exited with code 3" in message
    assert "auth failed with token ***" in message  # the last stderr lines, masked
    assert "progress 29" in message and "progress 5" not in message  # only the last 20
    assert SECRET not in message and SECRET not in caplog.text
    (error,) = _failed_batches(warehouse_dsn)
    assert "exited with code 3" in error and SECRET not in error
    assert tables_containing(warehouse_dsn, SECRET) == []


def test_a_timeout_kills_the_process_group(warehouse_dsn: str, script: Path) -> None:
    pid_file = script.parent / "child.pid"
    feed = _feed(script, "hang", str(pid_file), timeout_seconds=2)
    started = time.monotonic()
    with pytest.raises(ExecFailed, match="timed out after 2 s; its process group was killed"):
        extract(warehouse_dsn, feed, window=WINDOW)
    assert time.monotonic() - started < 20
    child = int(pid_file.read_text())
    for _ in range(50):  # the grandchild was in the group: killed too
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"grandchild {child} outlived the timeout")
    assert _failed_batches(warehouse_dsn)


def test_too_much_stderr_fails_the_extract(warehouse_dsn: str, script: Path) -> None:
    feed = _feed(script, "stderr_flood", max_stderr_bytes=10_000)
    with pytest.raises(ExecFailed, match="wrote more than 10000 bytes to stderr"):
        extract(warehouse_dsn, feed, window=WINDOW)


def test_the_secret_is_masked_in_landed_records(warehouse_dsn: str, script: Path) -> None:
    feed = _feed(script, "leak")
    _, loaded = _run(warehouse_dsn, feed)
    assert loaded.loaded == 6
    assert tables_containing(warehouse_dsn, SECRET) == []
    with psycopg.connect(warehouse_dsn) as conn:
        token = conn.execute(
            "SELECT properties->'properties'->>'token' FROM audit.access_events"
            " WHERE target_external_id = 'leak'"
        ).fetchone()[0]
    assert token == "***"


def test_config_errors_are_clear() -> None:
    from access_warehouse.config import ConfigError

    base = {"kind": "exec", "name": "x", "format": "mission_control_json"}
    for command, expected in [
        ("python emit.py", "never a shell string"),
        (["bin/emit"], "absolute path or a bare program name"),
        ([sys.executable, 3], "valid string"),
    ]:
        with pytest.raises(ConfigError, match=expected):
            parse_sources([{**base, "command": command}], "test")
    with pytest.raises(ConfigError, match="not a registered kind"):
        parse_sources([{**base, "command": ["emit"], "format": "nope"}], "test")
