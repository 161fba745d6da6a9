"""JSON that parses but that we do not take (web/validation.py `check_json`): nested too deeply, or text
that no database stores (U+0000, unpaired surrogates: PostgreSQL's jsonb refuses both, which was a 500)."""

import json
from dataclasses import replace

import pytest
from falcon.testing import TestClient

from core.config import Config, ConfigError
from db import Job
from tests.conftest import queued_messages
from web import create_app

JSON = {"content-type": "application/json"}


def nested(depth: int) -> dict:
    """A request whose arrays and objects nest `depth` levels (the body object is level 1)."""
    value = "a"
    for _ in range(depth - 1):
        value = [value]
    return {"inputs": value}


def post(client, body):
    raw = body if isinstance(body, str) else json.dumps(body)
    return client.simulate_post("/inference", body=raw, headers=JSON)


def test_json_nested_deeper_than_the_limit_is_a_422_that_names_the_limit(client, sender_stub):
    response = post(client, nested(33))
    assert response.status_code == 422
    assert response.json["field"] == "body"
    assert "32 levels" in response.json["description"]
    assert Job.select().count() == 0 and queued_messages(sender_stub) == 0


def test_json_at_the_limit_passes_the_depth_check(client):
    response = post(client, nested(32))
    assert response.status_code == 422  # a list of lists is no input...
    assert response.json["field"] == "inputs[0]"  # ...but the depth was fine


def test_the_depth_limit_is_the_configured_one(config, database, sender_stub, catalog):
    client = TestClient(create_app(replace(config, max_json_depth=3), sender=sender_stub, catalog=catalog))
    similarity = {"source_sentence": "a", "sentences": ["b", "c"]}  # 3 deep, the deepest a request needs
    assert post(client, {"model": "all-MiniLM-L6-v2", "inputs": similarity}).status_code == 202
    refused = post(client, nested(4))
    assert refused.status_code == 422 and "limit of 3 levels" in refused.json["description"]
    assert post(client, {"inputs": "a", "parameters": {"normalize": [{}]}}).json["field"] == "body"


def test_very_deep_json_is_refused_before_it_is_parsed(client):
    response = post(client, "[" * 100_000 + "]" * 100_000)
    assert response.status_code == 422
    assert "deeper than the limit of 32 levels" in response.json["description"]


def test_max_json_depth_comes_from_the_environment_and_is_at_least_3():
    assert Config.from_env({}).max_json_depth == 32
    assert Config.from_env({"MAX_JSON_DEPTH": "8"}).max_json_depth == 8
    with pytest.raises(ConfigError, match="MAX_JSON_DEPTH"):
        Config.from_env({"MAX_JSON_DEPTH": "2"})


UNSTORABLE = [
    # (case, raw JSON body, field)
    ("U+0000 in an input", r'{"inputs": "a\u0000b"}', "inputs"),
    ("U+0000 in an item", r'{"inputs": ["ok", "\u0000"]}', "inputs[1]"),
    ("a lone high surrogate", r'{"text": "\ud800"}', "text"),
    ("a lone low surrogate in an item", r'{"inputs": ["ok", "x\udfff"]}', "inputs[1]"),
    ("U+0000 in a parameter name", r'{"inputs": "a", "parameters": {"\u0000": true}}', "parameters"),
    ("a surrogate in a field name", r'{"inputs": "a", "\udc00": 1}', "body"),
]


@pytest.mark.parametrize(("case", "body", "field"), UNSTORABLE, ids=[c[0] for c in UNSTORABLE])
def test_text_that_no_database_stores_is_a_422_that_leaves_no_trace(client, sender_stub, case, body, field):
    response = post(client, body)
    assert response.status_code == 422, response.text
    assert response.json["field"] == field
    assert "U+0000" in response.json["description"]
    assert Job.select().count() == 0 and queued_messages(sender_stub) == 0


def test_a_surrogate_pair_is_one_character_and_welcome(client):
    response = post(client, r'{"inputs": "Vai Corinthians \ud83c\udfc6"}')
    assert response.status_code == 202
    assert Job.get_by_id(response.json["id"]).inputs == ["Vai Corinthians \U0001f3c6"]


def test_a_body_of_more_json_values_than_max_json_nodes_is_a_413_naming_the_limit(app_for, worker):
    client = app_for(worker, max_json_nodes=100)
    body = {"inputs": "x", "parameters": {"unknown": [0] * 200}}  # small in bytes, many values
    response = client.simulate_post("/inference", json=body)
    assert response.status_code == 413
    assert "MAX_JSON_NODES" in response.json["description"] and "100" in response.json["description"]
    assert client.simulate_post("/inference", json={"inputs": ["a,b:[{"] * 60}).status_code == 202  # text counts once


def test_a_refusal_deep_in_the_body_still_names_its_field(app_for, worker):
    client = app_for(worker)
    response = client.simulate_post("/inference", json={"inputs": ["ok", "ok", "bad\u0000"]})
    assert response.status_code == 422 and response.json["field"] == "inputs[2]"
