"""Reading and validating request bodies. Every refusal names what is wrong; nothing here touches
the database or the broker, so a refused request leaves no trace."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import falcon

from catalog import Catalog, ModelSpec
from catalog.tasks import validate_parameters
from catalog.tokens import TokenCounter
from core.errors import InvalidRequest, PayloadTooLarge

FIELDS = {"model", "inputs", "text", "parameters"}
FIELDS |= {"webhook", "webhook_events"}  # jobs branch (#14): checked by web.webhooks.WebhookPolicy.parse


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int
    max_inputs: int
    max_input_chars: int
    max_json_depth: int = 32


@dataclass(frozen=True)
class InferenceRequest:
    spec: ModelSpec
    task: str
    inputs: list[str] | dict[str, Any]
    parameters: dict[str, Any]

    @property
    def texts(self) -> list[str]:
        if isinstance(self.inputs, dict):
            return [self.inputs["source_sentence"], *self.inputs["sentences"]]
        return self.inputs


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
        body = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise falcon.HTTPBadRequest(title="Invalid UTF-8", description=f"the body is not UTF-8: {e.reason}") from None
    except RecursionError:
        raise falcon.HTTPBadRequest(title="Malformed JSON", description="the JSON is nested too deeply") from None
    except ValueError as e:
        raise falcon.HTTPBadRequest(title="Malformed JSON", description=str(e)) from None
    check_json(body, limits)
    return body


def check_json(body: Any, limits: Limits) -> None:
    """422 for JSON that parses but that we do not take: arrays and objects nested deeper than
    `limits.max_json_depth` (`{"inputs": ["a"]}` is 2 deep), or text that is not storable Unicode, U+0000 or
    an unpaired surrogate such as "\ud800" (I-JSON, RFC 7493; PostgreSQL refuses both). Iterative: any depth."""

    def check_text(text: str, path: tuple) -> None:
        try:
            text.encode("utf-8")
            if "\x00" not in text:
                return
        except UnicodeEncodeError:
            pass
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".") or "body"
        raise InvalidRequest(f"`{where}` holds U+0000 or an unpaired surrogate (\\ud800 to \\udfff)", field=where)

    level: list[tuple[tuple, Any]] = [((), body)]
    depth = 0
    while level:
        children: list[tuple[tuple, Any]] = []
        for path, node in level:
            if isinstance(node, dict):
                for key, child in node.items():
                    check_text(key, path)
                    children.append(((*path, key), child))
            elif isinstance(node, list):
                children += (((*path, index), child) for index, child in enumerate(node))
            elif isinstance(node, str):
                check_text(node, path)
        if any(isinstance(node, (dict, list)) for _, node in level):
            depth += 1
            if depth > limits.max_json_depth:
                raise InvalidRequest(
                    f"the JSON nests arrays and objects deeper than the limit of {limits.max_json_depth} levels",
                    field="body",
                )
        level = children


def parse_inference(
    body: Any, catalog: Catalog, limits: Limits, tokens: TokenCounter | None = None
) -> InferenceRequest:
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
    value = body.get(field)
    if isinstance(value, dict):
        if "sentence-similarity" not in spec.tasks:
            raise InvalidRequest(
                f"model {spec.name!r} does {spec.task}: `{field}` must be a string or a list of strings", field=field
            )
        task, inputs = "sentence-similarity", _similarity_inputs(value, field, limits)
    elif spec.task == "sentence-similarity":
        raise InvalidRequest(
            f'sentence-similarity takes `{field}`: {{"source_sentence": "...", "sentences": ["...", ...]}}',
            field=field,
        )
    else:
        task, inputs = spec.task, _inputs(value, field, limits)
    request = InferenceRequest(spec, task, inputs, validate_parameters(task, body.get("parameters")))
    if tokens is not None and request.parameters.get("truncate") is False:
        _check_lengths(request, field, tokens)
    return request


def _check_lengths(request: InferenceRequest, field: str, tokens: TokenCounter) -> None:
    """With `truncate: false`, an input longer than the model takes is refused now rather than failed later."""
    counted = tokens.count(request.spec.name, request.texts)
    if counted is None:
        return  # not prepared on this host: the worker checks it and fails the job with the reason
    counts, max_length = counted
    if request.task == "text-generation":
        max_length -= request.parameters.get("max_new_tokens", 20)
    for index, count in enumerate(counts):
        if count > max_length:
            where = _where(request, field, index)
            raise InvalidRequest(
                f"`{where}` has {count} tokens; model {request.spec.name!r} takes {max_length} and truncate is false",
                field=where,
            )


def _where(request: InferenceRequest, field: str, index: int) -> str:
    if isinstance(request.inputs, dict):
        return f"{field}.source_sentence" if index == 0 else f"{field}.sentences[{index - 1}]"
    return f"{field}[{index}]" if len(request.inputs) > 1 else field


def _similarity_inputs(value: dict[str, Any], field: str, limits: Limits) -> dict[str, Any]:
    unknown = sorted(set(value) - {"source_sentence", "sentences"})
    if unknown:
        raise InvalidRequest(f"unknown field(s) in `{field}`: {', '.join(unknown)}", field=f"{field}.{unknown[0]}")
    source = value.get("source_sentence")
    if not isinstance(source, str) or not source.strip():
        raise InvalidRequest(f"`{field}.source_sentence` must be a non-empty string", field=f"{field}.source_sentence")
    if len(source) > limits.max_input_chars:
        raise InvalidRequest(
            f"`{field}.source_sentence` has {len(source)} characters; the limit is {limits.max_input_chars}",
            field=f"{field}.source_sentence",
        )
    sentences = value.get("sentences")
    if isinstance(sentences, str) or not isinstance(sentences, list):
        raise InvalidRequest(f"`{field}.sentences` must be a list of strings", field=f"{field}.sentences")
    return {"source_sentence": source, "sentences": _inputs(sentences, f"{field}.sentences", limits)}


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
