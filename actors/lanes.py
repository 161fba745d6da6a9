"""The two lanes of a worker's batcher: interactive jobs (requests) and bulk jobs (batches), each taken by its
own loop (`actors.loops`): the interactive lane a plain queue, the bulk lane the keys in turn.

Bulk items are kept per owner (the API key behind the batch) and taken one owner after another: a key's first
job waits behind at most one job of each other key that has bulk work waiting, however many jobs those keys
have queued (tests/actors/test_bulk_lane.py)."""

from __future__ import annotations

import queue
import threading
from collections import OrderedDict, deque
from typing import Any

INTERACTIVE = "interactive"
BULK = "bulk"
LANES = (INTERACTIVE, BULK)


class InteractiveLane(queue.Queue):
    """First come, first served; `put(item, owner)` as the bulk lane's (the owner is not needed here)."""

    def put(self, item: Any, owner: str = "") -> None:  # type: ignore[override]
        super().put(item)


class BulkLane:
    """A queue (`put`, `get`, `qsize` as `queue.Queue`'s) that serves its owners in turn."""

    def __init__(self):
        self._ready = threading.Condition()
        self._items: OrderedDict[str, deque[Any]] = OrderedDict()  # owner -> its items; the next owner first

    def put(self, item: Any, owner: str = "") -> None:
        with self._ready:
            self._items.setdefault(owner, deque()).append(item)
            self._ready.notify()

    def get(self, timeout: float | None = None) -> Any:
        """The next owner's next item: blocks up to `timeout` (None: for ever), then `queue.Empty`."""
        with self._ready:
            if not self._ready.wait_for(lambda: bool(self._items), timeout):
                raise queue.Empty
            owner, items = next(iter(self._items.items()))
            item = items.popleft()
            if items:
                self._items.move_to_end(owner)  # the next take serves the next owner
            else:
                del self._items[owner]
            return item

    def qsize(self) -> int:
        with self._ready:
            return sum(len(items) for items in self._items.values())


def lane(name: str) -> InteractiveLane | BulkLane:
    return BulkLane() if name == BULK else InteractiveLane()
