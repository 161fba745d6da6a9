"""Taking turns at the broker within the request's own deadline.

An API process publishes one message at a time (one connection for all its threads, `actors.rabbitmq.
publisher`). When the broker blocks publishers (a memory or disk alarm), each publish waits out its
deadline in turn, so the tenth request in line would wait ten deadlines. Here a request waits its turn
only for what is left of its own deadline, counted from when it was accepted for sending (its Idempotency-Key
turn included), and is answered 503 at once when that runs out: never a hung request.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

from core.errors import Unavailable


class PublishTurns:
    def __init__(self, seconds: float):
        self.seconds = seconds
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def turn(self, started: float) -> Iterator[None]:
        """Hold the publishing turn for the block; `Unavailable` when it does not come within `seconds`
        of `started` (a `time.monotonic()`)."""
        left = self.seconds - (time.monotonic() - started)
        if left <= 0 or not self._lock.acquire(timeout=left):
            raise Unavailable(f"the message broker took no message within {self.seconds:g} s; retry later")
        try:
            yield
        finally:
            self._lock.release()
