"""An embedded ClickHouse (``chdb``) that keeps a real ``system.query_log``, and a transport
that runs the ``clickhouse_query_log`` kind's own SQL in it, in place of the HTTP client.

No ClickHouse server runs on a development machine here; chdb embeds the engine, and with a
``<query_log>`` section in its config file it logs every statement like a server does (user
``default`` from ``::ffff:127.0.0.1``, interface ``Local``). For the tests and the demo only:
production reads a server through ``clickhouse_connect``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from access_warehouse.sources.base import Fetcher
from access_warehouse.sources.clickhouse_query_log import (
    ClickhouseQueryLogSource,
    Transport,
    fetch_query_log,
)

QUERY_LOG_CONFIG = """<clickhouse>
    <query_log>
        <database>system</database>
        <table>query_log</table>
        <flush_interval_milliseconds>100</flush_interval_milliseconds>
    </query_log>
</clickhouse>
"""


def chdb_errors() -> tuple[type[BaseException], ...]:
    """What chdb raises: ``Session.query`` raises ``chdb._exceptions.ChdbError`` (a
    RuntimeError), which is not ``chdb.ChdbError``."""
    import chdb

    return (chdb.ChdbError, RuntimeError)


def open_session(folder: Path) -> Any:
    """A chdb session with its data and config in ``folder``, keeping a query log."""
    import chdb.session

    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "config.xml"
    config.write_text(QUERY_LOG_CONFIG)
    return chdb.session.Session(f"file:{folder / 'data'}?config-file={config}")


def rows(session: Any, sql: str, **params: Any) -> list[dict[str, Any]]:
    """The rows of one query, as dicts."""
    text = session.query(sql, "JSONEachRow", params=params or None).data()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@contextmanager
def transport(session: Any, source: ClickhouseQueryLogSource) -> Iterator[Transport]:
    """The kind's SQL and bound parameters, run by the embedded engine; rows as dicts in pages
    (``send_query`` streams the result in chunks)."""

    def run(sql: str, parameters: dict[str, str], page_size: int) -> Iterator[list[dict]]:
        page: list[dict[str, Any]] = []
        for chunk in session.send_query(sql, "JSONEachRow", params=parameters):
            for line in chunk.data().splitlines():
                if line.strip():
                    page.append(json.loads(line))
                    if len(page) >= page_size:
                        yield page
                        page = []
        if page:
            yield page

    yield Transport(run=run, errors=chdb_errors(), where="chdb (embedded engine)")


def fetcher(session: Any, source: ClickhouseQueryLogSource) -> Fetcher:
    """The source's fetch, reading ``session``'s query log instead of a server's."""
    return partial(fetch_query_log, source, connect=partial(transport, session))
