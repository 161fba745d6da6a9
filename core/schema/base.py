"""The base of the schema objects: validate a value, name the field at fault, state the JSON Schema."""

from __future__ import annotations

from typing import Any

from core.errors import InvalidRequest

JSON_TYPES = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}


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
            got = "null" if value is None else JSON_TYPES.get(type(value), type(value).__name__)
            raise invalid(where, f"must be {self.expects}, got {got}")
        return self.check(value, where)

    def json_schema(self) -> dict[str, Any]:
        schema = self.schema()
        return {**schema, "description": self.description} if self.description else schema


def invalid(where: str, problem: str) -> InvalidRequest:
    return InvalidRequest(f"{f'`{where}`' if where else 'the body'} {problem}", field=where or "body")
