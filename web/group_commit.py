"""Group commit: the requests that arrive together share one flush.

A request thread calls `GroupCommit.submit(item)`. If no flush is running it leads at once (a request
alone waits for nobody); otherwise it queues, and when the running flush ends the first queued thread
leads the next one, for everything queued by then (up to `max_group`). Each caller returns only when the
flush that carried its item has finished, with its own result, or raises that flush's error.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class _Entry(Generic[Item, Result]):
    __slots__ = ("error", "item", "lead", "ready", "result")

    def __init__(self, item: Item):
        self.item = item
        self.result: Result | None = None
        self.error: BaseException | None = None
        self.lead = False  # woken to lead the next flush, not because its own item was flushed
        self.ready = threading.Event()


class GroupCommit(Generic[Item, Result]):
    """`flush(items)` returns one result per item, in order; it runs in one caller's thread at a time."""

    def __init__(self, flush: Callable[[list[Item]], Sequence[Result]], *, max_group: int = 64):
        self.flush = flush
        self.max_group = max_group
        self._lock = threading.Lock()
        self._queued: list[_Entry] = []
        self._flushing = False
        self.groups = 0  # flushes run, and the items they carried (for tests)
        self.items = 0

    def submit(self, item: Item) -> Result:
        entry: _Entry[Item, Result] = _Entry(item)
        with self._lock:
            self._queued.append(entry)
            lead, self._flushing = not self._flushing, True
        if not lead:
            entry.ready.wait()
            if not entry.lead:
                return self._outcome(entry)
        self._lead()
        return self._outcome(entry)

    def _lead(self) -> None:
        with self._lock:
            group, self._queued = self._queued[: self.max_group], self._queued[self.max_group :]
        try:
            results = self.flush([entry.item for entry in group])
            if len(results) != len(group):
                raise RuntimeError(f"a flush of {len(group)} items returned {len(results)} results")
            for entry, result in zip(group, results, strict=True):
                entry.result = result
        except BaseException as error:  # every caller of this group gets the error; the next group runs
            for entry in group:
                entry.error = error
        finally:
            with self._lock:
                self.groups += 1
                self.items += len(group)
                if self._queued:  # hand over: the first one waiting leads the next flush
                    successor = self._queued[0]
                    successor.lead = True
                    successor.ready.set()
                else:
                    self._flushing = False
            for entry in group:
                entry.lead = False
                entry.ready.set()

    @staticmethod
    def _outcome(entry: _Entry[Item, Result]) -> Result:
        if entry.error is not None:
            raise entry.error
        return entry.result  # type: ignore[return-value]
