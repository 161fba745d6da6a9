"""POST /inference (accept a job) and GET /inference/{id} (read it back)."""

from __future__ import annotations

import uuid

import falcon

from actors import Actors
from actors.catalog import Catalog
from actors.tokens import TokenCounter
from db import Job, Status
from inference_api.errors import JobNotFound, Unavailable
from web.serialize import job_view
from web.validation import Limits, parse_inference, read_json
from web.waiting import MAX_WAIT, Waiter, preferred_wait


class InferenceCollection:
    def __init__(self, catalog: Catalog, actors: Actors, limits: Limits, tokens: TokenCounter, waiter: Waiter):
        self.catalog = catalog
        self.actors = actors
        self.limits = limits
        self.tokens = tokens
        self.waiter = waiter

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        request = parse_inference(read_json(req, self.limits), self.catalog, self.limits, self.tokens)
        job = Job.create(
            model=request.spec.name, task=request.task, inputs=request.inputs, parameters=request.parameters
        )  # committed (autocommit) before the message exists: a worker always finds the row
        try:
            self.actors.send_inference(job.id)
        except Unavailable:
            job.finish(Status.FAILED, error="not enqueued: the message broker was unavailable", expected=Status.QUEUED)
            raise
        resp.location = f"/inference/{job.id}"
        seconds = preferred_wait(req.get_header("Prefer"))
        if seconds is not None:
            job, waited = self.waiter.wait(job, seconds)
            if waited:
                resp.set_header("Preference-Applied", f"wait={seconds}")
        resp.status = falcon.HTTP_200 if job.finished else falcon.HTTP_202
        resp.media = job_view(job)


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
