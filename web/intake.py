"""Accepting a validated request as a job: the one path every route that creates jobs takes.

POST /inference and POST /v1/embeddings both go through `Intake.accept`, so the backlog limit (429),
idempotency keys, the row committed before its message and the broker's confirmation (503 otherwise)
hold for both in the same way.
"""

from __future__ import annotations

import logging
import time

import peewee

from actors.sending import Sender
from core.owners import OPEN
from db import Job
from web.admission import Backlog, replay, request_hash
from web.metrics import ACCEPTED, PUBLISH_SECONDS
from web.request import InferenceRequest
from web.webhooks import Webhook

logger = logging.getLogger(__name__)


class Intake:
    def __init__(self, sender: Sender, backlog: Backlog):
        self.sender = sender
        self.backlog = backlog

    def accept(
        self, request: InferenceRequest, key: str | None, owner: str = OPEN, webhook: Webhook | None = None
    ) -> tuple[Job, bool]:
        """The job for this request and whether it already existed (same owner, Idempotency-Key and body).
        The job belongs to `owner` (the caller's API key id) and is delivered to `webhook` when it finishes."""
        digest = request_hash(request, webhook) if key else None
        if key and (existing := replay(key, digest, owner)) is not None:
            if existing.never_enqueued:  # its first send failed: send it now
                self.sender.resend(existing)
                existing = Job.get_by_id(existing.id)
            return existing, True
        self.backlog.admit(request.spec.name)
        try:
            job = Job.create(
                model=request.spec.name,
                task=request.task,
                inputs=request.inputs,
                parameters=request.parameters,
                idempotency_key=key,
                request_hash=digest,
                owner=owner,
                webhook=webhook.url if webhook else None,
                webhook_events=",".join(webhook.events) if webhook else None,
            )  # committed (autocommit) before the message exists: a worker always finds the row
        except peewee.IntegrityError:  # the same key in a concurrent request: that one created it
            return replay(key, digest, owner), True
        started = time.perf_counter()
        self.sender.enqueue(job.id)
        PUBLISH_SECONDS.observe(time.perf_counter() - started)
        ACCEPTED.labels(job.model, job.task).inc()
        logger.info("job %s accepted", job.id, extra={"job_id": str(job.id), "model": job.model, "task": job.task})
        return job, False
