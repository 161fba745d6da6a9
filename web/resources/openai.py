"""OpenAI-compatible embeddings: POST /v1/embeddings, GET /v1/models and GET /v1/models/{model}.

What LangChain, LlamaIndex and the official `openai` client speak, served by the same queue and workers:
each request is one job, accepted like POST /inference (`web.intake`: validation, backlog, idempotency
key, row, confirmed message) and waited on in the call, so it is batched with the rest, kept and
readable at /inference/{id}. Errors here have OpenAI's shape (`web.openai_errors`).
"""

from __future__ import annotations

import base64
import datetime as dt
import struct
from typing import Any

import falcon

from catalog import Catalog, ModelSpec
from catalog.tokens import TokenCounter
from core.errors import InvalidRequest, Unavailable
from db import Job, Status
from db.fleet import PreparedModel
from db.lifecycle import Failure
from web.admission import idempotency_key
from web.auth import owner_of
from web.intake import Intake
from web.openai_errors import invalid
from web.request import InferenceRequest, RequestSchema
from web.validation import Limits, read_json
from web.waiting import MAX_WAIT, Waiter

FIELDS = ("model", "input", "encoding_format", "dimensions", "user")
ENCODINGS = ("float", "base64")
TASK = "feature-extraction"
OWNER = "inference-api"
WAIT = MAX_WAIT  # seconds a request waits for its job, as `Prefer: wait=60` on POST /inference
RETRY_AFTER = 5  # seconds, when the job is not done in time or every waiting slot is taken


class Embeddings:
    def __init__(
        self, schema: RequestSchema, limits: Limits, tokens: TokenCounter | None, intake: Intake, waiter: Waiter
    ):
        self.schema = schema
        self.limits = limits
        self.tokens = tokens
        self.intake = intake
        self.waiter = waiter

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        key = idempotency_key(req)
        body = read_json(req, self.limits)
        request, encoding = parse_embeddings(body, self.schema, self.tokens)
        with self.waiter.slot() as held:
            if not held:  # refused before any job exists: nothing is left behind unread
                raise Unavailable(
                    "every thread that can wait for a result is busy; retry shortly", retry_after=RETRY_AFTER
                )
            job, _ = self.intake.accept(request, key, owner_of(req), awaited=True)  # the caller's job (#11)
            req.context.job = job  # on the request's log line
            job = self.waiter.wait_holding(job, WAIT)
        resp.location = f"/inference/{job.id}"  # the job, kept: as POST /inference says where it is
        resp.media = embeddings_view(finished(job), encoding)


class Models:
    def __init__(self, catalog: Catalog):
        self.catalog = catalog

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        prepared = PreparedModel.latest()  # one read for the whole list
        resp.media = {"object": "list", "data": [_view(spec, prepared) for spec in embedding_models(self.catalog)]}

    def on_get_model(self, req: falcon.Request, resp: falcon.Response, model: str) -> None:
        spec = self.catalog.models.get(model)
        if spec is None or spec.task != TASK:
            raise model_not_found(model, self.catalog, status=falcon.HTTPNotFound)
        resp.media = _view(spec, PreparedModel.latest())


def _view(spec: ModelSpec, prepared: dict[str, PreparedModel]) -> dict[str, Any]:
    """OpenAI's model object; `created` is when it was last prepared (Unix seconds), 0 when never."""
    row = prepared.get(spec.name)
    created = int(row.prepared_at.replace(tzinfo=dt.UTC).timestamp()) if row is not None else 0
    return {"id": spec.name, "object": "model", "created": created, "owned_by": OWNER}


def embedding_models(catalog: Catalog) -> list[ModelSpec]:
    """The catalog's models that make embeddings, the default first."""
    return sorted((spec for spec in catalog if spec.task == TASK), key=lambda spec: spec.name != catalog.default)


def parse_embeddings(body: Any, schema: RequestSchema, tokens: TokenCounter | None) -> tuple[InferenceRequest, str]:
    """The job an OpenAI embeddings request asks for, and the encoding of its answer. The texts are
    checked by the request schema of POST /inference, with the same limits."""
    catalog = schema.catalog
    if not isinstance(body, dict):
        raise invalid("the body must be a JSON object", None)
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise invalid(f"unknown field(s): {', '.join(unknown)} (accepted: {', '.join(FIELDS)})", unknown[0])
    spec = _model(body.get("model"), catalog)
    encoding = body.get("encoding_format")
    if encoding is None:
        encoding = "float"
    elif encoding not in ENCODINGS:
        raise invalid(f"`encoding_format` must be 'float' or 'base64', got {encoding!r}", "encoding_format")
    if body.get("user") is not None and not isinstance(body["user"], str):
        raise invalid("`user` must be a string", "user")
    if body.get("dimensions") is not None:
        _check_dimensions(body["dimensions"], spec)
    _refuse_token_ids(body.get("input"))
    try:
        request = schema.parse({"model": spec.name, "inputs": body.get("input")}, tokens)
    except InvalidRequest as e:  # the same checks as POST /inference, named as OpenAI names the field
        field = e.field or "input"
        raise InvalidRequest(
            e.description.replace("`inputs", "`input"),
            field="input" + field.removeprefix("inputs") if field.startswith("inputs") else field,
        ) from None
    return request, encoding


def _model(name: Any, catalog: Catalog) -> ModelSpec:
    if name is not None and (not isinstance(name, str) or not name):
        raise invalid("`model` must be a non-empty string (or omitted for the default model)", "model")
    spec = catalog.get(name)
    if spec is None or spec.task != TASK:
        raise model_not_found(name or catalog.default, catalog)
    return spec


def model_not_found(name: Any, catalog: Catalog, *, status=falcon.HTTPUnprocessableEntity) -> falcon.HTTPError:
    """As POST /inference: an unknown model in a body is a 422 on `model` (404 on a path)."""
    known = ", ".join(spec.name for spec in embedding_models(catalog)) or "none"
    spec = catalog.models.get(name) if isinstance(name, str) else None
    what = f"model {name!r} does {spec.task}, not embeddings" if spec else f"no embedding model {name!r}"
    error = status(
        title="Unknown model", description=f"{what}; available: {known} (see GET /v1/models)", code="model_not_found"
    )
    error.field = "model"
    return error


def _check_dimensions(value: Any, spec: ModelSpec) -> None:
    """Our models have no shorter embeddings (no Matryoshka option): `dimensions` is refused unless it is
    the model's own size, which asks for nothing different."""
    if isinstance(value, float) and value.is_integer():  # 384.0 is an integer too (JSON Schema says so)
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise invalid("`dimensions` must be a positive integer", "dimensions")
    native = _manifest(spec.name).get("dimensions")
    if value == native:
        return
    size = f"makes {native}-dimensional embeddings and " if native else ""
    raise invalid(
        f"model {spec.name!r} {size}has no `dimensions` option (it cannot shorten its embeddings): omit `dimensions`",
        "dimensions",
        code="unsupported_parameter",
    )


def _refuse_token_ids(value: Any) -> None:
    """OpenAI also takes token ids (a list of integers, or a list of such lists); those ids belong to
    OpenAI's tokenizer (tiktoken), not to our models', so they are refused rather than misread."""
    items = value if isinstance(value, list) and value else [""]
    ids = all(isinstance(item, int) and not isinstance(item, bool) for item in items)
    if ids or all(isinstance(item, list) for item in items):
        raise invalid(
            "`input` as token ids is not supported: send the text, a string or a list of strings "
            "(LangChain: OpenAIEmbeddings(check_embedding_ctx_length=False))",
            "input",
            code="unsupported_input",
        )


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


def _manifest(name: str) -> dict[str, Any]:
    """What the latest recorded preparation of a model says (from the database; empty when none)."""
    row = PreparedModel.latest().get(name)
    return row.manifest if row is not None else {}
