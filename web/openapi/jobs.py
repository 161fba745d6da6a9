"""The /inference routes: accept a job, list the caller's jobs, read one back (waiting or not), cancel it,
delete it. The request body is `web.request.RequestSchema`'s, stated by the objects that validate it; the
answers are `web.openapi.answers`'. Links (`$response.body#/id`) say which operations take the id an
accepted job answers with, so stateful tools can follow a job from POST to GET, cancel and DELETE."""

from __future__ import annotations

from typing import Any

from catalog import Catalog
from core.config import Config
from db import STATUSES
from web.openapi.parts import Operations, body, error, header, idempotency_parameter, parameter, ref, retry_after
from web.openapi.parts import schema as named
from web.resources.jobs import INCLUDABLE, MAX_LIMIT
from web.waiting import MAX_WAIT

UNAVAILABLE = ref("responses", "Unavailable")
GONE = error("The job was deleted (DELETE) or purged (after RESULT_TTL): `description` says which and when")
UNKNOWN = error("No such job (or not a job id)")
JOB_ID = parameter("path", "job_id", {"type": "string", "format": "uuid"}, "the job id (any other text: 404)")
LINKS = {
    "GetJob": {"operationId": "getInference", "parameters": {"job_id": "$response.body#/id"}},
    "CancelJob": {"operationId": "cancelInference", "parameters": {"job_id": "$response.body#/id"}},
    "DeleteJob": {"operationId": "deleteInference", "parameters": {"job_id": "$response.body#/id"}},
}


def paths(config: Config, catalog: Catalog, operations: Operations) -> dict[str, Any]:
    return {
        "/inference": {"post": _create(config, operations), "get": _list(catalog, operations)},
        "/inference/{job_id}": {"get": _read(operations), "delete": _delete(operations)},
        "/inference/{job_id}/cancel": {"post": _cancel(operations)},
    }


def _create(config: Config, operations: Operations) -> dict[str, Any]:
    headers = {
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
        "200": {**body("The job, finished within `Prefer: wait`", named("Job")), "headers": headers, "links": LINKS},
        "202": {
            **body("Accepted: the job is recorded and its message sent", named("Job")),
            "headers": headers,
            "links": LINKS,
        },
        "400": error("Malformed JSON (NaN and Infinity included), an empty body or invalid UTF-8"),
        "413": error(f"The body is over {config.max_body_bytes} bytes"),
        "415": error("The body is not application/json"),
        "422": error(
            "A field or header is invalid; `field` names it. `Idempotency-Key` when the key was used before "
            "with another body (by the same API key): send a new key for a new request. `model` with the title "
            "`Model not prepared` when the catalog's model is not prepared here (`inference-api models prepare NAME`)"
        ),
        "429": {**error(f"The model already has {config.max_backlog} jobs waiting"), "headers": retry_after()},
        "503": UNAVAILABLE,
    }
    prefer = parameter(
        "header",
        "Prefer",
        {"type": "string"},
        f"`wait=N` (RFC 7240): answer 200 with the job if it finishes within N s (at most {MAX_WAIT}), else "
        "202; a preference that cannot be read is ignored",
    )
    key = idempotency_parameter(
        "1 to 255 printable characters: a retry with the same key and body returns the same job (200 or 202, "
        "`Idempotent-Replayed: true`); the same key with another body is a 422 on `Idempotency-Key`"
    )
    request_body = {
        "required": True,
        "description": (
            f"A JSON object of at most {config.max_body_bytes} bytes (413 beyond), arrays and objects nested at "
            f"most {config.max_json_depth} levels deep (422 beyond), valid Unicode text without U+0000, finite "
            "numbers (NaN and Infinity are not JSON: 400). Inputs and parameters depend on the model and its task."
        ),
        "content": {"application/json": {"schema": named("InferenceRequest")}},
    }
    return operations(
        "createInference", "Accept an inference job", responses, parameters=[prefer, key], requestBody=request_body
    )


def _list(catalog: Catalog, operations: Operations) -> dict[str, Any]:
    includable = "|".join(INCLUDABLE)
    parameters = [
        parameter("query", "status", {"enum": list(STATUSES)}, "only jobs in this status"),
        parameter("query", "model", {"enum": sorted(catalog.models)}, "only jobs of this model"),
        parameter(
            "query", "limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}, "jobs per page (default 20)"
        ),
        parameter(
            "query",
            "after",
            {"type": "string", "pattern": "^[A-Za-z0-9_-]*$"},
            "the opaque cursor of the previous page's `next` link (any other: 422); empty: the first page",
        ),
        parameter(
            "query",
            "include",
            {"type": "string", "pattern": f"^({includable})(,({includable}))*$"},
            "`inputs`, `output` or both (comma-separated): left out otherwise",
        ),
    ]
    page = {
        **body("A page of jobs, newest first; `next` (and the `Link` header) gives the next one", named("JobList")),
        "headers": {"Link": header("`<url>; rel=next` when there is a next page", {"type": "string"})},
    }
    responses = {"200": page, "422": error("A query parameter is invalid; `field` names it"), "503": UNAVAILABLE}
    return operations("listInference", "The caller's jobs, newest first", responses, parameters=parameters)


def _read(operations: Operations) -> dict[str, Any]:
    wait = parameter(
        "query",
        "wait",
        {"type": "integer", "minimum": 0, "maximum": MAX_WAIT},
        "seconds to wait for the job to finish before answering",
    )
    responses = {
        "200": body("The job", named("Job")),
        "400": error(f"`wait` is not an integer from 0 to {MAX_WAIT}"),
        "404": UNKNOWN,
        "410": GONE,
        "503": UNAVAILABLE,
    }
    return operations("getInference", "Read a job back", responses, parameters=[JOB_ID, wait])


def _cancel(operations: Operations) -> dict[str, Any]:
    responses = {
        "200": body("The job, canceled", named("Job")),
        "404": UNKNOWN,
        "409": error("The job has already finished"),
        "410": GONE,
        "503": UNAVAILABLE,
    }
    return operations("cancelInference", "Cancel a queued or running job", responses, parameters=[JOB_ID])


def _delete(operations: Operations) -> dict[str, Any]:
    responses = {
        "204": {"description": "Deleted; deleting again (or a purged job) changes nothing and is 204 too"},
        "404": UNKNOWN,
        "503": UNAVAILABLE,
    }
    summary = "Delete a job's inputs and output (canceled first if unfinished); the job then answers 410 Gone"
    return operations("deleteInference", summary, responses, parameters=[JOB_ID])
