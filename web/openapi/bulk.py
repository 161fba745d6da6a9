"""The Files and Batch routes (`/v1/files`, `/v1/batches`): OpenAI's shapes, the limits the resources
enforce (`web.bulk.files`, `web.bulk.batches`, `web.bulk.listing`), OpenAI's error on every status."""

from __future__ import annotations

from typing import Any

from core.config import Config
from db.bulk.batches import ALL, WINDOWS
from web.bulk.batches import MAX_METADATA_CHARS, MAX_METADATA_KEYS
from web.bulk.files import CONTENT_TYPE, MAX_FILE_BYTES, MAX_LINES, PURPOSES
from web.bulk.lines import ENDPOINTS
from web.bulk.listing import MAX_LIMIT
from web.openapi.parts import Operations, body, error, parameter
from web.openapi.parts import schema as named

UNAUTHORIZED = "OpenAIUnauthorized"
ID = {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,40}$"}  # what `file-...` and `batch_...` ids are made of
TEXT = "^[^\\u0000]*$"  # storable text (no U+0000), as `core.schema.String` states it
NULLABLE_ID = {"type": ["string", "null"]}
TIME = {"type": "integer", "description": "Unix seconds"}
MAYBE_TIME = {"type": ["integer", "null"], "description": "Unix seconds, once reached"}


def _error(description: str) -> dict[str, Any]:
    return error(description, "OpenAIError")


def _listing() -> list[dict[str, Any]]:
    return [
        parameter(
            "query",
            "after",
            {"type": "string", "maxLength": 40},
            "the `last_id` of the previous page (empty: the first)",
        ),
        parameter("query", "limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}, "items per page"),
    ]


MISSING = {"404": _error("No such id for this API key")}
BAD_QUERY = {"404": _error("No such `after` id"), "422": _error("`limit` out of range")}


def paths(config: Config, operations: Operations) -> dict[str, Any]:
    op = _operation(operations)
    return {**_files(op), **_batches(config, op)}


def _files(op) -> dict[str, Any]:
    file_id = parameter("path", "file_id", ID, "a file's id (another key's: 404)")
    purpose = parameter("query", "purpose", {"type": "string"}, "only the files of this purpose")
    upload = {
        "required": True,
        "description": f"At most {MAX_FILE_BYTES} bytes and {MAX_LINES} lines, read and stored as it arrives",
        "content": {"multipart/form-data": {"schema": named("FileUpload")}},
    }
    uploaded = {
        "200": body("The file", named("OpenAIFile")),
        "400": _error("A malformed multipart body"),
        "413": _error(f"The file is over {MAX_FILE_BYTES} bytes or {MAX_LINES} lines"),
        "415": _error("Not multipart/form-data"),
        "422": _error("`purpose` is not `batch`, no `file` field, an empty file, or a field of another name"),
    }
    content = {"description": "The file's content, as uploaded", "content": {CONTENT_TYPE: {"schema": {}}}}
    return {
        "/v1/files": {
            "post": op("createFile", "Upload a file (OpenAI's Files API)", uploaded, requestBody=upload),
            "get": op(
                "listFiles",
                "The caller's files, newest first",
                {"200": body("Files", named("FileList")), **BAD_QUERY},
                parameters=[*_listing(), purpose],
            ),
        },
        "/v1/files/{file_id}": {
            "get": op(
                "getFile", "One file", {"200": body("The file", named("OpenAIFile")), **MISSING}, parameters=[file_id]
            ),
            "delete": op(
                "deleteFile",
                "Delete a file and its content",
                {"200": body("Deleted", named("DeletedFile")), **MISSING},
                parameters=[file_id],
            ),
        },
        "/v1/files/{file_id}/content": {
            "get": op(
                "getFileContent", "A file's content, streamed", {"200": content, **MISSING}, parameters=[file_id]
            ),
        },
    }


def _batches(config: Config, op) -> dict[str, Any]:
    batch_id = parameter("path", "batch_id", ID, "a batch's id (another key's: 404)")
    return {
        "/v1/batches": {
            "post": _create(config, op),
            "get": op(
                "listBatches",
                "The caller's batches, newest first",
                {"200": body("Batches", named("BatchList")), **BAD_QUERY},
                parameters=_listing(),
            ),
        },
        "/v1/batches/{batch_id}": {
            "get": op(
                "getBatch", "One batch", {"200": body("The batch", named("Batch")), **MISSING}, parameters=[batch_id]
            ),
        },
        "/v1/batches/{batch_id}/cancel": {
            "post": op(
                "cancelBatch",
                "Cancel a batch: `cancelling`, then `cancelled` with what finished",
                {
                    "200": body("The batch", named("Batch")),
                    **MISSING,
                    "409": _error("The batch has ended (`batch_not_cancellable`)"),
                },
                parameters=[batch_id],
            ),
        },
    }


def _operation(operations: Operations):
    def op(operation_id: str, summary: str, responses: dict[str, Any], **more: Any) -> dict[str, Any]:
        return operations(operation_id, summary, responses, unauthorized=UNAUTHORIZED, **more)

    return op


def _create(config: Config, op) -> dict[str, Any]:
    responses = {
        "200": body("The batch: `in_progress`, or `failed` when the file has no request", named("Batch")),
        "400": _error("Malformed JSON, an empty body or invalid UTF-8"),
        "404": _error("No input file of that id with purpose `batch` for this API key"),
        "413": _error(f"The body is over {config.max_body_bytes} bytes"),
        "415": _error("The body is not application/json"),
        "422": _error("A field is invalid; `param` names it"),
    }
    request_body = {"required": True, "content": {"application/json": {"schema": named("BatchRequest")}}}
    summary = "Run a file of requests as a batch on the bulk lane (OpenAI's Batch API)"
    return op("createBatch", summary, responses, requestBody=request_body)


COUNT = {"type": "integer", "minimum": 0}
STAMPS = ("in_progress", "finalizing", "completed", "failed", "expired", "cancelling", "cancelled")


def schemas() -> dict[str, Any]:
    return {**_file_schemas(), **_batch_schemas()}


def _file_schemas() -> dict[str, Any]:
    described = {"bytes": COUNT, "created_at": TIME, "filename": {"type": "string"}, "purpose": {"type": "string"}}
    return {
        "FileUpload": {
            "type": "object",
            "properties": {
                "purpose": {"enum": list(PURPOSES)},
                "file": {"type": "string", "format": "binary", "minLength": 1},
            },
            "required": ["purpose", "file"],
            "additionalProperties": False,
        },
        "OpenAIFile": _object("file", {**described, "status": {"type": "string"}}),
        "DeletedFile": _object("file", {"deleted": {"const": True}}),
        "FileList": _list("OpenAIFile"),
    }


def _batch_schemas() -> dict[str, Any]:
    metadata = {
        "type": ["object", "null"],
        "maxProperties": MAX_METADATA_KEYS,
        "propertyNames": {"maxLength": 64, "pattern": TEXT},
        "additionalProperties": {"type": "string", "maxLength": MAX_METADATA_CHARS, "pattern": TEXT},
    }
    counts = {
        "type": "object",
        "properties": {"total": COUNT, "completed": COUNT, "failed": COUNT},
        "required": ["total", "completed", "failed"],
    }
    batch = {
        "endpoint": {"enum": list(ENDPOINTS)},
        "errors": {"type": ["object", "null"]},
        "input_file_id": {"type": "string"},
        "completion_window": {"enum": list(WINDOWS)},
        "status": {"enum": list(ALL)},
        "output_file_id": NULLABLE_ID,
        "error_file_id": NULLABLE_ID,
        "created_at": TIME,
        "expires_at": TIME,
        **{f"{name}_at": MAYBE_TIME for name in STAMPS},
        "request_counts": counts,
        "metadata": {"type": ["object", "null"]},
    }
    return {
        "BatchRequest": {
            "type": "object",
            "properties": {
                "input_file_id": ID,
                "endpoint": {"enum": list(ENDPOINTS)},
                "completion_window": {"enum": list(WINDOWS)},
                "metadata": metadata,
            },
            "required": ["input_file_id", "endpoint", "completion_window"],
            "additionalProperties": False,
        },
        "Batch": _object("batch", batch),
        "BatchList": _list("Batch"),
    }


def _object(kind: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"id": {"type": "string"}, "object": {"const": kind}, **properties},
        "required": ["id", "object", *properties],
    }


def _list(item: str) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "object": {"const": "list"},
            "data": {"type": "array", "items": named(item)},
            "first_id": NULLABLE_ID,
            "last_id": NULLABLE_ID,
            "has_more": {"type": "boolean"},
        },
        "required": ["object", "data", "first_id", "last_id", "has_more"],
    }
