"""Delivering a webhook: the job as its payload, signed per Standard Webhooks, posted with short timeouts.

The payload is `{"type": "inference.<status>", "timestamp": ..., "data": <the job as GET shows it>}`,
signed with the `standardwebhooks` package (`webhook-id`, `webhook-timestamp`, `webhook-signature`
headers; the id is the delivery's, the same on every attempt, so receivers can dedupe). A 2xx answer
delivers it; anything else (another status, a redirect: never followed, a timeout, a refused connection)
is retried with backoff until `MAX_ATTEMPTS`, then the delivery is failed. The URL is checked again
before each attempt, so a host that now resolves to a private address is refused. Response bodies are
never read.
"""

from __future__ import annotations

import datetime as dt
import json
import logging

import dramatiq
from standardwebhooks import Webhook

from actors.metrics import WEBHOOK_ATTEMPTS
from actors.webhooks import MAX_ATTEMPTS
from core.errors import InvalidRequest
from core.owners import webhook_secret
from core.urls import Unresolvable, check_webhook_url
from db import Job
from db.views import job_view, timestamp
from db.webhooks import Delivery, attempt, outcome

logger = logging.getLogger(__name__)

TIMEOUT, CONNECT_TIMEOUT = 5.0, 3.0  # seconds
USER_AGENT = "inference-api-webhooks"


class Deliverer:
    def __init__(self, secret: str, *, allow_private: bool = False, max_attempts: int = MAX_ATTEMPTS):
        self.secret = secret  # WEBHOOK_SECRET; each owner's calls are signed with its own (core.owners)
        self.allow_private = allow_private
        self.max_attempts = max_attempts
        self._client = None  # httpx, imported and opened at the first delivery: a worker that never delivers
        # a webhook never loads it

    @property
    def client(self):
        if self._client is None:
            import httpx

            timeout = httpx.Timeout(TIMEOUT, connect=CONNECT_TIMEOUT)
            self._client = httpx.Client(timeout=timeout, follow_redirects=False, headers={"User-Agent": USER_AGENT})
        return self._client

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
            check_webhook_url(delivery.url, allow_private=self.allow_private)
        except Unresolvable as e:  # DNS may be down for a moment: a failed attempt, retried
            code, error = None, e.description
        except InvalidRequest as e:  # no point retrying a refused address
            outcome(delivery.id, status=Delivery.FAILED, error=e.description)
            WEBHOOK_ATTEMPTS.labels("refused").inc()
            logger.warning("webhook %s of job %s refused: %s", message_id, job.id, e.description)
            return
        else:
            code, error = self._post(delivery.url, body, headers)
        if code is not None and 200 <= code < 300:
            outcome(delivery.id, status=Delivery.DELIVERED, status_code=code)
            WEBHOOK_ATTEMPTS.labels("delivered").inc()
            return
        if delivery.attempts >= self.max_attempts:
            outcome(delivery.id, status=Delivery.FAILED, status_code=code, error=error)
            WEBHOOK_ATTEMPTS.labels("failed").inc()
            logger.warning(
                "webhook %s of job %s failed after %d attempts: %s", message_id, job.id, delivery.attempts, error
            )
            return
        outcome(delivery.id, status=Delivery.PENDING, status_code=code, error=error)
        WEBHOOK_ATTEMPTS.labels("retried").inc()
        raise dramatiq.Retry(f"webhook {message_id}: {error}")  # retried with backoff, no traceback logged

    def _post(self, url: str, body: str, headers: dict[str, str]) -> tuple[int | None, str | None]:
        """The status code (None: no answer) and, unless 2xx, what went wrong. The body is never read."""
        import httpx

        try:
            with self.client.stream("POST", url, content=body.encode(), headers=headers) as response:
                code = response.status_code
        except httpx.HTTPError as e:
            return None, f"{type(e).__name__}: {e}"[:500]
        return code, None if 200 <= code < 300 else f"answered {code}"
