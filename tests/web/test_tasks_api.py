"""Each task's request shape and parameters through the API (validation only: nothing runs here)."""

from dataclasses import replace

import pytest
from falcon.testing import TestClient

from actors.fleet import record_prepared
from catalog.tokens import TokenCounter
from db import Job
from tests.conftest import queued_messages
from web import create_app

pytestmark = pytest.mark.slow


@pytest.fixture
def client(config, database, sender_stub, tiny):
    """The API as the embedded mode builds it: the models are at hand, so `truncate: false` is checked at
    once (a 422); an API without them leaves it to the worker (tests/web/test_health_and_models.py)."""
    catalog, _, models, _ = tiny
    for spec in catalog:
        record_prepared(models / spec.name)  # what `inference-api models prepare` writes
    tokens = TokenCounter(models)
    return TestClient(
        create_app(replace(config, models_dir=models), sender=sender_stub, catalog=catalog, tokens=tokens)
    )


@pytest.mark.parametrize(
    ("body", "task"),
    [
        ({"model": "all-MiniLM-L6-v2", "inputs": "hi"}, "feature-extraction"),
        (
            {"model": "all-MiniLM-L6-v2-int8", "inputs": {"source_sentence": "a", "sentences": ["b", "c"]}},
            "sentence-similarity",
        ),
        (
            {"model": "tiny-bert-classifier", "inputs": ["good", "bad"], "parameters": {"top_k": None}},
            "text-classification",
        ),
        (
            {
                "model": "tiny-gpt2",
                "inputs": "hello",
                "parameters": {"max_new_tokens": 5, "do_sample": True, "seed": 3},
            },
            "text-generation",
        ),
    ],
)
def test_each_task_is_accepted_and_recorded_with_its_task(client, sender_stub, body, task):
    response = client.simulate_post("/inference", json=body)
    assert response.status_code == 202, response.json
    assert response.json["task"] == task
    assert Job.get_by_id(response.json["id"]).inputs == (
        body["inputs"] if not isinstance(body["inputs"], str) else [body["inputs"]]
    )
    assert queued_messages(sender_stub) == 1


BAD = [
    ({"model": "tiny-bert-classifier", "inputs": {"source_sentence": "a", "sentences": ["b"]}}, "inputs"),
    ({"inputs": {"source_sentence": "a"}}, "inputs.sentences"),
    ({"inputs": {"source_sentence": "", "sentences": ["b"]}}, "inputs.source_sentence"),
    ({"inputs": {"source_sentence": "a", "sentences": ["b", 2]}}, "inputs.sentences[1]"),
    ({"inputs": {"source_sentence": "a", "sentences": [], "x": 1}}, "inputs.x"),
    (
        {"inputs": {"source_sentence": "a", "sentences": ["b"]}, "parameters": {"normalize": True}},
        "parameters.normalize",
    ),
    ({"model": "tiny-bert-classifier", "inputs": "a", "parameters": {"top_k": 0}}, "parameters.top_k"),
    ({"model": "tiny-gpt2", "inputs": "a", "parameters": {"max_new_tokens": 513}}, "parameters.max_new_tokens"),
    ({"model": "tiny-gpt2", "inputs": "a", "parameters": {"temperature": 0}}, "parameters.temperature"),
    ({"model": "tiny-gpt2", "inputs": "a", "parameters": {"top_p": 1.5}}, "parameters.top_p"),
    ({"model": "tiny-gpt2", "inputs": "a", "parameters": {"stop": ["a", ""]}}, "parameters.stop[1]"),
    ({"model": "tiny-gpt2", "inputs": "a", "parameters": {"seed": -1}}, "parameters.seed"),
    ({"model": "tiny-gpt2", "inputs": "a", "parameters": {"normalize": True}}, "parameters.normalize"),
    ({"inputs": "word " * 300, "parameters": {"truncate": False}}, "inputs"),
    ({"inputs": ["ok", "word " * 300], "parameters": {"truncate": False}}, "inputs[1]"),
    ({"model": "tiny-bert-classifier", "inputs": "good " * 70, "parameters": {"truncate": False}}, "inputs"),
    ({"model": "tiny-gpt2", "inputs": "the " * 120, "parameters": {"truncate": False, "max_new_tokens": 20}}, "inputs"),
]


@pytest.mark.parametrize(("body", "field"), BAD, ids=[field for _, field in BAD])
def test_a_request_a_task_cannot_take_is_a_422_naming_the_field(client, sender_stub, body, field):
    response = client.simulate_post("/inference", json=body)
    assert response.status_code == 422, response.json
    assert response.json["field"] == field
    assert Job.select().count() == 0 and queued_messages(sender_stub) == 0


def test_truncate_false_accepts_what_fits(client):
    response = client.simulate_post("/inference", json={"inputs": "word " * 200, "parameters": {"truncate": False}})
    assert response.status_code == 202


def test_models_shows_every_task_with_what_is_prepared(client):
    models = {m["name"]: m for m in client.simulate_get("/models").json["models"]}
    assert models["all-MiniLM-L6-v2"]["tasks"] == ["feature-extraction", "sentence-similarity"]
    assert models["all-MiniLM-L6-v2-int8"]["quantization"] == "int8-dynamic-per-channel"
    assert models["all-MiniLM-L6-v2-int8"]["onnx_bytes"] < models["all-MiniLM-L6-v2"]["onnx_bytes"]
    assert models["tiny-bert-classifier"]["labels"] == ["negative", "neutral", "positive"]
    assert models["tiny-gpt2"]["max_length"] == 128
    assert all(m["prepared"] for m in models.values())
