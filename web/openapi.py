"""The OpenAPI 3.1 description of the API, as plain dicts.

Built from what the app enforces: the request's schema comes from the very objects that validate it
(`web.request.RequestSchema`, with the task parameters of `catalog.tasks`), and every other limit it states
(body bytes, nesting depth, backlog, waiting, API keys) from the same `Config`. Only what is enforced is
described: `tests/web/test_openapi_fuzz.py` holds the app to it.
"""

from __future__ import annotations

from typing import Any

import core
from catalog import Catalog
from core.config import Config
from web import openapi_jobs, openapi_v1
from web.openapi_schemas import body, error, header, idempotency_key, ref, retry_after, schemas
from web.request import RequestSchema
from web.waiting import MAX_WAIT

OPEN_PATHS = ("/healthz", "/readyz", "/metrics", "/openapi.json")


def document(config: Config, catalog: Catalog, request: RequestSchema) -> dict[str, Any]:
    paths = {**_inference(config), **_jobs(), **_catalog(catalog), **_probes()}
    openapi_jobs.add_paths(paths, catalog)  # jobs branch (#14): listing, delete, the webhook secret
    secured = bool(config.api_keys)
    for path, item in paths.items():
        for operation in item.values():
            protected = secured and path not in OPEN_PATHS
            operation["security"] = [{"bearer": []}] if protected else []
            if protected:
                operation["responses"]["401"] = ref("responses", "Unauthorized")
            operation["responses"] = dict(sorted(operation["responses"].items()))
    paths.update(openapi_v1.paths(config, catalog))  # the OpenAI-compatible routes, in OpenAI's error shape
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Inference API",
            "version": core.__version__,
            "description": "Asynchronous language-model inference: POST a job, read it back (or wait for it).",
        },
        "paths": paths,
        "components": openapi_jobs.add_schemas(_components(config, catalog, request), config),
    }


def _operation(operation_id: str, summary: str, responses: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"summary": summary, "operationId": operation_id, **more, "responses": responses}


def _inference(config: Config) -> dict[str, Any]:
    job = ref("schemas", "Job")
    accepted_headers = {
        "Location": header("where the job reads back: /inference/{id}", {"type": "string"}, required=True),
        "Preference-Applied": header("`wait=N` when the request waited", {"type": "string"}),
        "Idempotent-Replayed": header("`true` when an earlier request with this key made the job", {"const": "true"}),
        "Inference-Model-Ready": header(
            "on 202: `false` when no live worker has the model loaded now (one may be starting, or load it on "
            "first use: the job waits in the queue)",
            {"enum": ["true", "false"]},
        ),
    }
    responses = {
        "200": {**body("The job, finished within `Prefer: wait`", job), "headers": accepted_headers},
        "202": {**body("Accepted: the job is recorded and its message sent", job), "headers": accepted_headers},
        "400": error("Malformed JSON (NaN and Infinity included), an empty body or invalid UTF-8"),
        "413": error(f"The body is over {config.max_body_bytes} bytes"),
        "415": error("The body is not application/json"),
        "422": error("A field or header is invalid; `field` names it"),
        "429": {**error(f"The model already has {config.max_backlog} jobs waiting"), "headers": retry_after()},
        "503": ref("responses", "Unavailable"),
    }
    headers = [
        _in_header(
            "Prefer",
            {"type": "string"},
            f"`wait=N` (RFC 7240): answer 200 with the job if it finishes within N s (at most {MAX_WAIT}), else "
            "202; a preference that cannot be read is ignored",
        ),
        _in_header(
            "Idempotency-Key",
            idempotency_key(),
            "1 to 255 printable characters: a retry with the same key and body returns the same job; "
            "the same key with another body is a 422",
        ),
    ]
    request_body = {
        "required": True,
        "description": (
            f"A JSON object of at most {config.max_body_bytes} bytes (413 beyond), arrays and objects nested at "
            f"most {config.max_json_depth} levels deep (422 beyond), valid Unicode text without U+0000, finite "
            "numbers (NaN and Infinity are not JSON: 400). Inputs and parameters depend on the model and its task."
        ),
        "content": {"application/json": {"schema": ref("schemas", "InferenceRequest")}},
    }
    post = _operation(
        "createInference", "Accept an inference job", responses, parameters=headers, requestBody=request_body
    )
    return {"/inference": {"post": post}}


def _jobs() -> dict[str, Any]:
    job = body("The job", ref("schemas", "Job"))
    unknown = error("No such job (or not a job id)")
    wait = {
        "name": "wait",
        "in": "query",
        "description": "seconds to wait for the job to finish before answering",
        "schema": {"type": "integer", "minimum": 0, "maximum": MAX_WAIT},
    }
    unavailable = ref("responses", "Unavailable")
    read = {"200": job, "400": error(f"`wait` is not an integer from 0 to {MAX_WAIT}"), "404": unknown}
    cancel = {"200": job, "404": unknown, "409": error("The job has already finished")}
    return {
        "/inference/{job_id}": {
            "get": _operation(
                "getInference", "Read a job back", {**read, "503": unavailable}, parameters=[_job_id(), wait]
            )
        },
        "/inference/{job_id}/cancel": {
            "post": _operation(
                "cancelInference",
                "Cancel a queued or running job",
                {**cancel, "503": unavailable},
                parameters=[_job_id()],
            )
        },
    }


def _catalog(catalog: Catalog) -> dict[str, Any]:
    name = _path("name", {"enum": sorted(catalog.models)}, "a model of the catalog (any other: 404)")
    one = {"200": body("The model", ref("schemas", "Model")), "404": error("No such model in the catalog")}
    return {
        "/models": {
            "get": _operation(
                "listModels", "The model catalog", {"200": body("The catalog", ref("schemas", "Catalog"))}
            )
        },
        "/models/{name}": {"get": _operation("getModel", "One model of the catalog", one, parameters=[name])},
    }


def _probes() -> dict[str, Any]:
    alive = {"type": "object", "properties": {"status": {"const": "ok"}}, "required": ["status"]}
    readiness = ref("schemas", "Readiness")
    ready = {
        "200": body("Ready", readiness),
        "503": {**body("Not ready", readiness), "headers": retry_after()},
    }
    return {
        "/healthz": {
            "get": _operation("health", "Liveness: the process answers; touches nothing", {"200": body("Alive", alive)})
        },
        "/readyz": {"get": _operation("ready", "Readiness: the database and the broker answer", ready)},
        "/metrics": {
            "get": _operation(
                "metrics",
                "Prometheus metrics (text exposition format 0.0.4)",
                {"200": {"description": "The metrics", "content": {"text/plain": {"schema": {"type": "string"}}}}},
            )
        },
        "/openapi.json": {
            "get": _operation("openapi", "This description", {"200": body("The OpenAPI document", {"type": "object"})})
        },
    }


def _components(config: Config, catalog: Catalog, request: RequestSchema) -> dict[str, Any]:
    components: dict[str, Any] = {
        "schemas": {**schemas(catalog, request), **openapi_v1.schemas(config, catalog)},
        "responses": {
            "Unavailable": {
                **error("The database or the message broker is unavailable; retry later"),
                "headers": retry_after(),
            },
        },
    }
    if config.api_keys:
        components["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer", "description": "an API key: `Authorization: Bearer <key>`"}
        }
        components["responses"]["Unauthorized"] = {
            **error("No API key, or not a valid one"),
            "headers": {"WWW-Authenticate": header("`Bearer ...`", {"type": "string", "pattern": "^Bearer"}, True)},
        }
    return components


def _job_id() -> dict[str, Any]:
    return _path("job_id", {"type": "string", "format": "uuid"}, "the job id (any other text: 404)")


def _path(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": description, "schema": schema}


def _in_header(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "header", "description": description, "schema": schema}
