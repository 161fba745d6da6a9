"""The routes around the jobs: the catalog, the probes, the metrics, this description and its interactive
reference (`/docs`), and the webhook secret."""

from __future__ import annotations

from typing import Any

from catalog import Catalog
from web.openapi.parts import Operations, body, error, parameter, retry_after
from web.openapi.parts import schema as named
from web.resources.docs import ASSETS


def paths(catalog: Catalog, operations: Operations) -> dict[str, Any]:
    return {**_catalog(catalog, operations), **_probes(operations), **_reference(operations), **_webhooks(operations)}


def _catalog(catalog: Catalog, operations: Operations) -> dict[str, Any]:
    name = parameter("path", "name", {"enum": sorted(catalog.models)}, "a model of the catalog (any other: 404)")
    one = {"200": body("The model", named("Model")), "404": error("No such model in the catalog")}
    return {
        "/models": {
            "get": operations("listModels", "The model catalog", {"200": body("The catalog", named("Catalog"))})
        },
        "/models/{name}": {"get": operations("getModel", "One model of the catalog", one, parameters=[name])},
    }


def _probes(operations: Operations) -> dict[str, Any]:
    alive = {"type": "object", "properties": {"status": {"const": "ok"}}, "required": ["status"]}
    ready = {
        "200": body("Ready", named("Readiness")),
        "503": {**body("Not ready", named("Readiness")), "headers": retry_after()},
    }
    metrics = {"200": body("The metrics", {"type": "string"}, "text/plain")}
    return {
        "/healthz": {
            "get": operations(
                "health",
                "Liveness: the process answers; touches nothing",
                {"200": body("Alive", alive)},
                open_route=True,
            )
        },
        "/readyz": {
            "get": operations("ready", "Readiness: the database and the broker answer", ready, open_route=True)
        },
        "/metrics": {
            "get": operations("metrics", "Prometheus metrics (text exposition format 0.0.4)", metrics, open_route=True)
        },
    }


def _reference(operations: Operations) -> dict[str, Any]:
    document = {"200": body("The OpenAPI document", {"type": "object"})}
    page = {
        "200": body("Swagger UI, loading /openapi.json; no API key needed to read it", {"type": "string"}, "text/html")
    }
    asset = parameter("path", "asset", {"enum": sorted(ASSETS)}, "a file of Swagger UI (any other: 404)")
    media = {media_type: {"schema": {"type": "string"}} for media_type in sorted(set(ASSETS.values()))}
    files = {
        "200": {"description": "The file, cacheable for a day (its ETag is Swagger UI's version)", "content": media},
        "304": {"description": "Not modified (`If-None-Match` names the current version)"},
        "404": error("Not a file of the reference"),
    }
    return {
        "/openapi.json": {"get": operations("openapi", "This description", document, open_route=True)},
        "/docs": {
            "get": operations("docs", "Interactive reference: try every route from the browser", page, open_route=True)
        },
        "/docs/{asset}": {
            "get": operations(
                "docsAsset", "The reference's scripts, styles and icons", files, open_route=True, parameters=[asset]
            )
        },
    }


def _webhooks(operations: Operations) -> dict[str, Any]:
    secret = {
        "type": "object",
        "properties": {"secret": {"type": "string", "pattern": "^whsec_"}},
        "required": ["secret"],
    }
    responses = {
        "200": body("The caller's own secret: one per API key", secret),
        "404": error("Webhooks are not enabled on this server"),
    }
    summary = "The secret the caller's webhooks are signed with (Standard Webhooks), to verify them"
    return {"/webhooks/secret": {"get": operations("getWebhookSecret", summary, responses)}}
