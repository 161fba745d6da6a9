"""The compound schemas: lists, objects, null or a schema, one of several, and named ones (`$ref`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.errors import InvalidRequest
from core.schema.base import Schema, at, invalid

REF = "#/components/schemas/"  # where a `Named` schema lives (the OpenAPI document's components)


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
