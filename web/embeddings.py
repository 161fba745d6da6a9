"""POST /v1/embeddings' body, defined once: `EmbeddingsSchema` validates it and is what `/openapi.json`
states (`Named("EmbeddingsRequest", ...)`), as `web.request.RequestSchema` is for POST /inference.

OpenAI's fields: `model` (an embedding model of the catalog; omitted or null: the default), `input` (one
text or a list of texts, with the limits of POST /inference), `encoding_format` (`float` or `base64`),
`dimensions` and `user`. Two of OpenAI's options are refused, in the schema and by validation alike:
`input` as token ids (they are ids of OpenAI's tokenizer, tiktoken, which our models would misread), and
`dimensions` (these models make embeddings of one size and cannot shorten them; OpenAI refuses it as
well for models without that option). Errors are 422 in OpenAI's shape (`web.openai_errors`), with a
`code` where OpenAI has one (docs/api.md#openai-compatibility).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import falcon

from catalog import Catalog, ModelSpec
from catalog.tasks import FEATURE_EXTRACTION
from core.schema import AnyOf, Array, Enum, Named, Nullable, Object, String
from web.openai_errors import invalid
from web.request import InferenceRequest
from web.validation import Limits

ENCODINGS = ("float", "base64")
TOKEN_IDS = (
    "`input` as token ids is not supported: send the text, a string or a list of strings "
    "(LangChain: OpenAIEmbeddings(check_embedding_ctx_length=False))"
)


@dataclass(frozen=True)
class EmbeddingsRequest:
    request: InferenceRequest  # the job it stands for: a feature-extraction job, without parameters
    encoding: str  # how the answer writes the vectors


def embedding_models(catalog: Catalog) -> list[ModelSpec]:
    """The catalog's models that make embeddings, the default first."""
    return sorted(
        (spec for spec in catalog if spec.task == FEATURE_EXTRACTION), key=lambda spec: spec.name != catalog.default
    )


class EmbeddingsSchema:
    """The body's schema object for one catalog and one set of limits."""

    def __init__(self, catalog: Catalog, limits: Limits):
        self.catalog = catalog
        self.models = [spec.name for spec in embedding_models(catalog)]
        text = String(
            max_length=limits.max_input_chars,
            blank=False,
            description=f"at most {limits.max_input_chars} characters, not all whitespace",
        )
        self.body = Object(
            {
                "model": Enum(
                    (*self.models, None), "an embedding model (GET /v1/models); omitted or null: the default"
                ),
                "input": AnyOf(
                    (text, Array(text, min_items=1, max_items=limits.max_inputs)),
                    "one text, or a list of texts (token ids are refused: send text)",
                ),
                "encoding_format": Enum((*ENCODINGS, None), "`float` (default) or `base64` (little-endian float32)"),
                "dimensions": Enum(
                    (None,), "not supported: these models make embeddings of one size (GET /models/{name}); omit it"
                ),
                "user": Nullable(String(), "accepted and ignored"),
            },
            required=("input",),
            description="OpenAI's embeddings request",
            shape='{"input": "..." or ["...", ...], "model": "..."}',
        )
        self.named = Named("EmbeddingsRequest", self.body)

    def parse(self, body: Any) -> EmbeddingsRequest:
        """The request `body` stands for, or an OpenAI-shaped 422 (`InvalidRequest` from the schema object
        is shaped so by the error serializer) naming the field at fault."""
        self.body.check_names(body, "")
        spec = self._model(body.get("model"))
        _refuse_token_ids(body.get("input"))
        if body.get("dimensions") is not None:
            raise invalid(
                f"model {spec.name!r} has no `dimensions` option (it cannot shorten its embeddings): omit `dimensions`",
                "dimensions",
                code="unsupported_parameter",
            )
        fields = self.body.validate(body)
        texts = [fields["input"]] if isinstance(fields["input"], str) else fields["input"]
        request = InferenceRequest(spec, FEATURE_EXTRACTION, texts, {})
        return EmbeddingsRequest(request, fields.get("encoding_format") or "float")

    def _model(self, name: Any) -> ModelSpec:
        if name is not None and (not isinstance(name, str) or not name):
            raise invalid("`model` must be a non-empty string (or omitted for the default model)", "model")
        spec = self.catalog.get(name)
        if spec is None or spec.task != FEATURE_EXTRACTION:
            raise model_not_found(name or self.catalog.default, self.catalog)
        return spec


def model_not_found(name: Any, catalog: Catalog, *, status=falcon.HTTPUnprocessableEntity) -> falcon.HTTPError:
    """As POST /inference: an unknown model in a body is a 422 on `model` (404 on a path)."""
    known = ", ".join(spec.name for spec in embedding_models(catalog)) or "none"
    spec = catalog.models.get(name) if isinstance(name, str) else None
    what = f"model {name!r} does {spec.task}, not embeddings" if spec else f"no embedding model {name!r}"
    error = status(
        title="Unknown model", description=f"{what}; available: {known} (see GET /v1/models)", code="model_not_found"
    )
    error.field = "model"
    return error


def _refuse_token_ids(value: Any) -> None:
    """A list of integers, or a list of such lists: OpenAI's token ids, refused with what to send instead."""
    items = value if isinstance(value, list) and value else [""]
    ids = all(isinstance(item, int) and not isinstance(item, bool) for item in items)
    if ids or all(isinstance(item, list) for item in items):
        raise invalid(TOKEN_IDS, "input", code="unsupported_input")
