"""What each task accepts: its parameters, their types and ranges (Hugging Face pipeline names).

Light (no ML imports): the API validates requests with it, and the OpenAPI description is built from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.errors import InvalidRequest


@dataclass(frozen=True)
class Param:
    kind: type  # bool, int, float or list (of strings)
    description: str
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    nullable: bool = False
    max_items: int | None = None

    def check(self, name: str, value: Any) -> None:
        where = f"parameters.{name}"
        if value is None and self.nullable:
            return
        if not _is(value, self.kind):
            raise InvalidRequest(f"`{where}` must be {_KIND_NAMES[self.kind]}", field=where)
        if self.kind is list:
            if not all(isinstance(item, str) and item for item in value):
                raise InvalidRequest(f"`{where}` must be a list of non-empty strings", field=where)
            if self.max_items is not None and len(value) > self.max_items:
                raise InvalidRequest(f"`{where}` takes at most {self.max_items} items", field=where)
            return
        if self.minimum is not None and (value <= self.minimum if self.exclusive_minimum else value < self.minimum):
            bound = f"> {self.minimum}" if self.exclusive_minimum else f">= {self.minimum}"
            raise InvalidRequest(f"`{where}` must be {bound}, got {value}", field=where)
        if self.maximum is not None and value > self.maximum:
            raise InvalidRequest(f"`{where}` must be <= {self.maximum}, got {value}", field=where)


_KIND_NAMES = {bool: "a boolean", int: "an integer", float: "a number", list: "a list of strings"}


def _is(value: Any, kind: type) -> bool:
    if kind is bool:
        return isinstance(value, bool)
    if kind is int:  # 5.0 is an integer too (JSON Schema says so)
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, kind)


TRUNCATE = Param(bool, "cut inputs longer than the model's max length (default true); false makes them a 422")
PARAMETERS: dict[str, dict[str, Param]] = {
    "feature-extraction": {
        "normalize": Param(bool, "unit-length vectors (default: as the model's sentence-transformers config)"),
        "truncate": TRUNCATE,
    },
    "sentence-similarity": {"truncate": TRUNCATE},
    "text-classification": {
        "top_k": Param(int, "labels to return, best first (default 1; null for all)", 1, 10_000, nullable=True),
        "truncate": TRUNCATE,
    },
    "text-generation": {
        "max_new_tokens": Param(int, "tokens to generate (default 20)", 1, 512),
        "do_sample": Param(bool, "sample instead of greedy decoding (default false: deterministic)"),
        "temperature": Param(float, "sampling temperature (default 1.0)", 0.0, 100.0, exclusive_minimum=True),
        "top_k": Param(int, "sample among the k likeliest tokens (default 50; 0 disables)", 0, 100_000),
        "top_p": Param(float, "nucleus sampling mass (default 1.0)", 0.0, 1.0, exclusive_minimum=True),
        "seed": Param(int, "random seed for sampling: same seed, same text", 0, 2**32 - 1),
        "stop": Param(list, "stop generating at any of these strings (excluded from the output)", max_items=4),
        "return_full_text": Param(bool, "prefix the prompt to the generated text (default true)"),
        "truncate": TRUNCATE,
    },
}


def validate_parameters(task: str, parameters: Any) -> dict[str, Any]:
    if parameters is None:
        return {}
    if not isinstance(parameters, dict):
        raise InvalidRequest("`parameters` must be an object", field="parameters")
    allowed = PARAMETERS.get(task, {})
    unknown = sorted(set(parameters) - set(allowed))
    if unknown:
        accepted = ", ".join(sorted(allowed)) or "none"
        raise InvalidRequest(
            f"unknown parameter(s) for {task}: {', '.join(unknown)} (accepted: {accepted})",
            field=f"parameters.{unknown[0]}",
        )
    for name, value in parameters.items():
        allowed[name].check(name, value)
    return {
        name: int(value) if allowed[name].kind is int and isinstance(value, float) else value
        for name, value in parameters.items()
    }
