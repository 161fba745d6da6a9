"""GET /webhooks/secret: the secret the caller's webhooks are signed with, to verify them.

Each API key has its own, derived from WEBHOOK_SECRET (`core.owners.webhook_secret`); without keys it is
WEBHOOK_SECRET itself. 404 when webhooks are off (no WEBHOOK_SECRET)."""

from __future__ import annotations

import falcon

from core.errors import NotFound
from core.owners import webhook_secret
from web.auth import owner_of


class WebhookSecret:
    def __init__(self, base: str):
        self.base = base

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        if not self.base:
            raise NotFound("webhooks are not enabled on this server (no WEBHOOK_SECRET)")
        resp.set_header("Cache-Control", "no-store")
        resp.media = {"secret": webhook_secret(self.base, owner_of(req))}
