"""GET /healthz (the process answers) and GET /readyz (the database and the broker answer).

/readyz is open to anyone and probed every few seconds by every kubelet: it answers from the last checks,
made again at most every `FRESH` seconds by one request at a time (the others answer the last state
meanwhile, never queue behind a slow check). No thread: `create_app` starts none."""

from __future__ import annotations

import logging
import threading
import time

import falcon

from actors.sending import Sender
from core.errors import Unavailable
from db.connection import ping as ping_database

logger = logging.getLogger(__name__)

FRESH = 2.0  # seconds /readyz answers from the same checks


class Health:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"status": "ok"}


class Ready:
    def __init__(self, sender: Sender, *, fresh: float = FRESH):
        self.sender = sender
        self.fresh = fresh
        self._checks: dict[str, str] | None = None
        self._checked_at = 0.0
        self._checking = threading.Lock()

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        checks = self.checks()
        ready = all(result == "ok" for result in checks.values())
        resp.status = falcon.HTTP_200 if ready else falcon.HTTP_503
        if not ready:
            resp.retry_after = 5
        resp.media = {"status": "ready" if ready else "unavailable", "checks": checks}

    def checks(self) -> dict[str, str]:
        """The last checks, made again when older than `fresh` by whoever gets the lock first; the others
        answer the last ones (the very first request waits for them: there are none yet)."""
        stale = self._checks is None or time.monotonic() - self._checked_at >= self.fresh
        if stale and self._checking.acquire(blocking=self._checks is None):
            try:
                if self._checks is None or time.monotonic() - self._checked_at >= self.fresh:
                    probes = {"database": ping_database, "broker": self.sender.ping}
                    self._checks = {name: _check(name, probe) for name, probe in probes.items()}
                    self._checked_at = time.monotonic()
            finally:
                self._checking.release()
        return self._checks


def _check(name: str, probe) -> str:
    """ "ok" or "unavailable": which dependency is down, never the driver's text (it names hosts, ports and
    users, and /readyz is open to everyone); its kind goes to the log, the detail only at debug."""
    try:
        probe()
    except Exception as e:  # any failure to answer means "not ready"
        cause = e.__cause__ if isinstance(e, Unavailable) and e.__cause__ else e
        logger.warning("readyz: the %s is unavailable: %s", name, type(cause).__name__)
        logger.debug("readyz: the %s's error: %s", name, str(cause).strip())
        return "unavailable"
    return "ok"
