"""POST /inference (accept a job) and GET /inference/{id} (read it back)."""

from __future__ import annotations

import uuid

import falcon

from catalog.tokens import TokenCounter
from core.errors import Conflict, JobNotFound
from db import Job
from web.admission import idempotency_key
from web.intake import Intake
from web.request import RequestSchema
from web.resources.models import Readiness
from web.serialize import job_view
from web.validation import Limits, read_json
from web.waiting import MAX_WAIT, Waiter, preferred_wait

MODEL_READY = "Inference-Model-Ready"


class InferenceCollection:
    def __init__(
        self,
        schema: RequestSchema,
        limits: Limits,
        tokens: TokenCounter | None,
        intake: Intake,
        waiter: Waiter,
        readiness: Readiness,
    ):
        self.schema = schema
        self.limits = limits
        self.tokens = tokens
        self.intake = intake
        self.waiter = waiter
        self.readiness = readiness

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        key = idempotency_key(req)
        request = self.schema.parse(read_json(req, self.limits), self.tokens)
        job, replayed = self.intake.accept(request, key)
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
