"""Schema objects: each validates a JSON value and describes itself as JSON Schema, from the same fields.

One object serves both ends, so what the API enforces and what `/openapi.json` states cannot drift apart:
`validate(value, where)` returns the value (normalized: 5.0 for an integer gives 5) or raises
`InvalidRequest` naming the field (`where`: "inputs[1]", "parameters.top_k"; "" is the body itself), and
`json_schema()` returns the JSON Schema (2020-12, as OpenAPI 3.1 takes it) of exactly what `validate` takes.
Numbers always carry a range: a `minimum` and a `maximum` are required, and non-finite floats are refused.
"""

from core.schema.base import Schema, at, invalid
from core.schema.compound import REF, AnyOf, Array, Named, Nullable, Object
from core.schema.scalars import Boolean, Enum, Integer, Number, String, char_class, whitespace

__all__ = [
    "REF",
    "AnyOf",
    "Array",
    "Boolean",
    "Enum",
    "Integer",
    "Named",
    "Nullable",
    "Number",
    "Object",
    "Schema",
    "String",
    "at",
    "char_class",
    "invalid",
    "whitespace",
]
