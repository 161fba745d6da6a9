"""POST /inference (accept a job), GET /inference/{id} (read it back), DELETE /inference/{id} (drop its
inputs and output) and POST /inference/{id}/cancel. A job belongs to the API key that created it: any
other key gets 404, as if it did not exist."""

from __future__ import annotations

import uuid

import falcon
import peewee

from actors.sending import Sender
from catalog.tokens import TokenCounter
from core.errors import Conflict, JobNotFound
from db import Job
from db.retention import erase
from web.admission import Backlog, idempotency_key, replay, request_hash
from web.auth import owner_of
from web.request import InferenceRequest, RequestSchema
from web.resources.jobs import list_jobs
from web.resources.models import Readiness
from web.serialize import job_view
from web.validation import Limits, read_json
from web.waiting import MAX_WAIT, Waiter, preferred_wait
from web.webhooks import Webhook, WebhookPolicy

MODEL_READY = "Inference-Model-Ready"


class InferenceCollection:
    def __init__(
        self,
        schema: RequestSchema,
        sender: Sender,
        limits: Limits,
        tokens: TokenCounter | None,
        waiter: Waiter,
        backlog: Backlog,
        readiness: Readiness,
        webhooks: WebhookPolicy | None = None,
    ):
        self.schema = schema
        self.sender = sender
        self.limits = limits
        self.tokens = tokens
        self.waiter = waiter
        self.backlog = backlog
        self.readiness = readiness
        self.webhooks = webhooks or WebhookPolicy(enabled=False)

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        key = idempotency_key(req)
        body = read_json(req, self.limits)
        self.webhooks.refuse_if_off(body)
        request = self.schema.parse(body, self.tokens)
        webhook = self.webhooks.parse(body)
        job, replayed = self._accept(request, webhook, key, owner_of(req))
        if replayed:
            resp.set_header("Idempotent-Replayed", "true")
        resp.location = f"/inference/{job.id}"
        seconds = preferred_wait(req.get_header("Prefer"))
        if seconds is not None:
            job, waited = self.waiter.wait(job, seconds)
            if waited:
                resp.set_header("Preference-Applied", f"wait={seconds}")
        resp.status = falcon.HTTP_200 if job.finished else falcon.HTTP_202
        if not job.finished and (ready := self.readiness.ready(job.model)) is not None:
            resp.set_header(MODEL_READY, "true" if ready else "false")  # false: no live worker has it loaded
        resp.media = job_view(job)

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        list_jobs(req, resp, self.schema.catalog, owner_of(req))

    def _accept(
        self, request: InferenceRequest, webhook: Webhook | None, key: str | None, owner: str
    ) -> tuple[Job, bool]:
        """The job for this request and whether it already existed (same owner, Idempotency-Key and body)."""
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
        self.sender.enqueue(job.id)
        return job, False


class InferenceCancel:
    def __init__(self, sender: Sender | None = None):
        self.sender = sender

    def on_post(self, req: falcon.Request, resp: falcon.Response, job_id: str) -> None:
        job = find_job(job_id, owner_of(req))
        if not Job.cancel(job.id):
            raise Conflict(f"job {job.id} has already {job.status}; only a queued or running job can be canceled")
        if self.sender is not None:
            self.sender.deliver_webhooks([job.id])
        resp.media = job_view(Job.get_by_id(job.id))


class InferenceItem:
    def __init__(self, waiter: Waiter, sender: Sender | None = None):
        self.waiter = waiter
        self.sender = sender

    def on_get(self, req: falcon.Request, resp: falcon.Response, job_id: str) -> None:
        job = find_job(job_id, owner_of(req))
        seconds = req.get_param_as_int("wait", min_value=0, max_value=MAX_WAIT)
        if seconds:
            job, _ = self.waiter.wait(job, seconds)
        resp.media = job_view(job)

    def on_delete(self, req: falcon.Request, resp: falcon.Response, job_id: str) -> None:
        """Drop the job's inputs and output (the row stays as a tombstone); an unfinished job is canceled
        first. Deleting again changes nothing and answers 204 as well."""
        job = find_job(job_id, owner_of(req))
        if not job.finished and Job.cancel(job.id) and self.sender is not None:
            self.sender.deliver_webhooks([job.id])
        erase(job.id)
        resp.status = falcon.HTTP_204


def find_job(job_id: str, owner: str) -> Job:
    """The owner's job, else `JobNotFound` (another owner's job is not found either: it says nothing)."""
    try:
        key = uuid.UUID(job_id)
    except ValueError:
        raise JobNotFound(f"{job_id!r} is not a job id (a UUID)") from None
    job = Job.get_or_none((Job.id == key) & (Job.owner == owner))
    if job is None:
        raise JobNotFound(f"no job {job_id}")
    return job
