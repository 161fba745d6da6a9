"""OpenAI-compatible embeddings: POST /v1/embeddings, GET /v1/models and GET /v1/models/{model}.

What LangChain, LlamaIndex and the official `openai` client speak, served by the same queue and workers:
each request is one job, accepted like POST /inference (`web.intake`: validation, backlog, idempotency
key, row, confirmed message) and waited on in the call, so it is batched with the rest, kept and
readable at /inference/{id}. Errors here have OpenAI's shape (`web.openai_errors`).
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import struct
from typing import Any

import falcon

from catalog import Catalog, ModelSpec
from catalog.tasks import FEATURE_EXTRACTION
from core.errors import ModelNotServed, Unavailable
from db import Job, Status
from db.fleet import PreparedModel
from db.lifecycle import Failure
from web.admission import idempotency_key
from web.auth import owner_of
from web.embeddings import EmbeddingsSchema, embedding_models, model_not_found
from web.errors import DATABASE_ERRORS
from web.intake import Intake
from web.prepared import PreparedModels
from web.validation import Limits, read_json
from web.waiting import MAX_WAIT, Waiter, answerable

logger = logging.getLogger(__name__)

OWNER = "inference-api"
WAIT = MAX_WAIT  # seconds a request waits for its job, as `Prefer: wait=60` on POST /inference
RETRY_AFTER = 5  # seconds, when the job is not done in time or every waiting slot is taken


class Embeddings:
    def __init__(self, schema: EmbeddingsSchema, limits: Limits, intake: Intake, waiter: Waiter):
        self.schema = schema
        self.limits = limits
        self.intake = intake
        self.waiter = waiter

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        key = idempotency_key(req)
        body = read_json(req, self.limits)
        parsed = self.schema.parse(body)
        with self.waiter.slot(owner_of(req)) as held:
            if not held:  # refused before any job exists: nothing is left behind unread
                raise Unavailable(
                    "every thread that can wait for a result is busy; retry shortly", retry_after=RETRY_AFTER
                )
            job, _ = self.intake.accept(parsed.request, key, owner_of(req), awaited=True)  # the caller's own job
            req.context.job = job  # on the request's log line
            try:
                job = self.waiter.wait_holding(job, WAIT)
            except DATABASE_ERRORS as e:  # the job is accepted and will run: say where it is, as on a timeout
                job = answerable(job, e)
                logger.warning(
                    "job %s accepted; the database failed while it was awaited: %s", job.id, type(e).__name__
                )
                logger.debug("job %s: the database's error: %s", job.id, e)
        resp.location = f"/inference/{job.id}"  # the job, kept: as POST /inference says where it is
        resp.media = embeddings_view(finished(job), parsed.encoding)


class Models:
    """The embedding models a request can use now: prepared ones only (`web.prepared`); the whole catalog,
    prepared or not, is `GET /models`."""

    def __init__(self, catalog: Catalog, prepared: PreparedModels):
        self.catalog = catalog
        self.prepared = prepared

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        rows = PreparedModel.latest()  # one read for the whole list
        usable = self.prepared.names() | set(rows)
        models = [spec for spec in embedding_models(self.catalog) if spec.name in usable]
        resp.media = {"object": "list", "data": [_view(spec, rows) for spec in models]}

    def on_get_model(self, req: falcon.Request, resp: falcon.Response, model: str) -> None:
        spec = self.catalog.models.get(model)
        if spec is None or spec.task != FEATURE_EXTRACTION:
            raise model_not_found(model, self.catalog, status=falcon.HTTPNotFound)
        try:
            self.prepared.check(model)
        except ModelNotServed as e:
            error = falcon.HTTPNotFound(title=e.title, description=e.description, code=e.code)
            error.field = "model"
            raise error from None
        resp.media = _view(spec, PreparedModel.latest())


def _view(spec: ModelSpec, prepared: dict[str, PreparedModel]) -> dict[str, Any]:
    """OpenAI's model object; `created` is when it was last prepared (Unix seconds), 0 when never."""
    row = prepared.get(spec.name)
    created = int(row.prepared_at.replace(tzinfo=dt.UTC).timestamp()) if row is not None else 0
    return {"id": spec.name, "object": "model", "created": created, "owned_by": OWNER}


def finished(job: Job) -> Job:
    """The job if it succeeded; otherwise the error that says what became of it and where to read it."""
    if job.status == Status.SUCCEEDED:
        return job
    where = f"GET /inference/{job.id}"
    if not job.finished:
        error: falcon.HTTPError = falcon.HTTPServiceUnavailable(
            title="Timeout",
            description=f"job {job.id} did not finish within {WAIT} s; it is still {job.status} and will "
            f"complete: read it at {where}",
            retry_after=RETRY_AFTER,
            headers={"Location": f"/inference/{job.id}"},
            code="timeout",
        )
    elif job.status == Status.CANCELED:
        error = falcon.HTTPConflict(
            title="Canceled", description=f"job {job.id} was canceled ({where})", code="canceled"
        )
    elif job.failure in (Failure.RETRIES_EXHAUSTED, Failure.LOST, Failure.NOT_ENQUEUED):  # transient: retry
        error = falcon.HTTPServiceUnavailable(
            title="Job failed",
            description=f"job {job.id} failed: {job.error}",
            retry_after=RETRY_AFTER,
            code=job.failure,
        )
    else:
        error = falcon.HTTPInternalServerError(
            title="Job failed", description=f"job {job.id} failed: {job.error}", code=job.failure or "job_failed"
        )
    raise error


def embeddings_view(job: Job, encoding: str) -> dict[str, Any]:
    outputs = job.output
    tokens = sum(output.get("tokens", 0) for output in outputs)
    return {
        "object": "list",
        "data": [
            {"object": "embedding", "index": index, "embedding": encode(output["embedding"], encoding)}
            for index, output in enumerate(outputs)
        ],
        "model": job.model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


def encode(vector: list[float], encoding: str) -> list[float] | str:
    """`base64`: the vector as little-endian float32 bytes, which is what the `openai` client decodes."""
    if encoding == "base64":
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
    return vector
