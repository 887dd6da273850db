"""Source kind ``exec``: a configured command whose standard output is JSON lines in the shape of
another kind (``format``), normalised by that kind's own normaliser, found in the registry.

The command is an argument list run without a shell, in its own process group, with an
environment built from an allow-list of the worker's variables, plain ``env`` values and the
extra of an Airflow connection (``env_conn_id``, for secrets), plus the window
(``WINDOW_START``, ``WINDOW_END``, ``WINDOW_LOOKBACK_SECONDS``). Its stdout is streamed line by
line in pages; a line that is not a JSON object lands as a ``_file_error`` record (file = the
command, line = its number) and is quarantined. A non-zero exit, a timeout (the process group is
killed) or too much stderr fails the extract with the exit code and the last stderr lines, with
every value of the env connection masked. See :data:`DOC`.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import re
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import Field, StrictStr, field_validator, model_validator

from access_warehouse.normalise import FILE_ERROR
from access_warehouse.sources.base import (
    Feed,
    FetchRequest,
    Page,
    RecordRedactor,
    SourceConfig,
    SourceKind,
    TimeWindow,
    valid_cron,
)
from access_warehouse.sources.files import bad_line, parse_line
from access_warehouse.sources.registry import register_kind, registered_kinds

log = logging.getLogger(__name__)

KIND = "exec"
#: The environment variables the command gets the window in (set by the extract, never config).
WINDOW_VARIABLES = ("WINDOW_START", "WINDOW_END", "WINDOW_LOOKBACK_SECONDS")
MASK = "***"
#: Values of the env connection shorter than this are not masked (they would mask every "1").
MIN_MASKED_CHARS = 4

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_BARE_PROGRAM = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]*$")


class ExecFailed(RuntimeError):
    """The command failed (exit code, timeout, stderr limit, not found): the extract fails."""


class SecretMask:
    """Masks the env connection's values: in landed records (the feed's ``redact``), stderr
    lines and error messages. Filled by the fetch, which reads the connection."""

    def __init__(self, inner: RecordRedactor | None = None) -> None:
        self._values: tuple[str, ...] = ()
        self._inner = inner

    def set_values(self, values: list[str]) -> None:
        kept = {value for value in values if len(value) >= MIN_MASKED_CHARS}
        self._values = tuple(sorted(kept, key=len, reverse=True))

    def text(self, value: str) -> str:
        for secret in self._values:
            if secret in value:
                value = value.replace(secret, MASK)
        return value

    def _walk(self, value: Any) -> tuple[Any, int]:
        if isinstance(value, str):
            masked = self.text(value)
            return masked, int(masked != value)
        if isinstance(value, dict):
            changed = 0
            for key in list(value):
                value[key], count = self._walk(value[key])
                changed += count
            return value, changed
        if isinstance(value, list):
            changed = 0
            for index, item in enumerate(value):
                value[index], count = self._walk(item)
                changed += count
            return value, changed
        return value, 0

    def redact_record(self, record: Any) -> int:
        changed = self._walk(record)[1] if self._values else 0
        if self._inner is not None:
            changed += self._inner.redact_record(record)
        return changed


def _utc(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


class ExecSource(SourceConfig):
    """A command whose stdout is JSON lines of another kind's records."""

    kind: Literal["exec"]
    #: The argument list (never a shell string): the program (absolute path, or a bare name
    #: looked up on the allowed PATH) and its arguments.
    command: tuple[StrictStr, ...] = Field(min_length=1, max_length=256)
    #: The kind whose record shape stdout has (``mission_control_json``, ``ecs_jsonl``, ...).
    format: str = Field(pattern=r"^[a-z][a-z0-9_]{0,40}$")
    #: Settings of the format kind's config (e.g. its ``category``), over its documented example.
    format_options: dict[str, Any] = Field(default_factory=dict)
    #: The format kind's feed to use, by record kind, when the format kind gives several.
    format_feed: str | None = None
    timeout_seconds: int = Field(600, ge=1, le=86_400)
    #: Worker environment variables passed through by name (nothing else is inherited).
    env_allow: tuple[str, ...] = ("PATH", "LANG", "LC_ALL", "TZ")
    #: Plain, non-secret variables.
    env: dict[str, StrictStr] = Field(default_factory=dict)
    #: An Airflow connection whose extra's keys and values are variables (secrets go here).
    env_conn_id: str | None = None
    cwd: str | None = None
    lookback_minutes: int = Field(0, ge=0, le=60 * 24 * 30)
    enabled: bool = True
    schedule: str = "0 * * * *"
    page_size: int = Field(5000, ge=1, le=100_000)
    #: A stdout line longer than this lands as a ``_file_error`` record (cut to 10 000 chars).
    max_line_bytes: int = Field(16 * 1024 * 1024, ge=1024, le=1024 * 1024 * 1024)
    #: More stderr than this fails the extract (the process group is killed).
    max_stderr_bytes: int = Field(1024 * 1024, ge=0, le=1024 * 1024 * 1024)
    stderr_lines_kept: int = Field(20, ge=1, le=1000)
    max_active_runs: int = Field(1, ge=1, le=16)

    @field_validator("command", mode="before")
    @classmethod
    def _argument_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            raise ValueError(
                "command is an argument list (e.g. [/usr/local/bin/export, --json]), never a "
                "shell string"
            )
        return value

    @field_validator("command")
    @classmethod
    def _program(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any("\x00" in argument for argument in value):
            raise ValueError("command arguments may not contain NUL characters")
        program = value[0]
        if not (os.path.isabs(program) or _BARE_PROGRAM.match(program)):
            raise ValueError(
                f"the program {program!r} must be an absolute path or a bare program name "
                "(looked up on PATH), not a relative path"
            )
        return value

    @field_validator("env_allow")
    @classmethod
    def _names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if not _ENV_NAME.match(name):
                raise ValueError(f"{name!r} is not an environment variable name")
            if name in WINDOW_VARIABLES:
                raise ValueError(f"{name} is set by the extract; it cannot be passed through")
        return value

    @field_validator("env")
    @classmethod
    def _env_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not _ENV_NAME.match(name) or name in WINDOW_VARIABLES:
                raise ValueError(f"env: {name!r} is not a settable environment variable name")
        return value

    @field_validator("cwd")
    @classmethod
    def _absolute(cls, value: str | None) -> str | None:
        if value is not None and not os.path.isabs(value):
            raise ValueError(f"cwd {value!r} must be an absolute path")
        return value

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        return valid_cron(value)

    @model_validator(mode="after")
    def _format_known(self) -> ExecSource:
        self.format_feed_of()  # raises ValueError naming what is wrong
        return self

    # --- the format kind, from the registry ---
    def format_feed_of(self) -> Feed:
        """The feed the ``format`` kind gives for its example config with ``format_options``:
        its normaliser, exclusions, redaction and expectations are this source's."""
        kinds = registered_kinds()
        if self.format == KIND:
            raise ValueError("format cannot be exec itself")
        kind = kinds.get(self.format)
        if kind is None:
            known = ", ".join(name for name in kinds if name != KIND)
            raise ValueError(f"format {self.format!r} is not a registered kind; known: {known}")
        entry = {**kind.example, **self.format_options, "kind": kind.name, "name": self.name}
        if "enabled" in kind.config.model_fields:
            entry["enabled"] = True
        try:
            config = kind.config.model_validate(entry)
        except ValueError as exc:
            raise ValueError(f"format_options for {kind.name}: {exc}") from None
        feeds = config.feeds()
        if self.format_feed is not None:
            feeds = [feed for feed in feeds if feed.record_kind == self.format_feed]
        if len(feeds) != 1:
            offered = ", ".join(feed.record_kind for feed in config.feeds()) or "none"
            raise ValueError(
                f"format {kind.name} gives {len(feeds)} matching feeds (record kinds: "
                f"{offered}); name one with format_feed"
            )
        return feeds[0]

    @property
    def source_id(self) -> str:
        return f"{KIND}:{self.name}"

    @property
    def dag_id(self) -> str:
        return f"{KIND}_{self.name}"

    def display(self) -> str:
        """The command as a shell would quote it (for logs and quarantine reasons)."""
        return shlex.join(self.command)

    def feeds(self) -> list[Feed]:
        if not self.enabled:
            return []
        shape = self.format_feed_of()
        mask = SecretMask(shape.redact)
        return [
            Feed(
                source_id=self.source_id,
                dag_id=self.dag_id,
                record_kind=KIND,
                title=f"Command output ({self.name}, {self.format})",
                schedule=self.schedule,
                selection=TimeWindow(
                    lookback=timedelta(minutes=self.lookback_minutes),
                    time_field="the command's WINDOW_START / WINDOW_END",
                ),
                fetch=lambda request: run_command(self, request, mask),
                normalise=shape.normalise,
                exclude=shape.exclude,
                redact=mask,
                expectations=shape.expectations,
                suite_kind=shape.suite_kind or shape.record_kind,  # the shape's suites
                doc_md=(
                    f"Command `{self.display()}`, output in the shape of kind `{self.format}`"
                    f" (`{shape.record_kind}`).\n\n{DOC}\n\n## The format\n\n{shape.doc_md}"
                ),
                tags=("exec", self.format),
                conn_id=self.env_conn_id,
                max_active_runs=self.max_active_runs,
            )
        ]

    # --- the command's environment ---
    def environment(self, window: Any) -> tuple[dict[str, str], list[str]]:
        """(the command's environment, the values to mask: the env connection's)."""
        env = {name: os.environ[name] for name in self.env_allow if name in os.environ}
        env.update(self.env)
        secrets: list[str] = []
        if self.env_conn_id:
            from access_warehouse.airflow_adapters.connections import airflow_connection

            extra = airflow_connection(self.env_conn_id).extra_dejson or {}
            if not isinstance(extra, dict):
                raise ExecFailed(f"connection {self.env_conn_id!r}: the extra is not an object")
            for name, value in extra.items():
                if not isinstance(name, str) or not _ENV_NAME.match(name):
                    raise ExecFailed(
                        f"connection {self.env_conn_id!r}: extra key {str(name)[:80]!r} is not "
                        "an environment variable name"
                    )
                if name in WINDOW_VARIABLES:
                    raise ExecFailed(
                        f"connection {self.env_conn_id!r}: {name} is set by the extract"
                    )
                if isinstance(value, bool) or not isinstance(value, str | int | float):
                    raise ExecFailed(
                        f"connection {self.env_conn_id!r}: extra key {name!r} is not a text or "
                        "number value"
                    )
                text = str(value)
                if "\x00" in text:
                    raise ExecFailed(f"connection {self.env_conn_id!r}: extra key {name!r} has NUL")
                env[name] = text
                secrets.append(text)
        if window is None:
            raise ExecFailed(f"{self.source_id} extracts by time window: no window given")
        env["WINDOW_START"] = _utc(window.start)
        env["WINDOW_END"] = _utc(window.end)
        env["WINDOW_LOOKBACK_SECONDS"] = str(int(window.lookback.total_seconds()))
        return env, secrets


# --- running the command ---------------------------------------------------------------------


class _Stderr(threading.Thread):
    """Reads the command's stderr: the last lines, and whether it passed the limit."""

    def __init__(self, stream: Any, limit: int, keep: int, on_overflow: Any) -> None:
        super().__init__(daemon=True, name="exec-stderr")
        self._stream = stream
        self._limit = limit
        self._on_overflow = on_overflow
        self.lines: collections.deque[str] = collections.deque(maxlen=keep)
        self.bytes = 0
        self.overflowed = False

    def run(self) -> None:
        partial = b""
        while True:
            chunk = self._stream.read1(65536) if hasattr(self._stream, "read1") else b""
            if not chunk:
                break
            self.bytes += len(chunk)
            *complete, partial = (partial + chunk).split(b"\n")
            partial = partial[-4096:]
            for line in complete:
                self.lines.append(line[:2000].decode("utf-8", errors="replace"))
            if self.bytes > self._limit and not self.overflowed:
                self.overflowed = True
                self._on_overflow()
        if partial:
            self.lines.append(partial[:2000].decode("utf-8", errors="replace"))


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)  # the command leads its own session and group


def _lines(stdout: Any, limit: int) -> Iterator[tuple[bytes, bool]]:
    """(line, too long) for every line of ``stdout``; an over-long line is cut to ``limit``
    and the rest of it skipped, so memory stays bounded."""
    while True:
        line = stdout.readline(limit + 1)
        if not line:
            return
        if len(line) > limit and not line.endswith(b"\n"):
            while True:  # skip the rest of the over-long line
                rest = stdout.readline(1 << 20)
                if not rest or rest.endswith(b"\n"):
                    break
            yield line[:limit], True
            continue
        yield line, False


def run_command(source: ExecSource, request: FetchRequest, mask: SecretMask) -> Iterator[Page]:
    """Pages of the command's stdout records (see the module doc)."""
    env, secrets = source.environment(request.window)
    mask.set_values(secrets)
    display = source.display()
    log.info(
        "running %s (cwd %s, timeout %d s, window %s .. %s); environment variables: %s",
        display,
        source.cwd or "(the worker's)",
        source.timeout_seconds,
        env["WINDOW_START"],
        env["WINDOW_END"],
        ", ".join(sorted(env)),
    )
    started = time.monotonic()
    try:
        process = subprocess.Popen(  # an argument list from config: no shell
            list(source.command),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=source.cwd,
            env=env,
            start_new_session=True,
            close_fds=True,
        )
    except FileNotFoundError:
        raise ExecFailed(
            f"{source.source_id}: program {source.command[0]!r} not found"
            + ("" if os.path.isabs(source.command[0]) else " on the allowed PATH")
            + (f" (or cwd {source.cwd!r} does not exist)" if source.cwd else "")
        ) from None
    except PermissionError:
        raise ExecFailed(
            f"{source.source_id}: program {source.command[0]!r} is not executable"
        ) from None
    request.stats.requests += 1
    timed_out = threading.Event()

    def on_timeout() -> None:
        timed_out.set()
        _kill_group(process)

    timer = threading.Timer(source.timeout_seconds, on_timeout)
    timer.daemon = True
    stderr = _Stderr(
        process.stderr,
        source.max_stderr_bytes,
        source.stderr_lines_kept,
        lambda: _kill_group(process),
    )
    stderr.start()
    timer.start()
    try:
        page: list[Any] = []
        number = 0
        bad = 0
        for number, (line, too_long) in enumerate(_lines(process.stdout, source.max_line_bytes), 1):
            if too_long:
                record: Any = bad_line(
                    display, number, f"line longer than {source.max_line_bytes} bytes", line
                )
            elif not line.strip():
                continue
            else:
                record = parse_line(line, display, number)
            if type(record) is dict and FILE_ERROR in record:
                bad += 1
            page.append(record)
            if len(page) >= source.page_size:
                yield Page(records=page, stream=display)
                page = []
        returncode = process.wait()
        stderr.join(timeout=10)
        if timed_out.is_set():
            raise ExecFailed(
                f"{source.source_id}: {source.command[0]} timed out after "
                f"{source.timeout_seconds} s; its process group was killed" + _tail(stderr, mask)
            )
        if stderr.overflowed:
            raise ExecFailed(
                f"{source.source_id}: {source.command[0]} wrote more than "
                f"{source.max_stderr_bytes} bytes to stderr; its process group was killed"
                + _tail(stderr, mask)
            )
        if returncode != 0:
            how = (
                f"was killed by signal {signal.Signals(-returncode).name}"
                if returncode < 0
                else f"exited with code {returncode}"
            )
            raise ExecFailed(f"{source.source_id}: {source.command[0]} {how}" + _tail(stderr, mask))
        if page:
            yield Page(records=page, stream=display)
        log.info(
            "%s exited 0 after %.1f s: %d lines (%d not JSON objects), %d bytes of stderr",
            source.command[0],
            time.monotonic() - started,
            number,
            bad,
            stderr.bytes,
        )
        for line in stderr.lines:
            log.info("stderr: %s", mask.text(line))
    finally:
        timer.cancel()
        # the extract stopped early, or children linger in the group: nothing outlives it
        _kill_group(process)
        process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def _tail(stderr: _Stderr, mask: SecretMask) -> str:
    if not stderr.lines:
        return "; stderr was empty"
    lines = "\n".join(f"  {mask.text(line)}" for line in stderr.lines)
    return f"; last {len(stderr.lines)} stderr lines:\n{lines}"


DOC = """Records printed by a configured command (an exporter, a vendor CLI, a script) as JSON
lines in the shape of another kind (`format`), normalised by that kind's normaliser (looked up
by name in the registry: `mission_control_json`, `ecs_jsonl`, `cloudflare_access`, ... whatever
is registered), with that kind's exclusions, redaction and expectations.

Running: `command` is an argument list run without a shell (`[/usr/local/bin/export, --json]`;
the program an absolute path or a bare name looked up on the allowed `PATH`), in `cwd`, in its
own session and process group, stdin closed. Its environment holds only: the worker variables
named in `env_allow` (default `PATH`, `LANG`, `LC_ALL`, `TZ`; nothing else is inherited, so no
Airflow secret leaks), the plain `env` values, the keys and values of the extra of the Airflow
connection `env_conn_id` (where secrets belong), and the window: `WINDOW_START`, `WINDOW_END`
(ISO 8601 UTC, `[start, end)`, start already `lookback_minutes` before the data interval) and
`WINDOW_LOOKBACK_SECONDS`. The command should print the records of that window; reruns are
exact because events upsert on the format's natural key.

Output: stdout is streamed line by line in pages of `page_size` (memory flat). A line that is
not JSON, not an object or longer than `max_line_bytes` lands as a `_file_error` record (file =
the command, line = its number) and is quarantined with its line number. The extract fails
(and Airflow retries it with a fresh batch) when the command exits non-zero (the exit code or
signal is named), runs past `timeout_seconds` or writes more than `max_stderr_bytes` to stderr
(in both cases its whole process group is killed); the error names the program and quotes the
last `stderr_lines_kept` stderr lines. Values of the env connection are masked (`***`) in
those lines, in the task log and in landed records; only variable names are logged, never
values.

What it records and cannot know: exactly what the command prints, as the format kind
maps it (see below); the warehouse cannot check that the command honoured the window.

Natural key: the format kind's. DAG id `exec_<name>`, source id `exec:<name>`.

Privileges: the worker's user runs the command: give it only what the command needs (a
dedicated account, read-only credentials in `env_conn_id`).
"""

EXAMPLE: dict[str, Any] = {
    "name": "mc_export",
    "command": ["/usr/local/bin/mc-export", "--format", "jsonl"],
    "format": "mission_control_json",
    "timeout_seconds": 600,
    "env_conn_id": "mc_export_env",
    "env_allow": ["PATH", "LANG"],
    "cwd": "/var/lib/mc-export",
    "lookback_minutes": 60,
}

EXEC = register_kind(
    SourceKind(
        name=KIND,
        config=ExecSource,
        summary="a configured command whose stdout is JSON lines in another kind's shape",
        doc=DOC,
        example=EXAMPLE,
    )
)
