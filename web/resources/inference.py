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


class InferenceCollection:
    def __init__(self, catalog: Catalog, actors: Actors, limits: Limits, tokens: TokenCounter):
        self.catalog = catalog
        self.actors = actors
        self.limits = limits
        self.tokens = tokens

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
        resp.status = falcon.HTTP_202
        resp.location = f"/inference/{job.id}"
        resp.media = job_view(job)


class InferenceItem:
    def on_get(self, req: falcon.Request, resp: falcon.Response, job_id: str) -> None:
        resp.media = job_view(find_job(job_id))


def find_job(job_id: str) -> Job:
    try:
        key = uuid.UUID(job_id)
    except ValueError:
        raise JobNotFound(f"{job_id!r} is not a job id (a UUID)") from None
    job = Job.get_or_none(Job.id == key)
    if job is None:
        raise JobNotFound(f"no job {job_id}")
    return job
