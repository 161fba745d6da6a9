"""core/schema.py: each object validates with clear messages naming the field, and states its JSON Schema
(that the two agree on generated JSON is tests/web/test_request_schema.py's)."""

import math

import pytest

from core.errors import InvalidRequest
from core.schema import AnyOf, Array, Boolean, Integer, Nullable, Number, Object, String


def refusal(schema, value, where="x") -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        schema.validate(value, where)
    return caught.value


def test_an_integer_takes_a_whole_float_and_gives_it_back_as_an_int():
    assert Integer(0, 10).validate(5.0) == 5 and type(Integer(0, 10).validate(5.0)) is int
    assert refusal(Integer(0, 10), 5.5).description == "`x` must be an integer, got number"
    assert refusal(Integer(0, 10), True).description == "`x` must be an integer, got boolean"


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_a_number_refuses_what_is_not_finite(value):
    error = refusal(Number(0.0, 1.0), value, "parameters.top_p")
    assert error.field == "parameters.top_p" and "finite" in error.description


def test_a_number_states_and_enforces_its_range():
    temperature = Number(0.0, 100.0, exclusive_minimum=True)
    assert temperature.json_schema() == {"type": "number", "exclusiveMinimum": 0.0, "maximum": 100.0}
    assert refusal(temperature, 0).description == "`x` must be > 0.0 and <= 100.0, got 0"
    assert refusal(Integer(1, 512), 10**60).description == f"`x` must be from 1 to 512, got {10**60}"
    with pytest.raises(TypeError):
        Integer(1)  # no range, no number


def test_a_string_refuses_nul_blank_and_long_text_with_the_field_named():
    text = String(max_length=3, blank=False)
    assert text.validate(" a ") == " a "
    assert refusal(text, "\u3000\t").description == "`x` must not be empty or only whitespace"
    assert refusal(text, "a\x00").description == "`x` must not hold U+0000"
    assert refusal(text, "abcd").description == "`x` has 4 characters; the limit is 3"


def test_array_items_are_named_by_their_index():
    texts = Array(String(min_length=1), min_items=1, max_items=2)
    assert refusal(texts, ["a", ""], "parameters.stop").field == "parameters.stop[1]"
    assert refusal(texts, [], "inputs").description == "`inputs` must not be empty"
    assert refusal(texts, ["a"] * 3, "inputs").description == "`inputs` has 3 items; the limit is 2"
    assert texts.expects == "a list of strings"


def test_an_object_names_unknown_missing_and_doubled_fields():
    body = Object({"inputs": String(), "flag": Boolean()}, required=("inputs",), aliases={"text": "inputs"})
    assert body.validate({"text": "a"}) == {"inputs": "a"}
    assert refusal(body, {"inputs": "a", "zz": 1}, "").field == "zz"
    assert refusal(body, {"text": None}, "").field == "inputs"  # a required field given as null is missing
    assert refusal(body, {"inputs": "a", "text": "b"}, "").field == "text"
    assert refusal(body, {"inputs": "a", "flag": None}, "").field == "flag"  # not nullable
    assert refusal(body, [], "").description == "the body must be an object, got array"
    with pytest.raises(ValueError):
        Object({"a": String()}, aliases={"b": "a"})  # an alias of an optional field


def test_any_of_checks_the_choice_of_the_value_type_and_needs_distinct_types():
    inputs = AnyOf((String(), Array(String())))
    assert refusal(inputs, ["a", 1], "inputs").field == "inputs[1]"
    assert refusal(inputs, 3, "inputs").description == "`inputs` must be a string or a list of strings, got number"
    with pytest.raises(ValueError):
        AnyOf((Integer(0, 1), Integer(2, 3)))


def test_nullable_adds_null_to_the_type():
    assert Nullable(Integer(1, 10)).json_schema() == {"type": ["integer", "null"], "minimum": 1, "maximum": 10}
    assert Nullable(Integer(1, 10)).validate(None) is None
