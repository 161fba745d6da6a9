"""GET /webhooks/secret: the secret the caller's webhooks are signed with, to verify them.

Each API key has its own, derived from WEBHOOK_SECRET (`core.owners.webhook_secret`). Without keys (an open
API) the secret would be WEBHOOK_SECRET itself, the master every key's secret derives from: it is never
handed out to whoever can reach the API (403); the operator who set it has it. 404 when webhooks are off."""

from __future__ import annotations

import falcon

from core.errors import NotFound
from core.owners import webhook_secret
from web.auth import owner_of


class WebhookSecret:
    def __init__(self, base: str, *, keyed: bool = True):
        self.base = base
        self.keyed = keyed

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        if not self.base:
            raise NotFound("webhooks are not enabled on this server (no WEBHOOK_SECRET)")
        if not self.keyed:
            raise falcon.HTTPForbidden(
                title="Forbidden",
                description="this server has no API keys: its webhook secret is WEBHOOK_SECRET itself, which it "
                "never hands out; verify webhooks with the WEBHOOK_SECRET you configured",
            )
        resp.set_header("Cache-Control", "no-store")
        resp.media = {"secret": webhook_secret(self.base, owner_of(req))}
