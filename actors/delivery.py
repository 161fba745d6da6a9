"""Delivering a webhook: the job as its payload, signed per Standard Webhooks, posted within one deadline.

The payload is `{"type": "inference.<status>", "timestamp": ..., "data": <the job as GET shows it>}`,
signed with the `standardwebhooks` package (`webhook-id`, `webhook-timestamp`, `webhook-signature`
headers; the id is the delivery's, the same on every attempt, so receivers can dedupe). A 2xx answer
delivers it; anything else (another status, a redirect: never followed, a timeout, a refused connection)
is retried with backoff until `MAX_ATTEMPTS`, then the delivery is failed. The URL is checked again
before each attempt, so a host that now resolves to a private address is refused, and the attempt connects
to the addresses checked, never to a second answer of the resolver (`actors.pinned`). Each attempt, from
resolving the name to the answer's status line and headers, has one deadline (`WEBHOOK_TIMEOUT`): a
receiver that answers slowly, or trickles its answer, has the connection closed then and the attempt
counts as failed. Response bodies are never read.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import ssl
import time

import dramatiq
from standardwebhooks import Webhook

from actors.metrics import WEBHOOK_ATTEMPTS
from actors.webhooks import MAX_ATTEMPTS
from core.errors import InvalidRequest
from core.owners import webhook_secret
from core.urls import RESOLVE_TIMEOUT, ResolveTimeout, Unresolvable, webhook_destination
from db import Job
from db.views import job_view, timestamp
from db.webhooks import Delivery, attempt, outcome

logger = logging.getLogger(__name__)

TIMEOUT = 5.0  # seconds an attempt may take in all (WEBHOOK_TIMEOUT), well inside the actor's time limit
CONNECT_TIMEOUT = 3.0  # seconds a connection to one address may take, within that
USER_AGENT = "inference-api-webhooks"


class Deliverer:
    def __init__(
        self,
        secret: str,
        *,
        allow_private: bool = False,
        max_attempts: int = MAX_ATTEMPTS,
        timeout: float = TIMEOUT,
        ssl_context: ssl.SSLContext | None = None,
    ):
        self.secret = secret  # WEBHOOK_SECRET; each owner's calls are signed with its own (core.owners)
        self.allow_private = allow_private
        self.max_attempts = max_attempts
        self.timeout = timeout
        self.ssl_context = ssl_context  # None: the system's and certifi's trusted roots (httpcore's default)
        self._pool = None  # httpcore, imported and opened at the first delivery: a worker that never delivers
        # a webhook never loads it

    @property
    def pool(self):
        if self._pool is None:
            import httpcore

            from actors.pinned import PinnedBackend

            self._pool = httpcore.ConnectionPool(
                ssl_context=self.ssl_context,
                max_connections=100,  # as many as httpx's defaults: one per worker thread and more
                max_keepalive_connections=20,
                keepalive_expiry=5.0,
                network_backend=PinnedBackend(),
            )
        return self._pool

    def __call__(self, delivery_id: str) -> None:
        delivery = attempt(delivery_id)
        if delivery is None:
            return  # delivered or given up already (a duplicate message)
        job = Job.get_or_none(Job.id == delivery.job_id)
        if job is None:
            outcome(delivery.id, status=Delivery.FAILED, error="the job no longer exists")
            return
        message_id = f"msg_{delivery.id.hex}"
        now = dt.datetime.now(dt.UTC)
        body = json.dumps(
            {
                "type": f"inference.{delivery.event}",
                "timestamp": timestamp(now.replace(tzinfo=None)),
                "data": job_view(job),
            },
            separators=(",", ":"),
        )
        headers = {
            "Content-Type": "application/json",
            "webhook-id": message_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(webhook_secret(self.secret, delivery.owner)).sign(message_id, now, body),
        }
        try:
            code, error = self._attempt(delivery.url, body, headers)
        except InvalidRequest as e:  # no point retrying a refused address
            outcome(delivery.id, status=Delivery.FAILED, error=e.description)
            WEBHOOK_ATTEMPTS.labels("refused").inc()
            logger.warning("webhook %s of job %s refused: its address is not allowed", message_id, job.id)
            logger.debug("webhook %s of job %s refused: %s", message_id, job.id, e.description)  # names the host
            return
        if code is not None and 200 <= code < 300:
            outcome(delivery.id, status=Delivery.DELIVERED, status_code=code)
            WEBHOOK_ATTEMPTS.labels("delivered").inc()
            return
        if delivery.attempts >= self.max_attempts:
            outcome(delivery.id, status=Delivery.FAILED, status_code=code, error=error)
            WEBHOOK_ATTEMPTS.labels("failed").inc()
            logger.warning(
                "webhook %s of job %s failed after %d attempts (last status %s)", message_id, job.id,
                delivery.attempts, code,
            )  # fmt: skip
            logger.debug("webhook %s of job %s: %s", message_id, job.id, error)  # may name the receiver's host
            return
        outcome(delivery.id, status=Delivery.PENDING, status_code=code, error=error)
        WEBHOOK_ATTEMPTS.labels("retried").inc()
        raise dramatiq.Retry(f"webhook {message_id}: {error}")  # retried with backoff, no traceback logged

    def _attempt(self, url: str, body: str, headers: dict[str, str]) -> tuple[int | None, str | None]:
        """The URL checked, its name resolved once and posted to at the addresses checked, all by one deadline:
        `_post`'s answer, or `InvalidRequest` if the URL is refused."""
        from actors.pinned import Attempt

        deadline = time.monotonic() + self.timeout
        try:
            destination = webhook_destination(
                url, allow_private=self.allow_private, timeout=min(RESOLVE_TIMEOUT, self.timeout)
            )
        except (Unresolvable, ResolveTimeout) as e:  # DNS may be down for a moment: a failed attempt, retried
            return None, e.description
        return self._post(url, body, headers, Attempt(destination.host, destination.addresses, deadline))

    def _post(self, url: str, body: str, headers: dict[str, str], pin) -> tuple[int | None, str | None]:
        """The status code (None: no answer by the deadline) and, unless 2xx, what went wrong. The body is
        never read; redirects are not followed (httpcore never does)."""
        import httpcore

        from actors.pinned import pinned

        left = max(pin.deadline - time.monotonic(), 0.0)  # the wait for a free connection too
        timeouts = {"connect": CONNECT_TIMEOUT, "read": left, "write": left, "pool": left}
        headers = {"User-Agent": USER_AGENT, **headers}
        try:
            with (
                pinned(pin),
                self.pool.stream(
                    "POST", url, headers=headers, content=body.encode(), extensions={"timeout": timeouts}
                ) as response,
            ):
                code = response.status
        except httpcore.TimeoutException as e:
            return None, f"{type(e).__name__}: no complete answer within {self.timeout:g} s"
        except httpcore.NetworkError as e:  # ConnectError, ReadError, WriteError
            return None, f"{type(e).__name__}: {e}"[:500]
        except httpcore.ProtocolError as e:  # not HTTP
            return None, f"{type(e).__name__}: {e}"[:500]
        return code, None if 200 <= code < 300 else f"answered {code}"
