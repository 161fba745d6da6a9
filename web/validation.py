"""Reading and validating request bodies. Every refusal names what is wrong; nothing here touches
the database or the broker, so a refused request leaves no trace."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import falcon

from actors.catalog import Catalog, ModelSpec
from actors.tasks import validate_parameters
from inference_api.errors import InvalidRequest, PayloadTooLarge

FIELDS = {"model", "inputs", "text", "parameters"}


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int
    max_inputs: int
    max_input_chars: int


@dataclass(frozen=True)
class InferenceRequest:
    spec: ModelSpec
    inputs: list[str]
    parameters: dict[str, Any]


def read_json(req: falcon.Request, limits: Limits) -> Any:
    """The body as JSON: 415 unless JSON, 413 over the size limit, 400 unless well-formed UTF-8 JSON."""
    media_type = (req.content_type or "").split(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise falcon.HTTPUnsupportedMediaType(
            title="Unsupported media type",
            description=f"send the body as application/json (got {media_type or 'no Content-Type'})",
        )
    if req.content_length is not None and req.content_length > limits.max_body_bytes:
        raise PayloadTooLarge(f"the body is {req.content_length} bytes; the limit is {limits.max_body_bytes}")
    raw = req.bounded_stream.read(limits.max_body_bytes + 1)
    if len(raw) > limits.max_body_bytes:
        raise PayloadTooLarge(f"the body is over the limit of {limits.max_body_bytes} bytes")
    if not raw:
        raise falcon.HTTPBadRequest(title="Empty body", description="send a JSON object")
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise falcon.HTTPBadRequest(title="Invalid UTF-8", description=f"the body is not UTF-8: {e.reason}") from None
    except RecursionError:
        raise falcon.HTTPBadRequest(title="Malformed JSON", description="the JSON is nested too deeply") from None
    except ValueError as e:
        raise falcon.HTTPBadRequest(title="Malformed JSON", description=str(e)) from None


def parse_inference(body: Any, catalog: Catalog, limits: Limits) -> InferenceRequest:
    if not isinstance(body, dict):
        raise InvalidRequest("the body must be a JSON object", field="body")
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        raise InvalidRequest(
            f"unknown field(s): {', '.join(unknown)} (accepted: {', '.join(sorted(FIELDS))})", field=unknown[0]
        )
    spec = _model(body.get("model"), catalog)
    if "inputs" in body and "text" in body:
        raise InvalidRequest("give `inputs` or its alias `text`, not both", field="text")
    field = "text" if "text" in body else "inputs"
    inputs = _inputs(body.get(field), field, limits)
    return InferenceRequest(spec=spec, inputs=inputs, parameters=validate_parameters(spec.task, body.get("parameters")))


def _model(name: Any, catalog: Catalog) -> ModelSpec:
    if name is not None and (not isinstance(name, str) or not name):
        raise InvalidRequest("`model` must be a non-empty string (or omitted for the default model)", field="model")
    spec = catalog.get(name)
    if spec is None:
        known = ", ".join(sorted(catalog.models))
        raise InvalidRequest(f"unknown model {name!r}; available: {known} (see GET /models)", field="model")
    return spec


def _inputs(value: Any, field: str, limits: Limits) -> list[str]:
    if value is None:
        raise InvalidRequest("`inputs` is required: a string or a list of strings", field="inputs")
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        raise InvalidRequest(f"`{field}` must be a string or a list of strings", field=field)
    if not items:
        raise InvalidRequest(f"`{field}` must not be empty", field=field)
    if len(items) > limits.max_inputs:
        raise InvalidRequest(f"`{field}` has {len(items)} items; the limit is {limits.max_inputs}", field=field)
    for index, item in enumerate(items):
        where = field if isinstance(value, str) else f"{field}[{index}]"
        if not isinstance(item, str):
            raise InvalidRequest(f"`{where}` must be a string, got {type(item).__name__}", field=where)
        if not item.strip():
            raise InvalidRequest(f"`{where}` must not be empty", field=where)
        if len(item) > limits.max_input_chars:
            raise InvalidRequest(
                f"`{where}` has {len(item)} characters; the limit is {limits.max_input_chars}", field=where
            )
    return items
