"""A batch's input file read line by line into requests: each line OpenAI's request object
(`{"custom_id", "method": "POST", "url", "body"}`), its body validated by the very schema of the route it
names (`EmbeddingsSchema` for /v1/embeddings, `RequestSchema` for /inference), with the same limits. A line
that fails is kept with its error (it is answered in the error file) and does not fail the batch."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import falcon

from core.errors import InferenceError
from db.bulk.files import read_lines
from web.embeddings import EmbeddingsSchema
from web.prepared import PreparedModels
from web.request import RequestSchema
from web.validation import Limits, check_json

EMBEDDINGS = "/v1/embeddings"
INFERENCE = "/inference"
ENDPOINTS = (EMBEDDINGS, INFERENCE)


@dataclass
class Line:
    number: int
    custom_id: str | None
    fields: dict[str, Any] | None = None  # model, task, inputs, parameters, encoding: a job to make
    error: tuple[str, str] | None = None  # code, message: answered in the error file


class LineError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def _refuse_constant(literal: str) -> Any:
    raise ValueError(f"{literal} is not JSON")


class LineReader:
    """Reads the lines of one input file for one endpoint."""

    def __init__(
        self,
        endpoint: str,
        request: RequestSchema,
        embeddings: EmbeddingsSchema,
        limits: Limits,
        prepared: PreparedModels,
    ):
        self.endpoint, self.request, self.embeddings = endpoint, request, embeddings
        self.limits, self.prepared = limits, prepared
        self.seen: set[str] = set()

    def read(self, file_id: str) -> Iterator[Line]:
        """Every non-blank line of the file, numbered from 1 as an editor numbers them."""
        for number, raw in enumerate(read_lines(file_id), start=1):
            if not raw.strip():
                continue
            custom_id = None
            try:
                item = self._object(raw)
                custom_id = item.get("custom_id") if isinstance(item.get("custom_id"), str) else None
                yield Line(number, custom_id, fields=self._fields(item))
            except LineError as e:
                yield Line(number, custom_id, error=(e.code, f"line {number}: {e}"))

    def _object(self, raw: bytes) -> dict[str, Any]:
        if len(raw) > self.limits.max_body_bytes:
            raise LineError("request_too_large", f"the line is over the limit of {self.limits.max_body_bytes} bytes")
        try:
            item = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
        except (ValueError, RecursionError) as e:
            raise LineError("invalid_json", f"not a JSON object ({type(e).__name__}: {e})") from None
        if not isinstance(item, dict):
            raise LineError("invalid_request", "each line must be a JSON object")
        return item

    def _fields(self, item: dict[str, Any]) -> dict[str, Any]:
        custom_id = item.get("custom_id")
        if not isinstance(custom_id, str) or not custom_id:
            raise LineError("missing_custom_id", "`custom_id` must be a non-empty string")
        if custom_id in self.seen:
            raise LineError("duplicate_custom_id", f"`custom_id` {custom_id!r} is used by an earlier line")
        self.seen.add(custom_id)
        if item.get("method") != "POST":
            raise LineError("invalid_method", "`method` must be POST")
        if item.get("url") != self.endpoint:
            raise LineError("mismatched_url", f"`url` must be the batch's endpoint, {self.endpoint}")
        body = item.get("body")
        if not isinstance(body, dict):
            raise LineError("invalid_body", "`body` must be a JSON object: the request to make")
        try:
            check_json(body, self.limits)
            return self._parse(body)
        except falcon.HTTPError as e:
            raise LineError(e.code or "invalid_body", f"body.{_field(e)}: {e.description}") from None
        except InferenceError as e:
            raise LineError(getattr(e, "code", None) or "invalid_body", f"body.{_field(e)}: {e.description}") from None

    def _parse(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.endpoint == EMBEDDINGS:
            parsed = self.embeddings.parse(body)
            request, encoding = parsed.request, parsed.encoding
        else:
            request, encoding = self.request.parse(body), None
        self.prepared.check(request.spec.name)
        return {
            "model": request.spec.name,
            "task": request.task,
            "inputs": request.inputs,
            "parameters": request.parameters,
            "encoding": encoding,
        }


def _field(error: Exception) -> str:
    return getattr(error, "field", None) or "?"
