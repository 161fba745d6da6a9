"""The OpenAPI parts of listing, deleting and webhooks (issue #14), added to the document `web.openapi`
builds: the paths before it applies security to every operation, the schemas after. The request's
`webhook` fields come from `web.webhooks.schema_fields`, through the request's own schema objects."""

from __future__ import annotations

from typing import Any

from core.config import Config
from db import STATUSES
from web.resources.jobs import INCLUDABLE, MAX_LIMIT
from web.webhooks import EVENTS


def add_paths(paths: dict[str, Any], catalog) -> None:
    """GET /inference, DELETE /inference/{job_id} and GET /webhooks/secret (security is added by the caller)."""
    unavailable = {"$ref": "#/components/responses/Unavailable"}
    paths["/inference"]["get"] = {
        "summary": "The caller's jobs, newest first",
        "operationId": "listInference",
        "parameters": [
            _query("status", {"enum": list(STATUSES)}, "only jobs in this status"),
            _query("model", {"enum": sorted(catalog.models)}, "only jobs of this model"),
            _query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}, "jobs per page (default 20)"),
            _query("after", {"type": "string"}, "the cursor of the previous page's `next` link"),
            _query(
                "include",
                {"type": "string", "pattern": f"^({'|'.join(INCLUDABLE)})(,({'|'.join(INCLUDABLE)}))*$"},
                "`inputs`, `output` or both (comma-separated): left out otherwise",
            ),
        ],
        "responses": {
            "200": {
                "description": "A page of jobs; `next` (and the `Link` header) gives the next one",
                "content": {"application/json": {"schema": _ref("JobList")}},
                "headers": {
                    "Link": {"description": "`<url>; rel=next` when there is a next page", "schema": {"type": "string"}}
                },
            },
            "422": _error("A query parameter is invalid; `field` names it"),
            "503": unavailable,
        },
    }
    item = paths["/inference/{job_id}"]
    item["delete"] = {
        "summary": "Delete a job's inputs and output (canceled first if unfinished); the job stays as a tombstone",
        "operationId": "deleteInference",
        "parameters": [item["get"]["parameters"][0]],
        "responses": {
            "204": {"description": "Deleted (again: still 204)"},
            "404": _error("No such job (or not a job id)"),
            "503": unavailable,
        },
    }
    secret = {
        "type": "object",
        "properties": {"secret": {"type": "string", "pattern": "^whsec_"}},
        "required": ["secret"],
    }
    paths["/webhooks/secret"] = {
        "get": {
            "summary": "The secret the caller's webhooks are signed with (Standard Webhooks), to verify them",
            "operationId": "getWebhookSecret",
            "responses": {
                "200": {
                    "description": "The caller's own secret: one per API key",
                    "content": {"application/json": {"schema": secret}},
                },
                "404": _error("Webhooks are not enabled on this server"),
            },
        }
    }


def add_schemas(components: dict[str, Any], config: Config) -> dict[str, Any]:
    """The job's tombstone and webhook fields, the job list and the webhook deliveries."""
    schemas = components["schemas"]
    job = schemas["Job"]["properties"]
    timestamp = {"type": "string", "format": "date-time"}
    job["deleted_at"] = {**timestamp, "description": "when the client deleted its inputs and output"}
    job["purged_at"] = {**timestamp, "description": "when its inputs and output were purged (RESULT_TTL)"}
    job["inputs"] = {"description": "with `include=inputs`: the inputs as sent"}
    job["parameters"] = {"type": "object", "description": "with `include=inputs`: the parameters as sent"}
    job["webhook"] = _ref("JobWebhook")
    schemas["JobList"] = {
        "type": "object",
        "properties": {"jobs": {"type": "array", "items": _ref("Job")}, "next": {"type": ["string", "null"]}},
        "required": ["jobs", "next"],
    }
    schemas["JobWebhook"] = {
        "type": "object",
        "properties": {
            "url": {"type": "string"},
            "events": {"type": "array", "items": {"enum": list(EVENTS)}},
            "deliveries": {"type": "array", "items": _ref("WebhookDelivery")},
        },
        "required": ["url", "events"],
    }
    schemas["WebhookDelivery"] = {
        "type": "object",
        "properties": {
            "id": {"type": "string", "description": "the `webhook-id` header of every attempt"},
            "event": {"enum": list(EVENTS)},
            "status": {"enum": ["pending", "delivered", "failed"]},
            "attempts": {"type": "integer", "minimum": 0},
            "last_status_code": {"type": ["integer", "null"]},
            "last_error": {"type": ["string", "null"]},
            "delivered_at": {"type": ["string", "null"], "format": "date-time"},
        },
        "required": ["id", "event", "status", "attempts"],
    }
    if config.webhook_secret:  # the fields are in the request's variants (web.webhooks.schema_fields)
        for variant in schemas["InferenceRequest"]["anyOf"]:
            variant["dependentRequired"] = {"webhook_events": ["webhook"]}
    return components


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref("Error")}}}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "description": description, "schema": schema}
