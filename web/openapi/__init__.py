"""`/openapi.json`: the OpenAPI 3.1 description of the API, written by this package alone.

Built from what the app enforces: the request bodies come from the very objects that validate them
(`web.request.RequestSchema` for POST /inference, `web.embeddings.EmbeddingsSchema` for POST
/v1/embeddings), every limit it states from the same `Config`, and each part of the document is written
whole by one module (`jobs`, `openai`, `service`, with the answers' shapes in `answers`): none changes
another's. `tests/web/test_openapi_contract.py` holds the app to it, route by route and across routes.
"""

from __future__ import annotations

from typing import Any

import core
from catalog import Catalog
from core.config import Config
from web.auth import OPEN_PATHS
from web.embeddings import EmbeddingsSchema
from web.openapi import answers, bulk, jobs, openai, service
from web.openapi.parts import Operations
from web.request import RequestSchema

__all__ = ["OPEN_PATHS", "document"]


def document(config: Config, catalog: Catalog, request: RequestSchema, embeddings: EmbeddingsSchema) -> dict[str, Any]:
    operations = Operations(secured=bool(config.api_keys))
    paths = {
        **jobs.paths(config, catalog, operations),
        **service.paths(catalog, operations),
        **openai.paths(config, embeddings, operations),
        **bulk.paths(config, operations),
    }
    components: dict[str, Any] = {
        "schemas": {**request.json_schemas(), **answers.schemas(catalog), **openai.schemas(embeddings)},
        "responses": answers.responses(operations.secured),
    }
    components["schemas"].update(bulk.schemas())
    if operations.secured:
        components["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer", "description": "an API key: `Authorization: Bearer <key>`"}
        }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Inference API",
            "version": core.__version__,
            "description": "Asynchronous language-model inference: POST a job, read it back (or wait for it). "
            "Try it at /docs.",
        },
        "paths": paths,
        "components": components,
    }
