"""A load run as its own process, for the crash tests to kill: extract (unless a batch id is
given) then load one toy window, logging every step to stderr.

    python tests/crash_child.py DSN TOY_FILE [BATCH_ID]
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

sys.path[:0] = [str(Path(__file__).parent)]

from crash_points import WINDOW, toy_feed  # noqa: E402

from access_warehouse.extract import extract  # noqa: E402
from access_warehouse.load import load_batch  # noqa: E402


def main(dsn: str, path: str, batch_id: str | None = None) -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    feed = toy_feed(path)
    if batch_id is None:
        batch_id = extract(dsn, feed, window=WINDOW).batch_id
    load_batch(dsn, batch_id, feed, chunk_size=150)
    print("done", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
