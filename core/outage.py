"""Log an outage once: a loop that retries every few seconds while the database or the broker is down
says so when it starts failing and when it recovers, not on every attempt."""

from __future__ import annotations

import logging
import threading


class Outage:
    """`failed(e)` on each failed attempt, `ok()` on each good one: one warning when an outage starts (the
    error's kind; its text at debug), debug lines while it lasts, one line when it ends."""

    def __init__(self, logger: logging.Logger, what: str):
        self.logger, self.what = logger, what
        self.failures = 0
        self._lock = threading.Lock()

    def failed(self, error: BaseException) -> None:
        with self._lock:
            self.failures += 1
            first = self.failures == 1
        if first:  # the kind of fault only: a driver's text may quote a statement's values, hosts or users
            self.logger.warning("%s failed (%s); carrying on", self.what, type(error).__name__)
        self.logger.debug("%s failed (%s: %s); carrying on", self.what, type(error).__name__, str(error).strip())

    def ok(self) -> None:
        with self._lock:
            failures, self.failures = self.failures, 0
        if failures:
            self.logger.warning("%s works again after %d failed attempt(s)", self.what, failures)

    @property
    def down(self) -> bool:
        return self.failures > 0
