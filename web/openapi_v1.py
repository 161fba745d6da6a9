"""The OpenAI-compatible routes' part of /openapi.json: their paths and schemas, merged into the document
by `web.openapi.document`.

Self-contained on purpose: it needs only the configuration, the catalog and the document's `Text` schema
(a text as validation takes it), which it references. Errors here have OpenAI's shape (`OpenAIError`).
"""

from __future__ import annotations

from typing import Any

from core.config import Config
from web.openapi_schemas import body, header, idempotency_key, ref
from web.resources.openai import ENCODINGS, RETRY_AFTER, WAIT, embedding_models


def paths(config: Config, catalog) -> dict[str, Any]:
    secured = bool(config.api_keys)
    names = [spec.name for spec in embedding_models(catalog)]
    return {
        "/v1/embeddings": {"post": _embeddings(config, secured)},
        "/v1/models": {
            "get": _operation(
                secured,
                "OpenAI-compatible list of the embedding models",
                "listEmbeddingModels",
                {"200": body("The models", ref("schemas", "ModelList"))},
            )
        },
        "/v1/models/{model}": {
            "get": _operation(
                secured,
                "One embedding model",
                "getEmbeddingModel",
                {"200": body("The model", ref("schemas", "OpenAIModel")), "404": _error("Not an embedding model here")},
                parameters=[
                    {
                        "name": "model",
                        "in": "path",
                        "required": True,
                        "description": "an embedding model (any other: 404)",
                        "schema": {"enum": names},
                    }
                ],
            )
        },
    }


def _operation(secured: bool, summary: str, operation_id: str, responses: dict[str, Any], **more: Any) -> dict:
    if secured:
        unauthorized = _error("No API key, or not a valid one (`authentication_error`)")
        responses["401"] = {**unauthorized, "headers": {"WWW-Authenticate": header("`Bearer ...`", {}, True)}}
    security = [{"bearer": []}] if secured else []
    return {"summary": summary, "operationId": operation_id, **more, "security": security, "responses": responses}


def _embeddings(config: Config, secured: bool) -> dict[str, Any]:
    retry = {"Retry-After": header("seconds", {"type": "integer", "minimum": 0}, True)}
    responses = {
        "200": {
            **body("The embeddings, in the order of the inputs", ref("schemas", "EmbeddingsResponse")),
            "headers": {"Location": header("the job: /inference/{id}", {"type": "string"}, True)},
        },
        "400": _error("Malformed JSON, an empty body or invalid UTF-8"),
        "409": _error("The job was canceled meanwhile (POST /inference/{id}/cancel)"),
        "413": _error(f"The body is over {config.max_body_bytes} bytes"),
        "415": _error("The body is not application/json"),
        "422": _error("A field is invalid; `param` names it (`model_not_found`: not an embedding model)"),
        "429": {**_error(f"The model already has {config.max_backlog} jobs waiting"), "headers": retry},
        "500": _error("The job failed: the message says why"),
        "503": {
            **_error(
                f"The database or the broker is unavailable, every waiting thread is busy, or the job "
                f"did not finish within {WAIT} s (`timeout`: it still completes, at /inference/{{id}})"
            ),
            "headers": retry,
        },
    }
    more = {
        "parameters": [
            {
                "name": "Idempotency-Key",
                "in": "header",
                "description": "as on POST /inference: a retry with the same key and body returns the same job",
                "schema": idempotency_key(),
            }
        ],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": ref("schemas", "EmbeddingsRequest")}},
            "description": f"At most {config.max_body_bytes} bytes; retried after {RETRY_AFTER} s on 503",
        },
    }
    summary = "OpenAI-compatible embeddings: one job, waited on in the call"
    return _operation(secured, summary, "createEmbeddings", responses, **more)


def schemas(config: Config, catalog) -> dict[str, Any]:
    names = [spec.name for spec in embedding_models(catalog)]
    return {
        "EmbeddingsRequest": _request(config, names),
        "EmbeddingsResponse": _response(),
        "ModelList": {
            "type": "object",
            "properties": {
                "object": {"const": "list"},
                "data": {"type": "array", "items": ref("schemas", "OpenAIModel")},
            },
            "required": ["object", "data"],
        },
        "OpenAIModel": {
            "type": "object",
            "properties": {
                "id": {"enum": names},
                "object": {"const": "model"},
                "created": {"type": "integer", "description": "when it was last prepared (Unix s); 0: never"},
                "owned_by": {"type": "string"},
            },
            "required": ["id", "object", "created", "owned_by"],
        },
        "OpenAIError": _openai_error(),
    }


def _request(config: Config, names: list[str]) -> dict[str, Any]:
    text = ref("schemas", "Text")
    return {
        "type": "object",
        "description": "OpenAI's embeddings request; `input` as token ids is refused (send text)",
        "properties": {
            "model": {"enum": [*names, None], "description": "an embedding model; omitted or null: the default"},
            "input": {"anyOf": [text, {"type": "array", "items": text, "minItems": 1, "maxItems": config.max_inputs}]},
            "encoding_format": {"enum": [*ENCODINGS, None], "description": "default float"},
            "dimensions": {
                "type": ["integer", "null"],
                "minimum": 1,
                "description": "the models here have no shorter embeddings: only their own size is accepted",
            },
            "user": {"type": ["string", "null"], "pattern": "^[^\\u0000]*$", "description": "accepted, ignored"},
        },
        "required": ["input"],
        "additionalProperties": False,
    }


def _response() -> dict[str, Any]:
    embedding = {
        "type": "object",
        "properties": {
            "object": {"const": "embedding"},
            "index": {"type": "integer", "minimum": 0},
            "embedding": {
                "description": "floats, or base64 of little-endian float32 (`encoding_format`)",
                "anyOf": [{"type": "array", "items": {"type": "number"}}, {"type": "string"}],
            },
        },
        "required": ["object", "index", "embedding"],
    }
    tokens = {"type": "integer", "minimum": 0}
    return {
        "type": "object",
        "properties": {
            "object": {"const": "list"},
            "data": {"type": "array", "items": embedding},
            "model": {"type": "string"},
            "usage": {
                "type": "object",
                "description": "tokens the model read, special tokens included, after truncation",
                "properties": {"prompt_tokens": tokens, "total_tokens": tokens},
                "required": ["prompt_tokens", "total_tokens"],
            },
        },
        "required": ["object", "data", "model", "usage"],
    }


def _openai_error() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "OpenAI's error shape, on every /v1 route",
        "properties": {
            "error": {
                "type": "object",
                "properties": {
                    "message": {"type": "string"},
                    "type": {"type": "string", "examples": ["invalid_request_error", "authentication_error"]},
                    "param": {"type": ["string", "null"], "examples": ["input[1]", "model"]},
                    "code": {"type": ["string", "null"], "examples": ["model_not_found", "timeout"]},
                },
                "required": ["message", "type", "param", "code"],
            }
        },
        "required": ["error"],
    }


def _error(description: str) -> dict[str, Any]:
    return body(description, ref("schemas", "OpenAIError"))
