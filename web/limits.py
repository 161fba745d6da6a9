"""Per-key limits: requests a second (a token bucket), queued jobs (the backlog) and waits at once.

Each API key has its own (`core.readers.ApiKey.limits`, else the KEY_* defaults), so one tenant's flood
spends its own bucket and fills its own backlog while another tenant's requests are admitted as before.
A refusal is a 429 with `Retry-After` and the IETF rate-limit headers in the structured-field syntax of
draft-ietf-httpapi-ratelimit-headers (-08 to -11): `RateLimit-Policy: "requests";q=500;w=1` (the quota `q` a window
of `w` seconds) and `RateLimit: "requests";r=0;t=1` (`r` left, `t` seconds until more). Without API keys
there is one tenant and no per-key limit (the per-model backlog still holds).
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import falcon

from core.errors import Overloaded
from core.owners import owner_id
from db.admission import queued_of
from web.admission import Backlog


@dataclass(frozen=True)
class Policy:
    """One key's limits; 0 is none."""

    rps: int
    backlog: int
    waits: int


class RateLimited(Overloaded):
    """A 429 of a per-key limit, with its rate-limit headers and the reason the refusals metric counts."""

    def __init__(self, description: str, *, name: str, quota: int, window: int, retry_after: int, reason: str):
        super().__init__(description, retry_after=retry_after)
        self.reason = reason
        self.headers = {
            "RateLimit-Policy": f'"{name}";q={quota};w={window}',
            "RateLimit": f'"{name}";r=0;t={retry_after}',
        }


class TokenBucket:
    """`rate` tokens a second, at most `rate` held (a burst of one second's worth)."""

    def __init__(self, rate: int):
        self.rate = rate
        self.tokens = float(rate)
        self.at = time.monotonic()

    def take(self) -> float:
        """0 when a token was taken, else the seconds until one is there."""
        now = time.monotonic()
        self.tokens = min(self.rate, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


class KeyLimits:
    def __init__(self, keys: Iterable[str], defaults: Policy):
        self.policies = {owner_id(key): _policy(key, defaults) for key in keys}
        self._buckets: dict[str, TokenBucket] = {}
        self._waiting: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._backlog = Backlog(0, count=queued_of)

    def take_request(self, owner: str) -> None:
        """Spend one of the owner's requests this second, else `RateLimited`."""
        policy = self.policies.get(owner)
        if policy is None or not policy.rps:
            return
        with self._lock:
            bucket = self._buckets.setdefault(owner, TokenBucket(policy.rps))
            wait = bucket.take()
        if wait:
            raise RateLimited(
                f"this API key sends more than {policy.rps} requests a second; retry later",
                name="requests", quota=policy.rps, window=1, retry_after=max(1, math.ceil(wait)), reason="rate",
            )  # fmt: skip

    def admit_job(self, owner: str) -> None:
        """Count one more queued job of the owner, else `RateLimited` when its backlog is full."""
        policy = self.policies.get(owner)
        if policy is None or not policy.backlog:
            return
        try:
            self._backlog.admit(owner, limit=policy.backlog)
        except Overloaded:
            raise RateLimited(
                f"this API key has {policy.backlog} jobs waiting, its limit; retry once some finish",
                name="backlog", quota=policy.backlog, window=5, retry_after=5, reason="key_backlog",
            ) from None  # fmt: skip

    @contextlib.contextmanager
    def waiting(self, owner: str) -> Iterator[bool]:
        """Hold one of the owner's waits for the block; yields False when they are all taken."""
        policy = self.policies.get(owner)
        limit = policy.waits if policy is not None else 0
        with self._lock:
            held = not limit or self._waiting[owner] < limit
            if held:
                self._waiting[owner] += 1
        try:
            yield held
        finally:
            if held:
                with self._lock:
                    self._waiting[owner] -= 1


def _policy(key: str, defaults: Policy) -> Policy:
    own = getattr(key, "limits", {})
    return Policy(**{name: own.get(name, getattr(defaults, name)) for name in ("rps", "backlog", "waits")})


class RequestRate:
    """Falcon middleware, after `BearerAuth`: each authenticated request spends one of its key's tokens."""

    def __init__(self, limits: KeyLimits):
        self.limits = limits

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        owner = req.context.get("owner")
        if owner is not None:  # an open route (probes, the docs) carries no key
            self.limits.take_request(owner)
