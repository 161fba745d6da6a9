"""The scalar schemas: booleans, numbers in a range, strings, and fixed values."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from typing import Any

from core.schema.base import Schema, invalid


@dataclass(frozen=True)
class Boolean(Schema):
    description: str = ""
    noun = "boolean"
    json_type = "boolean"

    def matches(self, value: Any) -> bool:
        return isinstance(value, bool)

    def schema(self) -> dict[str, Any]:
        return {"type": "boolean"}


@dataclass(frozen=True)
class Number(Schema):
    """A finite number from `minimum` (or above it, with `exclusive_minimum`) to `maximum`."""

    minimum: float
    maximum: float
    description: str = ""
    exclusive_minimum: bool = False
    noun = "number"
    json_type = "number"

    def matches(self, value: Any) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool)

    def check(self, value: Any, where: str) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            raise invalid(where, f"must be a finite number, got {value}")
        low = value <= self.minimum if self.exclusive_minimum else value < self.minimum
        if low or value > self.maximum:
            low = f"> {self.minimum} and <= " if self.exclusive_minimum else f"from {self.minimum} to "
            raise invalid(where, f"must be {low}{self.maximum}, got {value}")
        return value

    def schema(self) -> dict[str, Any]:
        low = "exclusiveMinimum" if self.exclusive_minimum else "minimum"
        return {"type": self.json_type, low: self.minimum, "maximum": self.maximum}


@dataclass(frozen=True)
class Integer(Number):
    """A whole number in range; 5.0 is one too (JSON Schema says so) and comes back as 5."""

    noun = "integer"
    json_type = "integer"

    def matches(self, value: Any) -> bool:
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )

    def check(self, value: Any, where: str) -> Any:
        return int(super().check(value, where))


@dataclass(frozen=True)
class String(Schema):
    """A string without U+0000, of `min_length` to `max_length` characters; `blank=False` also refuses one
    that `str.strip` empties (the pattern states the same with the very characters `str.isspace` counts)."""

    max_length: int | None = None
    min_length: int = 0
    blank: bool = True
    description: str = ""
    noun = "string"
    json_type = "string"

    def matches(self, value: Any) -> bool:
        return isinstance(value, str)

    def check(self, value: Any, where: str) -> Any:
        if "\x00" in value:
            raise invalid(where, "must not hold U+0000")
        if len(value) < self.min_length or not (self.blank or value.strip()):
            raise invalid(where, "must not be empty" + ("" if self.blank else " or only whitespace"))
        if self.max_length is not None and len(value) > self.max_length:
            raise invalid(where, f"has {len(value)} characters; the limit is {self.max_length}")
        return value

    def schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "string"}
        if self.min_length or not self.blank:
            schema["minLength"] = max(self.min_length, 1)
        if self.max_length is not None:
            schema["maxLength"] = self.max_length
        text = "[^\\u0000]*"
        schema["pattern"] = f"^{text}$" if self.blank else f"^{text}[^\\u0000{whitespace()}]{text}$"
        return schema


@dataclass(frozen=True)
class Enum(Schema):
    values: tuple[Any, ...]
    description: str = ""

    @property
    def expects(self) -> str:
        return "one of " + ", ".join(repr(value) for value in self.values)

    def matches(self, value: Any) -> bool:
        return any(type(value) is type(known) and value == known for known in self.values)

    def schema(self) -> dict[str, Any]:
        return {"const": self.values[0]} if len(self.values) == 1 else {"enum": list(self.values)}


@cache
def whitespace() -> str:
    """Every character `str.isspace` (so `str.strip`) counts as whitespace, as a regex class body: the same
    set in any regex dialect, where `\\s` differs (ECMA-262 adds U+FEFF, Python adds U+001C to U+001F)."""
    return char_class(i for i in range(0x110000) if chr(i).isspace())


def char_class(code_points) -> str:
    """Code points as `\\uXXXX` escapes and `\\uXXXX-\\uYYYY` ranges, for inside `[...]`."""
    ranges: list[list[int]] = []
    for point in code_points:
        if ranges and point == ranges[-1][1] + 1:
            ranges[-1][1] = point
        else:
            ranges.append([point, point])
    return "".join(f"\\u{a:04x}" if a == b else f"\\u{a:04x}-\\u{b:04x}" for a, b in ranges)
