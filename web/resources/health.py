"""GET /healthz (the process answers) and GET /readyz (the database and the broker answer)."""

from __future__ import annotations

import logging

import falcon

from actors.sending import Sender
from core.errors import Unavailable
from db.connection import ping as ping_database

logger = logging.getLogger(__name__)


class Health:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"status": "ok"}


class Ready:
    def __init__(self, sender: Sender):
        self.sender = sender

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        checks = {"database": _check("database", ping_database), "broker": _check("broker", self.sender.ping)}
        ready = all(result == "ok" for result in checks.values())
        resp.status = falcon.HTTP_200 if ready else falcon.HTTP_503
        if not ready:
            resp.retry_after = 5
        resp.media = {"status": "ready" if ready else "unavailable", "checks": checks}


def _check(name: str, probe) -> str:
    """ "ok" or "unavailable": which dependency is down, never the driver's text (it names hosts, ports and
    users, and /readyz is open to everyone); the detail goes to the log."""
    try:
        probe()
    except Exception as e:  # any failure to answer means "not ready"
        cause = e.__cause__ if isinstance(e, Unavailable) and e.__cause__ else e
        logger.warning("readyz: the %s is unavailable: %s: %s", name, type(cause).__name__, str(cause).strip())
        return "unavailable"
    return "ok"
