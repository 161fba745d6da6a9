"""Falcon middleware: API keys as `Authorization: Bearer <key>` (RFC 6750) on every route but the open ones.

Runs before routing, so an unknown path answers 401 too and tells nothing about what exists. Keys are
compared in constant time against every configured key; they are never logged. The caller's owner id
(`core.owners.owner_id` of the key, never the key) goes on `req.context.owner`: jobs belong to it.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable

import falcon

from core.owners import OPEN, owner_id

# Probes, the API description and its interactive reference (with its files, under OPEN_PREFIX): no user
# data, nothing a key protects.
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"})
OPEN_PREFIX = "/docs/"
REALM = "inference-api"


class BearerAuth:
    def __init__(self, keys: Iterable[str], *, open_paths: Iterable[str] = OPEN_PATHS):
        self._keys = tuple(key.encode() for key in keys)
        self.open_paths = frozenset(open_paths)
        if not self._keys:
            raise ValueError("BearerAuth needs at least one key (no keys means no middleware)")

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        if req.path in self.open_paths or req.path.startswith(OPEN_PREFIX):
            return
        scheme, _, token = (req.get_header("Authorization") or "").strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise falcon.HTTPUnauthorized(
                title="Unauthorized",
                description="send an API key as `Authorization: Bearer <key>`",
                challenges=[f'Bearer realm="{REALM}"'],
            )
        if not self.accepts(token):
            raise falcon.HTTPUnauthorized(
                title="Unauthorized",
                description="the API key is not valid",
                challenges=[f'Bearer realm="{REALM}", error="invalid_token"'],
            )
        req.context.owner = owner_id(token)

    def accepts(self, token: str) -> bool:
        presented = token.encode("utf-8", "replace")
        matched = False
        for key in self._keys:  # every key, whatever matched before: the time says nothing about which
            matched |= hmac.compare_digest(presented, key)
        return matched


def owner_of(req: falcon.Request) -> str:
    """The id of the API key behind a request; `OPEN` when no keys are configured (everything is shared)."""
    return req.context.get("owner", OPEN)
