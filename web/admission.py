"""What POST /inference checks before it accepts work: the backlog (429) and idempotency keys."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import falcon

from core.errors import InvalidRequest, Overloaded
from core.owners import OPEN
from db import Job
from web.request import InferenceRequest


class Backlog:
    """Refuses new work for a model whose queued jobs reach `limit`. The count is read at most once a
    second per model, by one request at a time (the others go on with the last count, counted up locally
    in between), so the check costs no query per request and never a burst of them."""

    def __init__(self, limit: int, *, refresh: float = 1.0, count: Callable[[str], int] | None = None):
        self.limit = limit
        self.refresh = refresh
        self.count = count or Job.backlog  # queued jobs of a name (a model; an owner for the per-key backlog)
        self._counts: dict[str, tuple[float, int]] = {}
        self._reading: set[str] = set()
        self._lock = threading.Lock()

    def admit(self, model: str, *, limit: int | None = None) -> None:
        limit = self.limit if limit is None else limit
        now = time.monotonic()
        with self._lock:
            read_at, _ = self._counts.get(model, (0.0, 0))
            read = now - read_at > self.refresh and model not in self._reading
            if read:
                self._reading.add(model)
        if read:
            try:
                queued = self.count(model)
            finally:
                with self._lock:
                    self._reading.discard(model)
            with self._lock:
                self._counts[model] = (now, queued)
        with self._lock:
            read_at, count = self._counts.get(model, (0.0, 0))
            if count >= limit:
                raise Overloaded(
                    f"model {model!r} has {count} jobs waiting (limit {limit}); retry later", retry_after=5
                )
            self._counts[model] = (read_at, count + 1)


def idempotency_key(req: falcon.Request) -> str | None:
    key = req.get_header("Idempotency-Key")
    if key is None:
        return None
    if not 0 < len(key) <= 255 or not key.isprintable():
        raise InvalidRequest("`Idempotency-Key` must be 1 to 255 printable characters", field="Idempotency-Key")
    return key


def request_hash(request: InferenceRequest, webhook: Any = None) -> str:
    canonical: list[Any] = [request.spec.name, request.task, request.inputs, request.parameters]
    if webhook is not None:  # a request without one hashes as before
        canonical.append([webhook.url, list(webhook.events)])
    return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()


def replay(key: str, digest: str, owner: str = OPEN) -> Job | None:
    """The job an earlier request of this owner with this key created, if any; 422 if that request had
    another body. Keys are scoped per owner: another API key's job is never found, nor blocked."""
    job = Job.get_or_none((Job.owner == owner) & (Job.idempotency_key == key))
    if job is not None and job.request_hash != digest:
        raise InvalidRequest("this `Idempotency-Key` was used with a different request body", field="Idempotency-Key")
    return job
