"""POST /inference's body, defined once: validation and `/openapi.json` both come from `RequestSchema`.

The body is one shape per model and task it can reach (a variant): the model's name (omitted or null: the
default model), `inputs` or its alias `text` (the old API's field), and the task's `parameters`. Each
variant is a `core.schema.Object`; the model picks the variant (and, for an embedding model, similarity
inputs pick sentence-similarity), then that object validates the body and is the document's `anyOf` entry.
One rule spans two fields, and is checked after the objects and stated in the parameters' description: a
text-generation job asks for at most `max_generated_tokens` new tokens, its inputs times `max_new_tokens`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from catalog import Catalog, ModelSpec
from catalog.tasks import (
    DEFAULT_MAX_NEW_TOKENS,
    PARAMETERS,
    SENTENCE_SIMILARITY,
    TEXT_GENERATION,
    parameters_schema,
)
from catalog.tokens import TokenCounter
from core.errors import InvalidRequest
from core.schema import AnyOf, Array, Enum, Named, Object, Schema, String
from web.validation import Limits

SIMILARITY = SENTENCE_SIMILARITY


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


def reachable_tasks(spec: ModelSpec) -> tuple[str, ...]:
    """The tasks a request can reach on this model: a sentence-similarity model takes only similarity
    inputs; an embedding model takes both (similarity inputs pick sentence-similarity)."""
    return (SIMILARITY,) if spec.task == SIMILARITY else spec.tasks


def parameters_name(task: str) -> str:
    return "".join(part.title() for part in task.split("-")) + "Parameters"


class RequestSchema:
    """The request's schema objects for one catalog and one set of limits."""

    def __init__(self, catalog: Catalog, limits: Limits, extra: Mapping[str, Schema] | None = None):
        self.catalog = catalog
        self.max_generated_tokens = limits.max_generated_tokens
        self.extra = dict(extra or {})  # optional fields of every variant (`webhook`, `webhook_events`)
        text = String(
            max_length=limits.max_input_chars,
            blank=False,
            description=f"at most {limits.max_input_chars} characters, not all whitespace",
        )
        texts = Array(text, min_items=1, max_items=limits.max_inputs)
        similarity = Object(
            {"source_sentence": text, "sentences": texts},
            required=("source_sentence", "sentences"),
            description="sentence-similarity: how close each sentence is to the source sentence",
            shape='{"source_sentence": "...", "sentences": ["...", ...]}',
        )
        inputs = AnyOf((text, texts), "one text, or a list of texts (one job; the output aligns with them)")
        named = [Named("Text", text), Named("Inputs", inputs), Named("SimilarityInputs", similarity)]
        notes = {
            TEXT_GENERATION: f"inputs x max_new_tokens at most {limits.max_generated_tokens} new tokens a job "
            "(MAX_GENERATED_TOKENS), else 422"
        }
        named += [
            Named(parameters_name(task), parameters_schema(task, notes.get(task, ""))) for task in sorted(PARAMETERS)
        ]
        self.named = {schema.name: schema for schema in named}
        default_first = sorted(catalog, key=lambda spec: spec.name != catalog.default)
        self.variants = {
            (spec.name, task): self._variant(spec, task) for spec in default_first for task in reachable_tasks(spec)
        }

    def _variant(self, spec: ModelSpec, task: str) -> Object:
        default = spec.name == self.catalog.default
        inputs = self.named["SimilarityInputs" if task == SIMILARITY else "Inputs"]
        properties: dict[str, Schema] = {
            "model": Enum((spec.name, None) if default else (spec.name,)),
            "inputs": inputs,
            "parameters": self.named[parameters_name(task)],
            **self.extra,
        }
        required = ("inputs",) if default else ("model", "inputs")
        return Object(properties, required, aliases={"text": "inputs"}, title=f"{spec.name}: {task}")

    def parse(self, body: Any, tokens: TokenCounter | None = None) -> InferenceRequest:
        """The request `body` stands for, or `InvalidRequest` naming the field at fault."""
        next(iter(self.variants.values())).check_names(body, "")  # the names are the same in every variant
        spec = self._model(body.get("model"))
        value = body["text"] if "text" in body else body.get("inputs")
        similar = spec.task == SIMILARITY or (isinstance(value, dict) and SIMILARITY in spec.tasks)
        task = SIMILARITY if similar else spec.task
        fields = self.variants[spec.name, task].validate(body)
        inputs = [fields["inputs"]] if isinstance(fields["inputs"], str) else fields["inputs"]
        request = InferenceRequest(spec, task, inputs, fields.get("parameters") or {})
        if task == TEXT_GENERATION:
            _check_generated(request, "text" if "text" in body else "inputs", self.max_generated_tokens)
        if tokens is not None and request.parameters.get("truncate") is False:
            _check_lengths(request, "text" if "text" in body else "inputs", tokens)
        return request

    def _model(self, name: Any) -> ModelSpec:
        """The model that picks the variant, told apart here so that an unknown one lists the known ones."""
        if name is not None and (not isinstance(name, str) or not name):
            raise InvalidRequest("`model` must be a non-empty string (or omitted for the default model)", field="model")
        spec = self.catalog.get(name)
        if spec is None:
            known = ", ".join(sorted(self.catalog.models))
            raise InvalidRequest(f"unknown model {name!r}; available: {known} (see GET /models)", field="model")
        return spec

    def json_schemas(self) -> dict[str, Any]:
        """The document's component schemas: the request (one variant a model and task) and its parts."""
        variants = [variant.json_schema() for variant in self.variants.values()]
        if "webhook_events" in self.extra:  # `web.webhooks.WebhookPolicy.parse` refuses events without a URL
            variants = [{**variant, "dependentRequired": {"webhook_events": ["webhook"]}} for variant in variants]
        request = {
            "description": "one shape a model and task: the model's name (omitted or null: the default model), "
            "`inputs` or its alias `text` (the old API's field), and the task's `parameters`",
            "anyOf": variants,
        }
        return {"InferenceRequest": request, **{name: named.inner.json_schema() for name, named in self.named.items()}}


def _check_lengths(request: InferenceRequest, field: str, tokens: TokenCounter) -> None:
    """With `truncate: false`, an input longer than the model takes is refused now rather than failed later."""
    counted = tokens.count(request.spec.name, request.texts)
    if counted is None:
        return  # not prepared on this host: the worker checks it and fails the job with the reason
    counts, max_length = counted
    if request.task == TEXT_GENERATION:
        max_length -= request.parameters.get("max_new_tokens", DEFAULT_MAX_NEW_TOKENS)
    for index, count in enumerate(counts):
        if count > max_length:
            where = _where(request, field, index)
            raise InvalidRequest(
                f"`{where}` has {count} tokens; model {request.spec.name!r} takes {max_length} and truncate is false",
                field=where,
            )


def _check_generated(request: InferenceRequest, field: str, cap: int) -> None:
    """A text-generation job asks for at most `cap` new tokens (`MAX_GENERATED_TOKENS`): its work, bounded
    well within the worker's time bound (`BATCH_TIMEOUT`)."""
    each = request.parameters.get("max_new_tokens", DEFAULT_MAX_NEW_TOKENS)
    asked = len(request.inputs) * each
    if asked > cap:
        where = "parameters.max_new_tokens" if "max_new_tokens" in request.parameters else field
        raise InvalidRequest(
            f"{len(request.inputs)} inputs x max_new_tokens {each} = {asked} new tokens; the limit is {cap} a job "
            "(MAX_GENERATED_TOKENS): send fewer inputs or a smaller max_new_tokens",
            field=where,
        )


def _where(request: InferenceRequest, field: str, index: int) -> str:
    if isinstance(request.inputs, dict):
        return f"{field}.source_sentence" if index == 0 else f"{field}.sentences[{index - 1}]"
    return f"{field}[{index}]" if len(request.inputs) > 1 else field
