"""The OpenAI-compatible routes: POST /v1/embeddings (its body stated by `web.embeddings.EmbeddingsSchema`,
the object that validates it), GET /v1/models and GET /v1/models/{model}; their answers in OpenAI's shapes
(the embeddings list, the model list, OpenAI's error on every status)."""

from __future__ import annotations

from typing import Any

from core.config import Config
from web.embeddings import EmbeddingsSchema
from web.openapi.parts import Operations, body, error, header, idempotency_parameter, parameter, retry_after
from web.openapi.parts import schema as named
from web.resources.openai import RETRY_AFTER, WAIT

UNAUTHORIZED = "OpenAIUnauthorized"


def paths(config: Config, embeddings: EmbeddingsSchema, operations: Operations) -> dict[str, Any]:
    model = parameter("path", "model", {"enum": embeddings.models}, "an embedding model (any other: 404)")
    one = {"200": body("The model", named("OpenAIModel")), "404": _error("Not an embedding model here")}
    models = {"200": body("The models", named("ModelList"))}
    return {
        "/v1/embeddings": {"post": _embeddings(config, operations)},
        "/v1/models": {
            "get": operations(
                "listEmbeddingModels",
                "OpenAI-compatible list of the embedding models",
                models,
                unauthorized=UNAUTHORIZED,
            )
        },
        "/v1/models/{model}": {
            "get": operations(
                "getEmbeddingModel", "One embedding model", one, parameters=[model], unauthorized=UNAUTHORIZED
            )
        },
    }


def _embeddings(config: Config, operations: Operations) -> dict[str, Any]:
    responses = {
        "200": {
            **body("The embeddings, in the order of the inputs", named("EmbeddingsResponse")),
            "headers": {"Location": header("the job: /inference/{id}", {"type": "string"}, True)},
        },
        "400": _error("Malformed JSON, an empty body or invalid UTF-8"),
        "409": _error("The job was canceled meanwhile (POST /inference/{id}/cancel)"),
        "413": _error(f"The body is over {config.max_body_bytes} bytes"),
        "415": _error("The body is not application/json"),
        "422": _error(
            "A field is invalid; `param` names it (`model_not_found`: not an embedding model; `unsupported_input`: "
            "token ids; `unsupported_parameter`: `dimensions`; `model_not_prepared`: the model is not prepared here), "
            "or the `Idempotency-Key` was used with another body"
        ),
        "429": {**_error(f"The model already has {config.max_backlog} jobs waiting"), "headers": retry_after()},
        "500": _error("The job failed: the message says why"),
        "503": {
            **_error(
                f"The database or the broker is unavailable, every waiting thread is busy, or the job "
                f"did not finish within {WAIT} s (`timeout`: it still completes, at /inference/{{id}})"
            ),
            "headers": retry_after(),
        },
    }
    key = idempotency_parameter(
        "as on POST /inference: a retry with the same key and body returns the same job; another body is a 422"
    )
    request_body = {
        "required": True,
        "content": {"application/json": {"schema": named("EmbeddingsRequest")}},
        "description": f"At most {config.max_body_bytes} bytes; retried after {RETRY_AFTER} s on 503",
    }
    summary = "OpenAI-compatible embeddings: one job, waited on in the call"
    return operations(
        "createEmbeddings", summary, responses, parameters=[key], requestBody=request_body, unauthorized=UNAUTHORIZED
    )


def schemas(embeddings: EmbeddingsSchema) -> dict[str, Any]:
    return {
        "EmbeddingsRequest": embeddings.body.json_schema(),
        "EmbeddingsResponse": _embeddings_list(),
        "ModelList": {
            "type": "object",
            "properties": {"object": {"const": "list"}, "data": {"type": "array", "items": named("OpenAIModel")}},
            "required": ["object", "data"],
        },
        "OpenAIModel": {
            "type": "object",
            "properties": {
                "id": {"enum": embeddings.models},
                "object": {"const": "model"},
                "created": {"type": "integer", "description": "when it was last prepared (Unix s); 0: never"},
                "owned_by": {"type": "string"},
            },
            "required": ["id", "object", "created", "owned_by"],
        },
        "OpenAIError": _openai_error(),
    }


def _embeddings_list() -> dict[str, Any]:
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
    usage = {
        "type": "object",
        "description": "tokens the model read, special tokens included, after truncation",
        "properties": {"prompt_tokens": tokens, "total_tokens": tokens},
        "required": ["prompt_tokens", "total_tokens"],
    }
    return {
        "type": "object",
        "properties": {
            "object": {"const": "list"},
            "data": {"type": "array", "items": embedding},
            "model": {"type": "string"},
            "usage": usage,
        },
        "required": ["object", "data", "model", "usage"],
    }


def _openai_error() -> dict[str, Any]:
    detail = {
        "type": "object",
        "properties": {
            "message": {"type": "string"},
            "type": {"type": "string", "examples": ["invalid_request_error", "authentication_error"]},
            "param": {"type": ["string", "null"], "examples": ["input[1]", "model", "dimensions"]},
            "code": {"type": ["string", "null"], "examples": ["model_not_found", "unsupported_parameter", "timeout"]},
        },
        "required": ["message", "type", "param", "code"],
    }
    return {
        "type": "object",
        "description": "OpenAI's error shape, on every /v1 route",
        "properties": {"error": detail},
        "required": ["error"],
    }


def _error(description: str) -> dict[str, Any]:
    return error(description, "OpenAIError")
