"""A load run as its own process, for the crash tests to kill: extract (unless a batch id is
given) then load one toy window, logging every step to stderr.

    python tests/crash_child.py DSN TOY_FILE [BATCH_ID]

With ``CRASH_AT=<pattern>`` and ``CRASH_OCCURRENCE=<n>`` in its environment, the child stops
right after the n-th log line matching the pattern and waits there to be killed, so the kill
lands at that point however fast the next step would have been.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).parent)]

from crash_points import WINDOW, toy_feed  # noqa: E402

from access_warehouse.extract import extract  # noqa: E402
from access_warehouse.load import load_batch  # noqa: E402


class WaitToBeKilled(logging.StreamHandler):
    def __init__(self, pattern: str, occurrence: int) -> None:
        super().__init__(sys.stderr)
        self.pattern = re.compile(pattern)
        self.remaining = occurrence

    def emit(self, record: logging.LogRecord) -> None:
        super().emit(record)
        self.flush()
        if self.pattern.search(record.getMessage()):
            self.remaining -= 1
            if self.remaining == 0:
                time.sleep(60)  # the parent kills us here


def main(dsn: str, path: str, batch_id: str | None = None) -> None:
    pattern = os.environ.get("CRASH_AT")
    handler = (
        WaitToBeKilled(pattern, int(os.environ["CRASH_OCCURRENCE"]))
        if pattern
        else logging.StreamHandler(sys.stderr)
    )
    handler.setFormatter(logging.Formatter("%(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    feed = toy_feed(path)
    if batch_id is None:
        batch_id = extract(dsn, feed, window=WINDOW).batch_id
    load_batch(dsn, batch_id, feed, chunk_size=150)
    print("done", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
