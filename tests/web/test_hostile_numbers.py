"""Numbers no database stores or no parameter takes (web/validation.py `Unreadable`, core/schema.py ranges).

Python's json reads NaN, Infinity and -Infinity, which are no JSON (RFC 8259), and PostgreSQL's JSONB refuses
them: that was a 500. 1e400 reads as infinity, and an integer of over 4,300 digits was a 400 with the
interpreter's `int_max_str_digits` hint. Each is now refused before anything is stored, naming the field.
"""

import pytest

from catalog.tasks import PARAMETERS
from db import Job
from tests.conftest import queued_messages

JSON = {"content-type": "application/json"}


def generate(name: str, literal: str) -> str:
    """A text-generation request whose parameter `name` is the number `literal` as written."""
    return f'{{"model": "distilgpt2", "inputs": "a", "parameters": {{"{name}": {literal}}}}}'


LONG = "9" * 5000

HOSTILE = [
    # (case, raw body, status, field)
    ("NaN in a parameter", generate("temperature", "NaN"), 400, "parameters.temperature"),
    ("Infinity in a parameter", generate("top_p", "Infinity"), 400, "parameters.top_p"),
    ("-Infinity in a parameter", generate("seed", "-Infinity"), 400, "parameters.seed"),
    ("NaN in the inputs", '{"inputs": ["a", NaN]}', 400, "inputs[1]"),
    ("Infinity under an unknown field", '{"inputs": "a", "x": {"y": Infinity}}', 400, "x.y"),
    ("-Infinity as the body", "-Infinity", 400, "body"),
    ("a float beyond the float range", generate("temperature", "1e400"), 422, "parameters.temperature"),
    ("a negative one in the inputs", '{"inputs": -1e400}', 422, "inputs"),
    ("an integer of 5,000 digits", generate("max_new_tokens", LONG), 422, "parameters.max_new_tokens"),
    ("a negative one in a list", f'{{"inputs": ["a", -{LONG}]}}', 422, "inputs[1]"),
]


@pytest.mark.parametrize(("case", "body", "status", "field"), HOSTILE, ids=[c[0] for c in HOSTILE])
def test_a_number_that_is_not_finite_or_too_long_is_refused_naming_the_field(
    client, sender_stub, case, body, status, field
):
    response = client.simulate_post("/inference", body=body, headers=JSON)
    assert response.status_code == status, response.text
    assert response.json["field"] == field
    assert f"`{field}`" in response.json["description"]
    assert "int_max_str_digits" not in response.text and "Traceback" not in response.text
    assert len(response.text) < 500  # the literal is not echoed back whole
    assert Job.select().count() == 0 and queued_messages(sender_stub) == 0


def numeric(schema) -> bool:
    kind = schema.json_schema()["type"]
    return bool({"integer", "number"} & set(kind if isinstance(kind, list) else [kind]))


NUMERIC = [
    (task, name) for task, accepted in PARAMETERS.items() for name, schema in accepted.items() if numeric(schema)
]
MODELS = {"text-classification": "bert-base-multilingual-uncased-sentiment", "text-generation": "distilgpt2"}


@pytest.fixture(autouse=True)
def prepared(catalog, record_prepared):
    for name in MODELS.values():
        record_prepared(catalog.models[name])


def bounds(document: dict, task: str, name: str) -> tuple[float, float]:
    schema = document["components"]["schemas"]["".join(p.title() for p in task.split("-")) + "Parameters"]
    stated = schema["properties"][name]
    return stated.get("minimum", stated.get("exclusiveMinimum")), stated["maximum"]


def test_every_numeric_parameter_is_covered():
    assert len(NUMERIC) == 6 and {task for task, _ in NUMERIC} == set(MODELS)


@pytest.mark.parametrize(("task", "name"), NUMERIC, ids=[f"{t}.{n}" for t, n in NUMERIC])
def test_every_numeric_parameter_states_its_range_and_enforces_it(client, sender_stub, task, name):
    low, high = bounds(client.simulate_get("/openapi.json").json, task, name)
    assert low is not None and high is not None
    exclusive = "exclusiveMinimum" in PARAMETERS[task][name].json_schema()

    def post(value):
        body = {"model": MODELS[task], "inputs": "a", "parameters": {name: value}}
        return client.simulate_post("/inference", json=body)

    for value in (high * 2 + 1, low - 1, *([low] if exclusive else [])):
        refused = post(value)
        assert refused.status_code == 422 and refused.json["field"] == f"parameters.{name}", (value, refused.json)
    assert Job.select().count() == 0 and queued_messages(sender_stub) == 0
    assert post(high).status_code == 202


def test_a_float_literal_with_many_digits_that_is_finite_is_fine(client):
    body = generate("top_p", "0." + "5" * 5000)
    response = client.simulate_post("/inference", body=body, headers=JSON)
    assert response.status_code == 202, response.text
    assert 0.55 < Job.get_by_id(response.json["id"]).parameters["top_p"] < 0.56
