"""`/v1/batches`: create, read, list and cancel batches, as OpenAI's Batch API.

Creating a batch reads its input file line by line (`web.bulk.lines`), validating each line with the schema
of the route it names, and stores one request per line, a chunk at a time; the batch is then
`in_progress`, or `failed` when the file itself is unusable (missing, empty). Its jobs are made and sent
on the bulk lane by the batch keeper (`actors.batch_keeper`), which also ends the batch: output and error
files, `completed`, `cancelled` or `expired`. A batch belongs to the API key that created it."""

from __future__ import annotations

import uuid
from typing import Any

import falcon

from core.owners import OPEN
from db import database
from db.base import utcnow
from db.bulk import Batch, BatchRequest, BatchStatus, File
from db.bulk.batches import WINDOWS, new_batch_id
from web.auth import owner_of
from web.bulk.files import unix
from web.bulk.lines import ENDPOINTS, Line, LineReader
from web.bulk.listing import page
from web.embeddings import EmbeddingsSchema
from web.openai_errors import invalid
from web.prepared import PreparedModels
from web.request import RequestSchema
from web.validation import Limits, read_json

INSERT_ROWS = 500  # requests inserted per statement
MAX_METADATA_KEYS, MAX_METADATA_CHARS = 16, 512  # as OpenAI
FIELDS = ("input_file_id", "endpoint", "completion_window", "metadata")
TIMES = (
    "created_at",
    "expires_at",
    "in_progress_at",
    "finalizing_at",
    "completed_at",
    "failed_at",
    "expired_at",
    "cancelling_at",
    "cancelled_at",
)


def batch_view(batch: Batch) -> dict[str, Any]:
    return {
        "id": batch.id,
        "object": "batch",
        "endpoint": batch.endpoint,
        "errors": batch.errors,
        "input_file_id": batch.input_file_id,
        "completion_window": batch.completion_window,
        "status": batch.status,
        "output_file_id": batch.output_file_id,
        "error_file_id": batch.error_file_id,
        **{name: unix(getattr(batch, name)) for name in TIMES},
        "request_counts": batch.counts(),
        "metadata": batch.metadata,
    }


def not_found(batch_id: str) -> falcon.HTTPError:
    error = falcon.HTTPNotFound(title="Not found", description=f"no batch {batch_id!r}", code="batch_not_found")
    error.field = "batch_id"
    return error


class Batches:
    def __init__(self, request: RequestSchema, embeddings: EmbeddingsSchema, limits: Limits, prepared: PreparedModels):
        self.request, self.embeddings, self.limits, self.prepared = request, embeddings, limits, prepared

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = read_json(req, self.limits)
        owner = owner_of(req)
        input_file = self._checked(body, owner)
        now = utcnow()
        batch = Batch.create(
            id=new_batch_id(),
            owner=owner,
            endpoint=body["endpoint"],
            input_file_id=input_file.id,
            completion_window=body["completion_window"],
            metadata=body.get("metadata"),
            created_at=now,
            expires_at=now + WINDOWS[body["completion_window"]],
        )
        reader = LineReader(batch.endpoint, self.request, self.embeddings, self.limits, self.prepared)
        total, invalid_lines = store(batch, reader.read(input_file.id))
        if total == 0:
            errors = [{"code": "empty_file", "message": "the input file has no requests", "param": None, "line": None}]
            batch.move(BatchStatus.FAILED, sources=(BatchStatus.VALIDATING,), errors={"object": "list", "data": errors})
        else:
            batch.move(BatchStatus.IN_PROGRESS, sources=(BatchStatus.VALIDATING,), total=total, failed=invalid_lines)
        resp.media = batch_view(batch)

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = page(Batch, owner_of(req), req, batch_view)

    def on_get_batch(self, req: falcon.Request, resp: falcon.Response, batch_id: str) -> None:
        resp.media = batch_view(self._find(req, batch_id))

    def on_post_cancel(self, req: falcon.Request, resp: falcon.Response, batch_id: str) -> None:
        """Ask for the batch to stop: `cancelling` at once, `cancelled` once the keeper has canceled its
        unfinished jobs and written what finished (docs/batches.md#statuses)."""
        batch = self._find(req, batch_id)
        cancellable = (BatchStatus.VALIDATING, BatchStatus.IN_PROGRESS)
        if batch.status != BatchStatus.CANCELLING and not batch.move(BatchStatus.CANCELLING, sources=cancellable):
            raise falcon.HTTPConflict(
                title="Conflict",
                description=f"batch {batch.id} is {batch.status}: it can no longer be cancelled",
                code="batch_not_cancellable",
            )
        resp.media = batch_view(Batch.get_by_id(batch.id))

    def _find(self, req: falcon.Request, batch_id: str) -> Batch:
        batch = Batch.find(batch_id, owner_of(req))
        if batch is None:
            raise not_found(batch_id)
        return batch

    def _checked(self, body: Any, owner: str) -> File:
        """The body's fields checked, in OpenAI's error shape; the input file they name."""
        if not isinstance(body, dict):
            raise invalid("the body must be a JSON object", None)
        for name in body:
            if name not in FIELDS:
                raise invalid(f"unknown field `{name}`", name, code="unknown_parameter")
        if body.get("endpoint") not in ENDPOINTS:
            raise invalid(f"`endpoint` must be one of {', '.join(ENDPOINTS)}", "endpoint")
        if body.get("completion_window") not in WINDOWS:
            raise invalid(f"`completion_window` must be one of {', '.join(WINDOWS)}", "completion_window")
        _check_metadata(body.get("metadata"))
        file_id = body.get("input_file_id")
        if not isinstance(file_id, str) or not file_id:
            raise invalid("`input_file_id` must be the id of a file uploaded with purpose `batch`", "input_file_id")
        found = File.find(file_id, owner)
        if found is None or found.purpose != "batch":
            error = falcon.HTTPNotFound(
                title="Not found", description=f"no input file {file_id!r} with purpose `batch`", code="file_not_found"
            )
            error.field = "input_file_id"
            raise error
        return found


def _check_metadata(metadata: Any) -> None:
    if metadata is None:
        return
    fine = isinstance(metadata, dict) and len(metadata) <= MAX_METADATA_KEYS
    fine = fine and all(
        isinstance(value, str) and len(key) <= 64 and len(value) <= MAX_METADATA_CHARS
        for key, value in metadata.items()
    )
    if not fine:
        raise invalid(
            f"`metadata` must be an object of at most {MAX_METADATA_KEYS} keys (64 characters) and string values "
            f"(at most {MAX_METADATA_CHARS} characters)",
            "metadata",
        )


def store(batch: Batch, lines) -> tuple[int, int]:
    """Insert a request per line, `INSERT_ROWS` a statement; returns (lines, invalid lines)."""
    total = invalid_lines = 0
    rows: list[dict[str, Any]] = []
    for line in lines:
        total += 1
        invalid_lines += line.error is not None
        rows.append(_row(batch, line))
        if len(rows) == INSERT_ROWS:
            _insert(rows)
    _insert(rows)
    return total, invalid_lines


def _row(batch: Batch, line: Line) -> dict[str, Any]:
    row = {"batch": batch.id, "line": line.number, "custom_id": line.custom_id, "owner": batch.owner or OPEN}
    if line.error is not None:
        return {**row, "error_code": line.error[0], "error_message": line.error[1]}
    return {**row, **line.fields, "job": uuid.uuid4()}  # the id its job gets when it is released


def _insert(rows: list[dict[str, Any]]) -> None:
    if rows:
        with database.atomic():
            made = [BatchRequest(**row).__data__ for row in rows]
            names = BatchRequest._meta.fields  # every row with every column: the first row's set the statement's
            BatchRequest.insert_many([{name: data.get(name) for name in names} for data in made]).execute()
        rows.clear()
