"""The Batch API from Python and from `submit --batch`: upload a JSONL of requests (`upload`), run it as a
batch (`create_batch`), follow it (`follow`, with a progress bar), and read its output and error files
(`download`). The upload and the downloads are streamed: a file of any size goes through in pieces.

`submit_batch` is what `submit --batch` runs: each input line becomes a request of a batch on the bulk
lane (`/inference`, with the model and parameters given), and the results are written as `submit` writes
them, one JSON line per input line in input order (`{"line", "job", "output"}` or `{"line", "error"}`)."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from inference_client.client import Client

ENDED = frozenset({"completed", "failed", "expired", "cancelled"})


def upload(client: Client, content: Path | bytes, *, name: str = "requests.jsonl") -> dict[str, Any]:
    """POST /v1/files (purpose `batch`): the file object. A path is streamed from disk."""
    with content.open("rb") if isinstance(content, Path) else io.BytesIO(content) as handle:
        filename = content.name if isinstance(content, Path) else name
        response = client._http.post(
            "/v1/files", data={"purpose": "batch"}, files={"file": (filename, handle, "application/jsonl")}
        )
    return _checked(response).json()


def create_batch(client: Client, file_id: str, *, endpoint: str = "/v1/embeddings", metadata=None) -> dict:
    body = {"input_file_id": file_id, "endpoint": endpoint, "completion_window": "24h"}
    if metadata:
        body["metadata"] = metadata
    return client._request("POST", "/v1/batches", json=body).json()


def get_batch(client: Client, batch_id: str) -> dict[str, Any]:
    return client._request("GET", f"/v1/batches/{batch_id}").json()


def cancel_batch(client: Client, batch_id: str) -> dict[str, Any]:
    return client._request("POST", f"/v1/batches/{batch_id}/cancel").json()


def download(client: Client, file_id: str, path: Path) -> Path:
    """GET /v1/files/{id}/content, streamed to `path`."""
    with client._http.stream("GET", f"/v1/files/{file_id}/content") as response, path.open("wb") as out:
        _checked(response)
        for piece in response.iter_bytes():
            out.write(piece)
    return path


def follow(
    client: Client,
    batch_id: str,
    *,
    progress: bool = True,
    every: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Poll the batch until it ends; with `progress`, a bar of the lines answered."""
    from tqdm import tqdm

    batch = get_batch(client, batch_id)
    bar = tqdm(total=batch["request_counts"]["total"], unit="line", disable=not progress, desc=batch_id)
    try:
        while True:
            counts = batch["request_counts"]
            bar.total = counts["total"]
            bar.update(counts["completed"] + counts["failed"] - bar.n)
            bar.set_postfix_str(batch["status"])
            if batch["status"] in ENDED:
                return batch
            sleep(every)
            batch = get_batch(client, batch_id)
    finally:
        bar.close()


def requests_of(records, *, model: str | None, parameters: dict | None) -> bytes:
    """A Batch API JSONL for `submit`'s records: a request per input line to /inference."""
    lines = []
    for record in records:
        body = dict(record.body) if record.body is not None else {"inputs": [record.text]}
        if model is not None:
            body.setdefault("model", model)
        if parameters is not None:
            body.setdefault("parameters", parameters)
        request = {"custom_id": str(record.line), "method": "POST", "url": "/inference", "body": body}
        lines.append(json.dumps(request, ensure_ascii=False))
    return ("\n".join(lines) + "\n").encode()


def results_of(client: Client, batch: dict[str, Any], records, scratch: Path) -> list[dict[str, Any]]:
    """`submit`'s result entries, in input order, from the batch's output and error files."""
    whole = {str(r.line) for r in records if r.body is not None}
    entries: dict[str, dict[str, Any]] = {}
    for file_id in (batch.get("output_file_id"), batch.get("error_file_id")):
        if file_id is None:
            continue
        for raw in download(client, file_id, scratch).read_text(encoding="utf-8").splitlines():
            answer = json.loads(raw)
            entries[answer["custom_id"]] = _entry(answer, whole)
    scratch.unlink(missing_ok=True)
    missing = {"error": f"batch {batch['id']} ended {batch['status']} without this line"}
    return [entries.get(str(r.line), {"line": r.line, **missing}) | {"line": r.line} for r in records]


def _entry(answer: dict[str, Any], whole: set[str]) -> dict[str, Any]:
    response = answer.get("response") or {}
    body = response.get("body") or {}
    if response.get("status_code") == 200:
        output = body.get("output") or []
        return {"job": body.get("id"), "output": output if answer["custom_id"] in whole else output[0]}
    error = answer.get("error") or body.get("error") or {}
    return {"job": response.get("request_id"), "error": error.get("message") or error.get("code") or "failed"}


def _checked(response):
    if response.status_code >= 400:
        from inference_client.client import _error

        response.read()
        raise _error(response)
    return response
