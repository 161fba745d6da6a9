"""What each task accepts: its parameters, their types and ranges (Hugging Face pipeline names).

Light (no ML imports): the API validates requests with these schema objects, and the OpenAPI description
is derived from the very same objects (`core.schema`), so a rule and its description cannot disagree.
Every numeric parameter has a range (the schema objects require one), enforced and documented.
"""

from __future__ import annotations

from core.schema import Array, Boolean, Integer, Nullable, Number, Object, Schema, String

# The task names (Hugging Face pipeline names), for code that picks by task rather than spelling them out.
FEATURE_EXTRACTION = "feature-extraction"
SENTENCE_SIMILARITY = "sentence-similarity"
TEXT_CLASSIFICATION = "text-classification"
TEXT_GENERATION = "text-generation"

DEFAULT_MAX_NEW_TOKENS = 20  # text generation's `max_new_tokens` when a request names none

TRUNCATE = Boolean("cut inputs longer than the model's max length (default true); false makes them a 422")
PARAMETERS: dict[str, dict[str, Schema]] = {
    FEATURE_EXTRACTION: {
        "normalize": Boolean("unit-length vectors (default: as the model's sentence-transformers config)"),
        "truncate": TRUNCATE,
    },
    SENTENCE_SIMILARITY: {"truncate": TRUNCATE},
    TEXT_CLASSIFICATION: {
        "top_k": Nullable(Integer(1, 10_000), "labels to return, best first (default 1; null for all)"),
        "truncate": TRUNCATE,
    },
    TEXT_GENERATION: {
        "max_new_tokens": Integer(1, 512, f"tokens to generate an input (default {DEFAULT_MAX_NEW_TOKENS})"),
        "do_sample": Boolean("sample instead of greedy decoding (default false: deterministic)"),
        "temperature": Number(0.0, 100.0, "sampling temperature (default 1.0)", exclusive_minimum=True),
        "top_k": Integer(0, 100_000, "sample among the k likeliest tokens (default 50; 0 disables)"),
        "top_p": Number(0.0, 1.0, "nucleus sampling mass (default 1.0)", exclusive_minimum=True),
        "seed": Integer(0, 2**32 - 1, "random seed for sampling: same seed, same text"),
        "stop": Array(
            String(min_length=1), max_items=4, description="stop generating at any of these strings (not in the output)"
        ),
        "return_full_text": Boolean("prefix the prompt to the generated text (default true)"),
        "truncate": TRUNCATE,
    },
}


def parameters_schema(task: str, note: str = "") -> Nullable:
    """A task's `parameters`: an object of only its own parameters, or null (omitted or null: the defaults);
    `note`: a rule of the request's beyond these objects, for its description (text generation's cap)."""
    parameters = Object(PARAMETERS.get(task, {}), title=f"{task} parameters")
    return Nullable(parameters, "omitted or null: the defaults" + (f"; {note}" if note else ""))
