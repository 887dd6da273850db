"""Reading ahead: a producer iterated in a thread of its own, a bounded queue ahead of its
consumer. The extract fetches the next page while it lands this one, the load reads the next
landed rows while it normalises these: the waits on the source, the network and the server
overlap with the work, on another core where the other side is another process.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Any, TypeVar

T = TypeVar("T")
_END = object()


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def read_ahead(items: Iterator[T], depth: int, name: str) -> Iterator[T]:
    """Yield what ``items`` yields, produced in a thread at most ``depth`` items ahead.

    Errors of the producer are raised in the consumer, in order. When the consumer stops early
    (it breaks off, or fails), the producer is stopped and ``items`` closed in its own thread,
    so what it holds (an event loop, a connection) is released where it was made.
    """
    channel: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                channel.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    break
            else:
                put(_END)
        except BaseException as exc:  # handed to the consumer, which raises it
            put(_Failed(exc))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    producer = threading.Thread(target=produce, name=name, daemon=True)
    producer.start()
    try:
        while (item := channel.get()) is not _END:
            if isinstance(item, _Failed):
                raise item.error
            yield item
    finally:
        stop.set()
        producer.join()
