"""Schema objects: each validates a JSON value and describes itself as JSON Schema, from the same fields.

One object serves both ends, so what the API enforces and what `/openapi.json` states cannot drift apart:
`validate(value, where)` returns the value (normalized: 5.0 for an integer gives 5) or raises
`InvalidRequest` naming the field (`where`: "inputs[1]", "parameters.top_k"; "" is the body itself), and
`json_schema()` returns the JSON Schema (2020-12, as OpenAPI 3.1 takes it) of exactly what `validate` takes.
Numbers always carry a range: a `minimum` and a `maximum` are required, and non-finite floats are refused.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from core.errors import InvalidRequest

REF = "#/components/schemas/"  # where a `Named` schema lives (the OpenAPI document's components)
_JSON_TYPES = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}


def at(where: str, key: str | int) -> str:
    """The path of a member: `inputs` + 1 is `inputs[1]`, `parameters` + `top_k` is `parameters.top_k`."""
    if isinstance(key, int):
        return f"{where}[{key}]"
    return f"{where}.{key}" if where else key


class Schema:
    """The base: a type check that names what was expected, then the checks of the subclass."""

    noun = "value"  # what one is, for messages: "a string", "a list of strings"
    json_type = ""  # the JSON Schema `type`, for the checks `AnyOf` makes of its choices
    description = ""

    @property
    def expects(self) -> str:
        return f"{'an' if self.noun[0] in 'aeiou' else 'a'} {self.noun}"

    def matches(self, value: Any) -> bool:
        raise NotImplementedError

    def check(self, value: Any, where: str) -> Any:
        return value

    def schema(self) -> dict[str, Any]:
        raise NotImplementedError

    def validate(self, value: Any, where: str = "") -> Any:
        if not self.matches(value):
            got = "null" if value is None else _JSON_TYPES.get(type(value), type(value).__name__)
            raise invalid(where, f"must be {self.expects}, got {got}")
        return self.check(value, where)

    def json_schema(self) -> dict[str, Any]:
        schema = self.schema()
        return {**schema, "description": self.description} if self.description else schema


def invalid(where: str, problem: str) -> InvalidRequest:
    return InvalidRequest(f"{f'`{where}`' if where else 'the body'} {problem}", field=where or "body")


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
class Array(Schema):
    items: Schema
    min_items: int = 0
    max_items: int | None = None
    description: str = ""
    json_type = "array"

    @property
    def noun(self) -> str:
        return f"list of {self.items.noun}s"

    def matches(self, value: Any) -> bool:
        return isinstance(value, list)

    def check(self, value: Any, where: str) -> Any:
        if len(value) < self.min_items:
            raise invalid(
                where, "must not be empty" if self.min_items == 1 else f"takes {self.min_items} items or more"
            )
        if self.max_items is not None and len(value) > self.max_items:
            raise invalid(where, f"has {len(value)} items; the limit is {self.max_items}")
        return [self.items.validate(item, at(where, index)) for index, item in enumerate(value)]

    def schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "array", "items": self.items.json_schema()}
        if self.min_items:
            schema["minItems"] = self.min_items
        if self.max_items is not None:
            schema["maxItems"] = self.max_items
        return schema


@dataclass(frozen=True)
class Object(Schema):
    """An object with only these `properties`. A `required` one given as null counts as missing. An alias
    (`aliases`: alias -> property) names a required property another way: one of the two, not both; the
    value comes back under the property's own name."""

    properties: Mapping[str, Schema]
    required: tuple[str, ...] = ()
    aliases: Mapping[str, str] = field(default_factory=dict)
    description: str = ""
    title: str = ""
    shape: str = ""  # what to show in a type error instead of "an object": '{"a": "...", ...}'
    noun = "object"
    json_type = "object"

    def __post_init__(self):
        if not set(self.aliases.values()) <= set(self.required):
            raise ValueError("an alias names a required property")

    @property
    def expects(self) -> str:
        return f"an object {self.shape}" if self.shape else "an object"

    def matches(self, value: Any) -> bool:
        return isinstance(value, dict)

    def check_names(self, value: Any, where: str) -> None:
        """The type and the names, without the values: what every variant of a request has in common."""
        Schema.validate(self, value, where)
        accepted = sorted({*self.properties, *self.aliases})
        unknown = sorted(set(value) - set(accepted))
        if unknown:
            inside = f" in `{where}`" + (f" ({self.title})" if self.title else "") if where else ""
            raise InvalidRequest(
                f"unknown field(s){inside}: {', '.join(unknown)} (accepted: {', '.join(accepted) or 'none'})",
                field=at(where, unknown[0]),
            )

    def validate(self, value: Any, where: str = "") -> Any:
        self.check_names(value, where)
        result = {}
        for name, schema in self.properties.items():
            given = [key for key in (name, *(a for a, p in self.aliases.items() if p == name)) if key in value]
            if len(given) > 1:
                raise invalid(at(where, given[1]), f"is an alias of `{at(where, name)}`: give one of them, not both")
            key = given[0] if given else name
            if value.get(key) is None and name in self.required:
                raise invalid(at(where, name), f"is required: {schema.expects}")
            if key in value:
                result[name] = schema.validate(value[key], at(where, key))
        return result

    def schema(self) -> dict[str, Any]:
        properties = {name: schema.json_schema() for name, schema in self.properties.items()}
        properties.update({alias: properties[name] for alias, name in self.aliases.items()})
        schema: dict[str, Any] = {"title": self.title} if self.title else {}
        schema.update(type="object", properties=properties, additionalProperties=False)
        schema["required"] = [name for name in self.required if name not in self.aliases.values()]
        alternatives = [[{"required": [name]}, {"required": [alias]}] for alias, name in self.aliases.items()]
        if len(alternatives) == 1:
            schema["oneOf"] = alternatives[0]
        elif alternatives:
            schema["allOf"] = [{"oneOf": pair} for pair in alternatives]
        return schema


@dataclass(frozen=True)
class Nullable(Schema):
    """The schema, or null (which `validate` returns as None)."""

    inner: Schema
    description: str = ""

    @property
    def expects(self) -> str:
        return f"{self.inner.expects} or null"

    def matches(self, value: Any) -> bool:
        return value is None or self.inner.matches(value)

    def validate(self, value: Any, where: str = "") -> Any:
        return None if value is None else self.inner.validate(value, where)

    def schema(self) -> dict[str, Any]:
        schema = self.inner.json_schema()
        if isinstance(schema.get("type"), str):
            return {**schema, "type": [schema["type"], "null"]}
        return {"anyOf": [schema, {"type": "null"}]}


@dataclass(frozen=True)
class AnyOf(Schema):
    """One of `choices`, told apart by their JSON type (so each has its own): the value is checked by the
    choice of its type, and the errors are that choice's ("`inputs[1]` must be a string")."""

    choices: tuple[Schema, ...]
    description: str = ""

    def __post_init__(self):
        types = [choice.json_type for choice in self.choices]
        if "" in types or len(set(types)) < len(types):
            raise ValueError("the choices of AnyOf need distinct JSON types")

    @property
    def expects(self) -> str:
        return " or ".join(choice.expects for choice in self.choices)

    def validate(self, value: Any, where: str = "") -> Any:
        for choice in self.choices:
            if choice.matches(value):
                return choice.validate(value, where)
        return Schema.validate(self, value, where)  # no choice: "must be a string or a list of strings, got ..."

    def matches(self, value: Any) -> bool:
        return any(choice.matches(value) for choice in self.choices)

    def schema(self) -> dict[str, Any]:
        return {"anyOf": [choice.json_schema() for choice in self.choices]}


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


@dataclass(frozen=True)
class Named(Schema):
    """A schema that the document states once under `name` and refers to (`$ref`) wherever it is used."""

    name: str
    inner: Schema

    @property
    def expects(self) -> str:
        return self.inner.expects

    def matches(self, value: Any) -> bool:
        return self.inner.matches(value)

    def validate(self, value: Any, where: str = "") -> Any:
        return self.inner.validate(value, where)

    def json_schema(self) -> dict[str, Any]:
        return {"$ref": REF + self.name}


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
