"""The two lanes of a worker's batcher: interactive jobs (requests) first, bulk jobs (batches) in the room
they leave, and within the bulk lane the keys in turn.
A batch holds at most `bulk_per_batch` bulk jobs (the batcher sets half a batch), a quarter of that when it
holds interactive jobs: an interactive job arriving while bulk work runs waits for that much, not for a
full batch of bulk jobs.

`Lanes` stands where the batcher's queue of (job id, future) stood: the batcher fills each batch with
`get`. Interactive items are taken first, but when both lanes wait, every `bulk_share`-th take is a bulk
item, so a batch always progresses under a steady interactive load. Bulk items are kept per owner (the API
key behind the batch) and taken one owner after another: a key's first job waits behind at most one job of
each other key that has bulk work waiting, however many jobs those keys have queued
(tests/actors/test_bulk_lane.py)."""

from __future__ import annotations

import queue
import threading
from collections import OrderedDict, deque
from typing import Any

INTERACTIVE = "interactive"
BULK = "bulk"
BULK_SHARE = 8  # when both lanes wait, one take in this many is bulk


class Lanes:
    def __init__(self, *, bulk_share: int = BULK_SHARE, bulk_per_batch: int | None = None):
        self.bulk_share = bulk_share
        self.bulk_per_batch = bulk_per_batch  # bulk items in one batch at most (None: no bound)
        self._bulk_taken = self._interactive_taken = 0  # in the batch being filled
        self._ready = threading.Condition()
        self._interactive: deque[Any] = deque()
        self._bulk: OrderedDict[str, deque[Any]] = OrderedDict()  # owner -> its items; the next owner first
        self._since_bulk = 0

    def put(self, item: Any, lane: str = INTERACTIVE, owner: str = "") -> None:
        with self._ready:
            if lane == BULK:
                self._bulk.setdefault(owner, deque()).append(item)
            else:
                self._interactive.append(item)
            self._ready.notify()

    def get(self, timeout: float | None = None) -> Any:
        """The next item, as `queue.Queue.get`: blocks up to `timeout` (None: for ever), then `queue.Empty`.
        The batcher's first `get` of a batch waits for ever (no `timeout`): that starts a new batch, whose bulk
        items are bounded by `bulk_per_batch`, so an interactive job never waits behind more than that."""
        with self._ready:
            if timeout is None:
                self._bulk_taken = self._interactive_taken = 0
            if not self._ready.wait_for(self._waiting, timeout):
                raise queue.Empty
            return self._take()

    def qsize(self) -> int:
        with self._ready:
            return len(self._interactive) + sum(len(items) for items in self._bulk.values())

    def bulk_waiting(self) -> int:
        with self._ready:
            return sum(len(items) for items in self._bulk.values())

    def _bulk_room(self) -> bool:
        """Whether the batch being filled takes another bulk item: up to `bulk_per_batch`, a quarter of that
        in a batch that holds interactive jobs (they wait for the whole batch)."""
        if not self._bulk or self.bulk_per_batch is None:
            return bool(self._bulk)
        bound = max(1, self.bulk_per_batch // 4) if self._interactive_taken else self.bulk_per_batch
        return self._bulk_taken < bound

    def _waiting(self) -> bool:
        return bool(self._interactive) or self._bulk_room()

    def _take(self) -> Any:
        if self._interactive and (not self._bulk_room() or self._since_bulk < self.bulk_share - 1):
            self._since_bulk += 1
            self._interactive_taken += 1
            return self._interactive.popleft()
        owner, items = next(iter(self._bulk.items()))
        item = items.popleft()
        if items:
            self._bulk.move_to_end(owner)  # the next take serves the next owner
        else:
            del self._bulk[owner]
        self._since_bulk = 0
        self._bulk_taken += 1
        return item
