"""POST /inference (accept a job), GET /inference/{id} (read it back), DELETE /inference/{id} (drop its
inputs and output) and POST /inference/{id}/cancel. A job belongs to the API key that created it: any
other key gets 404, as if it did not exist. A deleted or purged job is 410 Gone to GET and cancel; DELETE
stays idempotent (204 again), so a client may retry it safely (docs/api.md#jobs)."""

from __future__ import annotations

import logging
import uuid

import falcon

from actors.sending import Sender
from catalog.tokens import TokenCounter
from core.errors import Conflict, JobNotFound
from db import Job
from db.retention import erase
from db.views import job_view
from web.admission import idempotency_key
from web.auth import owner_of
from web.errors import DATABASE_ERRORS, JobGone
from web.intake import Intake
from web.request import RequestSchema
from web.resources.jobs import list_jobs
from web.resources.models import Readiness
from web.validation import Limits, read_json
from web.views import full_view, gone
from web.waiting import MAX_WAIT, Waiter, answerable, preferred_wait
from web.webhooks import WebhookPolicy

MODEL_READY = "Inference-Model-Ready"

logger = logging.getLogger(__name__)


class InferenceCollection:
    def __init__(
        self,
        schema: RequestSchema,
        limits: Limits,
        tokens: TokenCounter | None,
        intake: Intake,
        waiter: Waiter,
        readiness: Readiness,
        webhooks: WebhookPolicy | None = None,
    ):
        self.schema = schema
        self.limits = limits
        self.tokens = tokens
        self.intake = intake
        self.waiter = waiter
        self.readiness = readiness
        self.webhooks = webhooks or WebhookPolicy(enabled=False)

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        key = idempotency_key(req)
        body = read_json(req, self.limits)
        self.webhooks.refuse_if_off(body)
        request = self.schema.parse(body, self.tokens)
        seconds = preferred_wait(req.get_header("Prefer"))
        webhook = self.webhooks.parse(body)
        job, replayed = self.intake.accept(request, key, owner_of(req), webhook, awaited=bool(seconds))
        req.context.job = job  # on the request's log line
        if replayed:
            resp.set_header("Idempotent-Replayed", "true")
        try:
            self._answer(resp, job, seconds, owner_of(req))
        except DATABASE_ERRORS as e:  # the job is committed and sent: it will run, so a 503 only if not on disk
            job = answerable(job, e)
            logger.warning("job %s accepted; the database failed while answering: %s", job.id, type(e).__name__)
            logger.debug("job %s: the database's error: %s", job.id, e)
            resp.status = falcon.HTTP_202
            resp.media = job_view(job)
        resp.location = f"/inference/{job.id}"

    def _answer(self, resp: falcon.Response, job: Job, seconds: int | None, owner: str) -> None:
        """The accepted job, waited for when the request prefers (200 finished, else 202)."""
        if seconds is not None:
            job, waited = self.waiter.wait(job, seconds, owner)
            if waited:
                resp.set_header("Preference-Applied", f"wait={seconds}")
        resp.status = falcon.HTTP_200 if job.finished else falcon.HTTP_202
        if not job.finished and (ready := self.readiness.ready(job.model)) is not None:
            resp.set_header(MODEL_READY, "true" if ready else "false")  # false: no live worker has it loaded
        resp.media = full_view(job)

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        list_jobs(req, resp, self.schema.catalog, owner_of(req))


class InferenceCancel:
    def __init__(self, sender: Sender | None = None):
        self.sender = sender

    def on_post(self, req: falcon.Request, resp: falcon.Response, job_id: str) -> None:
        job = live_job(job_id, owner_of(req))
        if not Job.cancel(job.id):
            raise Conflict(f"job {job.id} has already {job.status}; only a queued or running job can be canceled")
        if self.sender is not None:
            self.sender.deliver_webhooks([job.id])
        resp.media = full_view(Job.find(job.id))


class InferenceItem:
    def __init__(self, waiter: Waiter, sender: Sender | None = None):
        self.waiter = waiter
        self.sender = sender

    def on_get(self, req: falcon.Request, resp: falcon.Response, job_id: str) -> None:
        job = live_job(job_id, owner_of(req))
        seconds = req.get_param_as_int("wait", min_value=0, max_value=MAX_WAIT)
        if seconds:
            job, _ = self.waiter.wait(job, seconds, owner_of(req))
        resp.media = full_view(job)

    def on_delete(self, req: falcon.Request, resp: falcon.Response, job_id: str) -> None:
        """Drop the job's inputs and output (the row stays, to answer 410 Gone); an unfinished job is
        canceled first. Deleting again, or deleting a purged job, changes nothing and answers 204 as well."""
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
    job = Job.find(key, owner)
    if job is None:
        raise JobNotFound(f"no job {job_id}")
    return job


def live_job(job_id: str, owner: str) -> Job:
    """The owner's job as `find_job` finds it, or `JobGone` when its inputs and output are deleted or purged."""
    job = find_job(job_id, owner)
    reason = gone(job)
    if reason is not None:
        raise JobGone(reason)
    return job
