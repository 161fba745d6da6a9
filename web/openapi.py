"""The OpenAPI 3.1 description of the API, as plain dicts.

Built from the same `Config` and `Catalog` the app enforces and from `actors.tasks.PARAMETERS`, so every
limit it states (inputs per request, characters per input, body bytes, nesting depth, models and their
tasks, parameters and their ranges, waiting, API keys) is the one in force. Only what is enforced is
described: `tests/web/test_openapi_fuzz.py` holds the app to it.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import core
from catalog import Catalog, ModelSpec
from catalog.tasks import PARAMETERS, Param
from core.config import Config
from db import STATUSES
from web import openapi_jobs
from web.waiting import MAX_WAIT

JSON = "application/json"
SIMILARITY = "sentence-similarity"

NO_NUL = "^[^\\u0000]*$"
OPEN_PATHS = ("/healthz", "/readyz", "/openapi.json")


def document(config: Config, catalog: Catalog) -> dict[str, Any]:
    secured = bool(config.api_keys)

    def operation(summary: str, responses: dict[str, Any], *, protected: bool = True, **more: Any) -> dict:
        if protected and secured:
            responses = {**responses, "401": _ref("responses", "Unauthorized")}
        security = [{"bearer": []}] if protected and secured else []
        return {"summary": summary, **more, "security": security, "responses": dict(sorted(responses.items()))}

    job = _body("The job", _ref("schemas", "Job"))
    accepted_headers = {
        "Location": _header("where the job reads back: /inference/{id}", {"type": "string"}, required=True),
        "Preference-Applied": _header("`wait=N` when the request waited", {"type": "string"}),
        "Idempotent-Replayed": _header("`true` when an earlier request with this key made the job", {"const": "true"}),
    }
    paths = {
        "/inference": {
            "post": operation(
                "Accept an inference job",
                {
                    "200": {
                        **_body("The job, finished within `Prefer: wait`", _ref("schemas", "Job")),
                        "headers": accepted_headers,
                    },
                    "202": {
                        **_body("Accepted: the job is recorded and its message sent", _ref("schemas", "Job")),
                        "headers": accepted_headers,
                    },
                    "400": _error("Malformed JSON, an empty body or invalid UTF-8"),
                    "413": _error(f"The body is over {config.max_body_bytes} bytes"),
                    "415": _error("The body is not application/json"),
                    "422": _error("A field or header is invalid; `field` names it"),
                    "429": {
                        **_error(f"The model already has {config.max_backlog} jobs waiting"),
                        "headers": _retry_after(),
                    },
                    "503": _ref("responses", "Unavailable"),
                },
                operationId="createInference",
                parameters=[
                    _in_header(
                        "Prefer",
                        {"type": "string"},
                        f"`wait=N` (RFC 7240): answer 200 with the job if it finishes within N s (at most "
                        f"{MAX_WAIT}), else 202; a preference that cannot be read is ignored",
                    ),
                    _in_header(
                        "Idempotency-Key",
                        {"type": "string", "minLength": 1, "maxLength": 255, "pattern": f"^[^{_unprintable()}]*$"},
                        "1 to 255 printable characters: a retry with the same key and body returns the same job; "
                        "the same key with another body is a 422",
                    ),
                ],
                requestBody={
                    "required": True,
                    "description": (
                        f"A JSON object of at most {config.max_body_bytes} bytes (413 beyond), arrays and objects "
                        f"nested at most {config.max_json_depth} levels deep (422 beyond), valid Unicode text "
                        "without U+0000. Inputs and parameters depend on the model and its task."
                    ),
                    "content": {JSON: {"schema": _ref("schemas", "InferenceRequest")}},
                },
            )
        },
        "/inference/{job_id}": {
            "get": operation(
                "Read a job back",
                {
                    "200": job,
                    "400": _error(f"`wait` is not an integer from 0 to {MAX_WAIT}"),
                    "404": _error("No such job (or not a job id)"),
                    "503": _ref("responses", "Unavailable"),
                },
                operationId="getInference",
                parameters=[
                    _job_id(),
                    {
                        "name": "wait",
                        "in": "query",
                        "description": "seconds to wait for the job to finish before answering",
                        "schema": {"type": "integer", "minimum": 0, "maximum": MAX_WAIT},
                    },
                ],
            )
        },
        "/inference/{job_id}/cancel": {
            "post": operation(
                "Cancel a queued or running job",
                {
                    "200": job,
                    "404": _error("No such job (or not a job id)"),
                    "409": _error("The job has already finished"),
                    "503": _ref("responses", "Unavailable"),
                },
                operationId="cancelInference",
                parameters=[_job_id()],
            )
        },
        "/models": {
            "get": operation(
                "The model catalog",
                {"200": _body("The catalog", _ref("schemas", "Catalog"))},
                operationId="listModels",
            )
        },
        "/models/{name}": {
            "get": operation(
                "One model of the catalog",
                {"200": _body("The model", _ref("schemas", "Model")), "404": _error("No such model in the catalog")},
                operationId="getModel",
                parameters=[_path("name", {"enum": sorted(catalog.models)}, "a model of the catalog (any other: 404)")],
            )
        },
        "/healthz": {
            "get": operation(
                "Liveness: the process answers; touches nothing",
                {
                    "200": _body(
                        "Alive", {"type": "object", "properties": {"status": {"const": "ok"}}, "required": ["status"]}
                    )
                },
                protected=False,
                operationId="health",
            )
        },
        "/readyz": {
            "get": operation(
                "Readiness: the database and the broker answer",
                {
                    "200": _body("Ready", _ref("schemas", "Readiness")),
                    "503": {**_body("Not ready", _ref("schemas", "Readiness")), "headers": _retry_after()},
                },
                protected=False,
                operationId="ready",
            )
        },
        "/openapi.json": {
            "get": operation(
                "This description",
                {"200": _body("The OpenAPI document", {"type": "object"})},
                protected=False,
                operationId="openapi",
            )
        },
    }
    text = _text(config.max_input_chars)
    texts = {"type": "array", "items": text, "minItems": 1, "maxItems": config.max_inputs}
    schemas: dict[str, Any] = {
        "InferenceRequest": {
            "description": "one shape a model and task: the model's name (omitted or null: the default model), "
            "`inputs` or its alias `text` (the old API's field), and the task's `parameters`",
            "anyOf": [_variant(spec, task, catalog) for spec in _default_first(catalog) for task in _tasks(spec)],
        },
        "Text": text,
        "Inputs": {
            "description": "one text, or a list of texts (one job; the output aligns with them)",
            "anyOf": [text, texts],
        },
        "SimilarityInputs": {
            "type": "object",
            "description": "sentence-similarity: how close each sentence is to the source sentence",
            "properties": {"source_sentence": text, "sentences": texts},
            "required": ["source_sentence", "sentences"],
            "additionalProperties": False,
        },
        **{_parameters_name(task): _parameters(task) for task in sorted(PARAMETERS)},
        "Job": _job(),
        "Catalog": {
            "type": "object",
            "properties": {
                "default": {"enum": sorted(catalog.models)},
                "models": {"type": "array", "items": _ref("schemas", "Model")},
            },
            "required": ["default", "models"],
        },
        "Model": _model(catalog),
        "Readiness": {
            "type": "object",
            "properties": {
                "status": {"enum": ["ready", "unavailable"]},
                "checks": {
                    "type": "object",
                    "properties": {"database": {"type": "string"}, "broker": {"type": "string"}},
                    "required": ["database", "broker"],
                },
            },
            "required": ["status", "checks"],
        },
        "Error": {
            "type": "object",
            "description": "Falcon's JSON error body; `field` names the field at fault (422)",
            "properties": {
                "title": {"type": "string"},
                "description": {"type": "string"},
                "field": {"type": "string", "examples": ["inputs[1]", "model", "parameters.top_k", "Idempotency-Key"]},
            },
            "required": ["title", "description"],
        },
    }
    components: dict[str, Any] = {
        "schemas": schemas,
        "responses": {
            "Unavailable": {
                **_error("The database or the message broker is unavailable; retry later"),
                "headers": _retry_after(),
            },
        },
    }
    if secured:
        components["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer", "description": "an API key: `Authorization: Bearer <key>`"}
        }
        components["responses"]["Unauthorized"] = {
            **_error("No API key, or not a valid one"),
            "headers": {"WWW-Authenticate": _header("`Bearer ...`", {"type": "string", "pattern": "^Bearer"}, True)},
        }
    document = {
        "openapi": "3.1.0",
        "info": {
            "title": "Inference API",
            "version": core.__version__,
            "description": "Asynchronous language-model inference: POST a job, read it back (or wait for it).",
        },
        "paths": paths,
        "components": components,
    }
    openapi_jobs.add(document, config, catalog, operation)  # jobs branch (#14): listing, delete, webhooks
    return document


def _default_first(catalog: Catalog) -> list[ModelSpec]:
    return sorted(catalog, key=lambda spec: spec.name != catalog.default)


def _tasks(spec: ModelSpec) -> tuple[str, ...]:
    """The tasks a request can reach on this model (validation: a sentence-similarity model takes only
    similarity inputs; an embedding model takes both)."""
    return (SIMILARITY,) if spec.task == SIMILARITY else spec.tasks


def _variant(spec: ModelSpec, task: str, catalog: Catalog) -> dict[str, Any]:
    default = spec.name == catalog.default
    inputs = _ref("schemas", "SimilarityInputs" if task == SIMILARITY else "Inputs")
    return {
        "title": f"{spec.name}: {task}",
        "type": "object",
        "properties": {
            "model": {"enum": [spec.name, None]} if default else {"const": spec.name},
            "inputs": inputs,
            "text": inputs,
            "parameters": _ref("schemas", _parameters_name(task)),
        },
        "additionalProperties": False,
        "required": [] if default else ["model"],
        "oneOf": [{"required": ["inputs"]}, {"required": ["text"]}],
    }


def _text(max_chars: int) -> dict[str, Any]:
    """A text as validation takes it: not only whitespace (as `str.strip` sees it), no U+0000."""
    return {
        "type": "string",
        "minLength": 1,
        "maxLength": max_chars,
        "pattern": f"^[^\\u0000]*[^\\u0000{_whitespace()}][^\\u0000]*$",
        "description": f"at most {max_chars} characters, not all whitespace",
    }


def _parameters_name(task: str) -> str:
    return "".join(part.title() for part in task.split("-")) + "Parameters"


def _parameters(task: str) -> dict[str, Any]:
    return {
        "type": ["object", "null"],
        "description": f"{task} parameters; omitted or null: the defaults",
        "properties": {name: _parameter(param) for name, param in PARAMETERS[task].items()},
        "additionalProperties": False,
    }


def _parameter(param: Param) -> dict[str, Any]:
    if param.kind is list:
        schema: dict[str, Any] = {"type": "array", "items": {"type": "string", "minLength": 1, "pattern": NO_NUL}}
        if param.max_items is not None:
            schema["maxItems"] = param.max_items
    else:
        schema = {"type": {bool: "boolean", int: "integer", float: "number"}[param.kind]}
        if param.minimum is not None:
            schema["exclusiveMinimum" if param.exclusive_minimum else "minimum"] = param.minimum
        if param.maximum is not None:
            schema["maximum"] = param.maximum
    if param.nullable:
        schema["type"] = [schema["type"], "null"]
    return {**schema, "description": param.description}


def _job() -> dict[str, Any]:
    timestamp = {"type": ["string", "null"], "format": "date-time"}
    milliseconds = {"type": ["number", "null"], "minimum": 0}
    return {
        "type": "object",
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "status": {"enum": list(STATUSES)},
            "model": {"type": "string"},
            "task": {"type": "string"},
            "created_at": {"type": "string", "format": "date-time"},
            "started_at": timestamp,
            "finished_at": timestamp,
            "attempts": {"type": "integer", "minimum": 0},
            "timings": {
                "type": "object",
                "properties": {"queue_ms": milliseconds, "inference_ms": milliseconds},
                "required": ["queue_ms", "inference_ms"],
            },
            "output": {"description": "when succeeded: shaped by the task, aligned with the inputs"},
            "error": {"type": "string", "description": "when failed or canceled: why"},
        },
        "required": ["id", "status", "model", "task", "created_at", "started_at", "finished_at", "attempts", "timings"],
    }


def _model(catalog: Catalog) -> dict[str, Any]:
    def nullable(kind: str) -> dict[str, Any]:
        return {"type": [kind, "null"]}

    return {
        "type": "object",
        "description": "a catalog entry; once prepared, also what its manifest says (labels, versions, ...)",
        "properties": {
            "name": {"enum": sorted(catalog.models)},
            "task": {"type": "string"},
            "tasks": {"type": "array", "items": {"type": "string"}},
            "source": {"type": "string"},
            "default": {"type": "boolean"},
            "prepared": {"type": "boolean"},
            "max_length": nullable("integer"),
            "dimensions": nullable("integer"),
            "onnx_bytes": nullable("integer"),
        },
        "required": ["name", "task", "tasks", "source", "default", "prepared", "max_length"],
    }


def _job_id() -> dict[str, Any]:
    return _path("job_id", {"type": "string", "format": "uuid"}, "the job id (any other text: 404)")


def _path(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": description, "schema": schema}


def _in_header(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "header", "description": description, "schema": schema}


def _header(description: str, schema: dict[str, Any], required: bool = False) -> dict[str, Any]:
    return {"description": description, "required": required, "schema": schema}


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def _body(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _body(description, _ref("schemas", "Error"))


def _retry_after() -> dict[str, Any]:
    return {"Retry-After": _header("seconds", {"type": "integer", "minimum": 0}, required=True)}


@cache
def _whitespace() -> str:
    """Every character `str.isspace` (so `str.strip`) counts as whitespace, as a regex class body: the same
    set in any regex dialect, where `\\s` differs (ECMA-262 adds U+FEFF, Python adds U+001C to U+001F)."""
    return _char_class(i for i in range(0x110000) if chr(i).isspace())


def _unprintable() -> str:
    """The header characters (Latin-1, as WSGI reads them) that `str.isprintable` refuses."""
    return _char_class(i for i in range(256) if not chr(i).isprintable())


def _char_class(code_points) -> str:
    """Code points as `\\uXXXX` escapes and `\\uXXXX-\\uYYYY` ranges, for inside `[...]`."""
    ranges: list[list[int]] = []
    for point in code_points:
        if ranges and point == ranges[-1][1] + 1:
            ranges[-1][1] = point
        else:
            ranges.append([point, point])
    return "".join(f"\\u{a:04x}" if a == b else f"\\u{a:04x}-\\u{b:04x}" for a, b in ranges)
