"""POST /inference (accept a job) and GET /inference/{id} (read it back)."""

from __future__ import annotations

import uuid

import falcon
import peewee

from actors.sending import Sender
from catalog.tokens import TokenCounter
from core.errors import Conflict, JobNotFound
from db import Job
from web.admission import Backlog, idempotency_key, replay, request_hash
from web.request import InferenceRequest, RequestSchema
from web.resources.models import Readiness
from web.serialize import job_view
from web.validation import Limits, read_json
from web.waiting import MAX_WAIT, Waiter, preferred_wait

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
    ):
        self.schema = schema
        self.sender = sender
        self.limits = limits
        self.tokens = tokens
        self.waiter = waiter
        self.backlog = backlog
        self.readiness = readiness

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        key = idempotency_key(req)
        request = self.schema.parse(read_json(req, self.limits), self.tokens)
        job, replayed = self._accept(request, key)
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

    def _accept(self, request: InferenceRequest, key: str | None) -> tuple[Job, bool]:
        """The job for this request and whether it already existed (same Idempotency-Key and body)."""
        digest = request_hash(request) if key else None
        if key and (existing := replay(key, digest)) is not None:
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
            )  # committed (autocommit) before the message exists: a worker always finds the row
        except peewee.IntegrityError:  # the same key in a concurrent request: that one created it
            return replay(key, digest), True
        self.sender.enqueue(job.id)
        return job, False


class InferenceCancel:
    def on_post(self, req: falcon.Request, resp: falcon.Response, job_id: str) -> None:
        job = find_job(job_id)
        if not Job.cancel(job.id):
            raise Conflict(f"job {job.id} has already {job.status}; only a queued or running job can be canceled")
        resp.media = job_view(Job.get_by_id(job.id))


class InferenceItem:
    def __init__(self, waiter: Waiter):
        self.waiter = waiter

    def on_get(self, req: falcon.Request, resp: falcon.Response, job_id: str) -> None:
        job = find_job(job_id)
        seconds = req.get_param_as_int("wait", min_value=0, max_value=MAX_WAIT)
        if seconds:
            job, _ = self.waiter.wait(job, seconds)
        resp.media = job_view(job)


def find_job(job_id: str) -> Job:
    try:
        key = uuid.UUID(job_id)
    except ValueError:
        raise JobNotFound(f"{job_id!r} is not a job id (a UUID)") from None
    job = Job.get_or_none(Job.id == key)
    if job is None:
        raise JobNotFound(f"no job {job_id}")
    return job
