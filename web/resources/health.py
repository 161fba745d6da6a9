"""GET /healthz (the process answers) and GET /readyz (the database and the broker answer)."""

from __future__ import annotations

import falcon

from actors.sending import Sender
from core.errors import Unavailable
from db.connection import ping as ping_database


class Health:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"status": "ok"}


class Ready:
    def __init__(self, sender: Sender):
        self.sender = sender

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        checks = {"database": _check(ping_database), "broker": _check(self.sender.ping)}
        ready = all(result == "ok" for result in checks.values())
        resp.status = falcon.HTTP_200 if ready else falcon.HTTP_503
        if not ready:
            resp.retry_after = 5
        resp.media = {"status": "ready" if ready else "unavailable", "checks": checks}


def _check(probe) -> str:
    try:
        probe()
    except Unavailable as e:
        return e.description
    except Exception as e:  # any failure to answer means "not ready"; say which
        return f"unavailable ({type(e).__name__}: {e})"
    return "ok"
