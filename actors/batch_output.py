"""A batch's output and error files, in OpenAI's JSONL shape, one line per input line, written in line order
a page at a time (`db.bulk.lane.answers`) into chunks (`db.bulk.files.ChunkWriter`):

- a request whose job succeeded goes to the output file:
  `{"id": "batch_req_...", "custom_id", "response": {"status_code": 200, "request_id", "body"}, "error": null}`,
  the body being what the endpoint answers (an embeddings list for /v1/embeddings);
- a job that failed goes to the error file with a 500 response and OpenAI's error body;
- a line that was not valid, or whose job was canceled or never ran (the batch was cancelled or expired),
  goes to the error file with `"response": null` and `error` {code, message}."""

from __future__ import annotations

import base64
import struct
from dataclasses import dataclass
from typing import Any

import orjson

from db import database
from db.bulk import Batch, BatchRequest, File
from db.bulk.files import ChunkWriter, new_file_id
from db.bulk.lane import answers
from db.jobs import Job
from db.lifecycle import Status

UNANSWERED = {
    "batch_cancelled": "the batch was cancelled before this request ran",
    "batch_expired": "the batch expired before this request ran",
}


@dataclass
class Results:
    output_file_id: str | None
    error_file_id: str | None
    completed: int
    failed: int


def write_results(batch: Batch, unanswered: str = "batch_cancelled", then=None) -> Results:
    """Write both files; a file with no line is not created. `unanswered` is the code of lines whose job
    did not finish (the batch was cancelled or expired). The files' rows are created in one transaction
    with `then(results)`, the batch's move to its end (False: another process moved it first, and the rows
    are rolled back): a fault leaves both or neither, never a file listed that no batch names. The chunks
    of a file whose row was never created are dropped as orphans by retention."""
    output, errors = ChunkWriter(new_file_id()), ChunkWriter(new_file_id())
    for request, job in answers(batch.id):
        line, ok = answer(batch, request, job, unanswered)
        (output if ok else errors).write(orjson.dumps(line) + b"\n")
    for writer in (output, errors):
        writer.close()
    ids = [writer.file_id if writer.lines else None for writer in (output, errors)]
    results = Results(ids[0], ids[1], output.lines, errors.lines)
    with database.atomic() as transaction:
        for writer, kind in ((output, "output"), (errors, "error")):
            if writer.lines:
                File.create(
                    id=writer.file_id,
                    owner=batch.owner,
                    purpose="batch_output",
                    filename=f"{batch.id}_{kind}.jsonl",
                    bytes=writer.bytes,
                    lines=writer.lines,
                )
        if then is not None and not then(results):  # the batch moved on elsewhere: its files are not ours
            transaction.rollback()
    return results


def answer(batch: Batch, request: BatchRequest, job: Job | None, unanswered: str) -> tuple[dict[str, Any], bool]:
    """The line answering `request`, and whether it belongs to the output file."""
    line = {"id": request.id, "custom_id": request.custom_id, "response": None, "error": None}
    if request.error_code is not None:
        line["error"] = {"code": request.error_code, "message": request.error_message}
    elif job is None or job.status in (Status.QUEUED, Status.RUNNING, Status.CANCELED):
        line["error"] = {"code": unanswered, "message": UNANSWERED.get(unanswered, unanswered)}
    elif job.status == Status.SUCCEEDED:
        body = body_of(batch.endpoint, job, request.encoding or "float")
        line["response"] = {"status_code": 200, "request_id": str(job.id), "body": body}
        return line, True
    else:
        error = {"message": job.error, "type": "server_error", "param": None, "code": job.failure or "job_failed"}
        line["response"] = {"status_code": 500, "request_id": str(job.id), "body": {"error": error}}
    return line, False


def body_of(endpoint: str, job: Job, encoding: str) -> dict[str, Any]:
    """What the endpoint answers for the job: /v1/embeddings' list, or /inference's job."""
    if endpoint != "/v1/embeddings":
        return {"id": str(job.id), "status": job.status, "model": job.model, "task": job.task, "output": job.output}
    outputs = job.output
    tokens = sum(output.get("tokens", 0) for output in outputs)
    data = [
        {"object": "embedding", "index": index, "embedding": _encode(output["embedding"], encoding)}
        for index, output in enumerate(outputs)
    ]
    return {
        "object": "list",
        "data": data,
        "model": job.model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


def _encode(vector, encoding: str):
    """As POST /v1/embeddings: `base64` is little-endian float32 bytes."""
    if encoding == "base64":
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
    return [float(x) for x in vector]
