"""The shapes the API answers with, outside the /v1 routes: the job (`web.views`), a page of jobs
(`web.resources.jobs`), the catalog and its models (`web.resources.models`), readiness, and Falcon's JSON
error (`web.errors`); with the answers every operation shares (503, 401). The vocabularies come from
their one definition: statuses from `db.lifecycle`, delivery statuses from `db.webhooks`, task names
from `catalog`, webhook events from `web.webhooks`."""

from __future__ import annotations

from typing import Any

from catalog import TASKS, Catalog
from db import STATUSES
from db.webhooks import DELIVERY_STATUSES
from web.openapi.parts import error, header, rate_limited, retry_after, schema
from web.webhooks import EVENTS

TIMESTAMP = {"type": "string", "format": "date-time"}
NULLABLE_TIMESTAMP = {"type": ["string", "null"], "format": "date-time"}


def schemas(catalog: Catalog) -> dict[str, Any]:
    return {
        "Job": job(),
        "JobList": {
            "type": "object",
            "properties": {
                "jobs": {"type": "array", "items": schema("Job")},
                "next": {"type": ["string", "null"], "description": "the next page's URL; null on the last page"},
            },
            "required": ["jobs", "next"],
        },
        "JobWebhook": {
            "type": "object",
            "properties": {
                "url": {"type": "string"},
                "events": {"type": "array", "items": {"enum": list(EVENTS)}},
                "deliveries": {"type": "array", "items": schema("WebhookDelivery")},
            },
            "required": ["url", "events"],
        },
        "WebhookDelivery": delivery(),
        "Catalog": {
            "type": "object",
            "properties": {
                "default": {"enum": sorted(catalog.models)},
                "models": {"type": "array", "items": schema("Model")},
            },
            "required": ["default", "models"],
        },
        "Model": model(catalog),
        "Readiness": readiness(),
        "Error": falcon_error(),
    }


def job() -> dict[str, Any]:
    milliseconds = {"type": ["number", "null"], "minimum": 0}
    properties = {
        "id": {"type": "string", "format": "uuid"},
        "status": {"enum": list(STATUSES)},
        "model": {"type": "string"},
        "task": {"enum": sorted(TASKS)},
        "created_at": TIMESTAMP,
        "started_at": NULLABLE_TIMESTAMP,
        "finished_at": NULLABLE_TIMESTAMP,
        "attempts": {"type": "integer", "minimum": 0},
        "timings": {
            "type": "object",
            "properties": {"queue_ms": milliseconds, "inference_ms": milliseconds},
            "required": ["queue_ms", "inference_ms"],
        },
        "output": {"description": "when succeeded: shaped by the task, aligned with the inputs"},
        "error": {"type": "string", "description": "when failed or canceled: why"},
        "inputs": {"description": "with `include=inputs`: the inputs as sent"},
        "parameters": {"type": ["object", "null"], "description": "with `include=inputs`: the parameters as sent"},
        "webhook": schema("JobWebhook"),
        "deleted_at": {**TIMESTAMP, "description": "in listings: when its owner deleted its inputs and output"},
        "purged_at": {**TIMESTAMP, "description": "in listings: when its inputs and output were purged (RESULT_TTL)"},
    }
    required = ["id", "status", "model", "task", "created_at", "started_at", "finished_at", "attempts", "timings"]
    return {"type": "object", "properties": properties, "required": required}


def delivery() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "id": {"type": "string", "description": "the `webhook-id` header of every attempt"},
            "event": {"enum": list(EVENTS)},
            "status": {"enum": list(DELIVERY_STATUSES)},
            "attempts": {"type": "integer", "minimum": 0},
            "last_status_code": {"type": ["integer", "null"]},
            "last_error": {"type": ["string", "null"]},
            "delivered_at": NULLABLE_TIMESTAMP,
        },
        "required": ["id", "event", "status", "attempts"],
    }


def model(catalog: Catalog) -> dict[str, Any]:
    def nullable(kind: str) -> dict[str, Any]:
        return {"type": [kind, "null"]}

    return {
        "type": "object",
        "description": "a catalog entry; once prepared, also what its manifest says (labels, versions, ...)",
        "properties": {
            "name": {"enum": sorted(catalog.models)},
            "task": {"enum": sorted(TASKS)},
            "tasks": {"type": "array", "items": {"enum": sorted(TASKS)}},
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


def readiness() -> dict[str, Any]:
    check = {"enum": ["ok", "unavailable"]}
    return {
        "type": "object",
        "properties": {
            "status": {"enum": ["ready", "unavailable"]},
            "checks": {
                "type": "object",
                "properties": {"database": check, "broker": check},
                "required": ["database", "broker"],
            },
        },
        "required": ["status", "checks"],
    }


def falcon_error() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "Falcon's JSON error body; `field` names the field at fault (422, and 400 for a number "
        "that is not JSON)",
        "properties": {
            "title": {"type": "string", "examples": ["Invalid request", "Gone", "Unknown job"]},
            "description": {"type": "string"},
            "field": {"type": "string", "examples": ["inputs[1]", "model", "parameters.top_k", "Idempotency-Key"]},
        },
        "required": ["title", "description"],
    }


def responses(secured: bool) -> dict[str, Any]:
    """The answers several operations share: 503 always, 401 (in both error shapes) with API keys."""
    shared: dict[str, Any] = {
        "Unavailable": {
            **error("The database or the message broker is unavailable; retry later"),
            "headers": retry_after(),
        },
    }
    if secured:
        challenge = {"WWW-Authenticate": header("`Bearer ...`", {"type": "string", "pattern": "^Bearer"}, True)}
        shared["Unauthorized"] = {**error("No API key, or not a valid one"), "headers": challenge}
        shared["OpenAIUnauthorized"] = {
            **error("No API key, or not a valid one (`authentication_error`)", "OpenAIError"),
            "headers": challenge,
        }
        limited = "A limit of the API key (requests a second, queued jobs) or the model's backlog; retry later"
        shared["TooManyRequests"] = {**error(limited), "headers": rate_limited()}
        shared["OpenAITooManyRequests"] = {**error(limited, "OpenAIError"), "headers": rate_limited()}
    return shared
