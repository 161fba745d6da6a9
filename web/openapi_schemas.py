"""The schemas of what the API answers (jobs, the catalog, readiness, errors), for `/openapi.json`.

What it accepts is described by `web.request.RequestSchema`, from the objects that validate it; these are
the shapes `web.serialize`, the model resources and the error serializer write, checked against the app by
`tests/web/test_openapi_fuzz.py` (`response_schema_conformance`).
"""

from __future__ import annotations

from typing import Any

from catalog import Catalog
from core.schema import char_class
from db import STATUSES
from web.request import RequestSchema

JSON = "application/json"


def ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def body(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def error(description: str) -> dict[str, Any]:
    return body(description, ref("schemas", "Error"))


def header(description: str, schema: dict[str, Any], required: bool = False) -> dict[str, Any]:
    return {"description": description, "required": required, "schema": schema}


def idempotency_key() -> dict[str, Any]:
    """The `Idempotency-Key` header as `web.admission` takes it: 1 to 255 characters `str.isprintable` takes
    (of Latin-1, as WSGI reads headers)."""
    unprintable = char_class(i for i in range(256) if not chr(i).isprintable())
    return {"type": "string", "minLength": 1, "maxLength": 255, "pattern": f"^[^{unprintable}]*$"}


def retry_after() -> dict[str, Any]:
    return {"Retry-After": header("seconds", {"type": "integer", "minimum": 0}, required=True)}


def schemas(catalog: Catalog, request: RequestSchema) -> dict[str, Any]:
    """Every component schema: the request's (from its schema objects) and the answers'."""
    return {
        **request.json_schemas(),
        "Job": _job(),
        "Catalog": {
            "type": "object",
            "properties": {
                "default": {"enum": sorted(catalog.models)},
                "models": {"type": "array", "items": ref("schemas", "Model")},
            },
            "required": ["default", "models"],
        },
        "Model": _model(catalog),
        "Readiness": _readiness(),
        "Error": _error(),
    }


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
            "ready": {"type": "boolean", "description": "a live worker has it loaded now (from the database)"},
            "workers": {"type": "integer", "minimum": 0, "description": "live worker processes with it loaded"},
            "max_length": nullable("integer"),
            "dimensions": nullable("integer"),
            "onnx_bytes": nullable("integer"),
        },
        "required": ["name", "task", "tasks", "source", "default", "prepared", "ready", "workers", "max_length"],
    }


def _readiness() -> dict[str, Any]:
    return {
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
    }


def _error() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "Falcon's JSON error body; `field` names the field at fault (422, and 400 for a number "
        "that is not JSON)",
        "properties": {
            "title": {"type": "string"},
            "description": {"type": "string"},
            "field": {"type": "string", "examples": ["inputs[1]", "model", "parameters.top_k", "Idempotency-Key"]},
        },
        "required": ["title", "description"],
    }
