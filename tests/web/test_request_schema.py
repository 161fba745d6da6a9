"""web/request.py: the request's schema objects validate exactly what the JSON Schema they state in
/openapi.json says, checked on generated JSON against jsonschema-rs (the validator schemathesis uses)."""

import jsonschema_rs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from catalog import Catalog
from catalog.tasks import PARAMETERS, parameters_schema
from core.errors import InvalidRequest
from web.request import RequestSchema
from web.validation import Limits

ALL_PARAMETERS = sorted({name for accepted in PARAMETERS.values() for name in accepted})


def test_every_numeric_parameter_has_a_documented_range():
    for task in PARAMETERS:
        properties = parameters_schema(task).json_schema()["properties"]
        for name, schema in properties.items():
            types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
            if {"integer", "number"} & set(types):
                assert "maximum" in schema and ({"minimum", "exclusiveMinimum"} & set(schema)), (task, name)


# Generated JSON, near what the schemas take (so that both answers come up often): their names, boundary
# numbers, texts fine or blank or too long (the limit is 3 here), and junk.
TEXTS = st.sampled_from(["a", "ok", "\ufeff", " a", "", " ", "\u3000", "a\x00", "abcd"])
SCALARS = (
    st.none()
    | st.booleans()
    | st.sampled_from([0, 1, 5, 512, 513, 10_000, 100_000, 2**32 - 1, 2**32, -1])
    | st.sampled_from([0.0, 0.5, 1.0, 1.5, 5.0, 100.0, 100.5, -0.5])
    | TEXTS
)
JUNK = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXTS, inner, max_size=3))


def parameter_values(names) -> st.SearchStrategy:
    values = SCALARS | st.lists(TEXTS, max_size=5)
    return st.one_of(st.none(), st.dictionaries(st.sampled_from([*names, "other"]), values, max_size=2), JUNK)


TEXT_LISTS = st.lists(TEXTS, min_size=1, max_size=4)
INPUTS = st.one_of(
    TEXTS,
    TEXT_LISTS,
    st.fixed_dictionaries({"source_sentence": TEXTS, "sentences": TEXT_LISTS}),
    st.dictionaries(st.sampled_from(["source_sentence", "sentences", "other"]), TEXTS | TEXT_LISTS | JUNK),
    JUNK,
)
MODELS = st.sampled_from([None, "gpt-17", "", 3, *Catalog.load().models])


@st.composite
def bodies(draw) -> object:
    """Mostly a request's shape with parts right or wrong; sometimes anything."""
    if draw(st.integers(0, 9)) == 0:
        return draw(JUNK)
    body = {draw(st.sampled_from(["inputs", "text"])): draw(INPUTS)}
    for name, values in (
        ("model", MODELS),
        ("parameters", parameter_values(ALL_PARAMETERS)),
        ("text", INPUTS),
        ("x", JUNK),
    ):
        if draw(st.integers(0, 9)) < {"model": 6, "parameters": 5}.get(name, 1):
            body[name] = draw(values)
    return body


def accepts(validate, value) -> bool:
    try:
        validate(value)
    except InvalidRequest:
        return False
    return True


@pytest.fixture(scope="module")
def request_and_validator():
    schema = RequestSchema(Catalog.load(), Limits(max_body_bytes=1000, max_inputs=3, max_input_chars=3))
    document = {"components": {"schemas": schema.json_schemas()}, "$ref": "#/components/schemas/InferenceRequest"}
    return schema, jsonschema_rs.Draft202012Validator(document)


VALIDATORS = {task: jsonschema_rs.Draft202012Validator(parameters_schema(task).json_schema()) for task in PARAMETERS}


@pytest.mark.parametrize("task", sorted(PARAMETERS))
@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(data=st.data())
def test_each_task_parameters_validate_exactly_what_their_json_schema_says(task, data):
    value = data.draw(parameter_values(PARAMETERS[task]))
    assert accepts(parameters_schema(task).validate, value) is VALIDATORS[task].is_valid(value)


@settings(max_examples=1000, deadline=None, derandomize=True, database=None)
@given(body=bodies())
def test_the_request_validates_exactly_what_its_json_schema_says(request_and_validator, body):
    schema, validator = request_and_validator
    assert accepts(schema.parse, body) is validator.is_valid(body)
