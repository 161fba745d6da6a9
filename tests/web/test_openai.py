"""The OpenAI-compatible routes (/v1/embeddings, /v1/models): shapes, errors in OpenAI's shape, auth.

The worker here is a stand-in that finishes each job as it is sent, with made-up vectors: these tests are
about the HTTP surface. tests/test_openai_client.py runs the official client against the real model.
"""

from __future__ import annotations

import base64
import dataclasses
import struct
import threading
from collections.abc import Callable
from dataclasses import replace

import pytest
from falcon.testing import TestClient

from actors.sending import Sender, open_sender
from db import Job, Status
from db.fleet import PreparedModel
from db.lifecycle import Failure
from tests.conftest import queued_messages
from tests.servers import free_port
from web import create_app
from web.resources import openai

KEY = "key-5f3a"


def fake_embeddings(job: Job) -> None:
    """What a worker would save: one vector and token count per input (values easy to check)."""
    job.finish(
        Status.SUCCEEDED,
        output=[
            {"embedding": [float(len(text)), 0.5, -0.25, 1 / 3], "tokens": len(text.split()) + 2, "truncated": False}
            for text in job.inputs
        ],
    )


@dataclasses.dataclass
class InstantWorker(Sender):
    """Sends as usual (the message is queued), then does at once what a worker would do with it."""

    outcome: Callable[[Job], None] = fake_embeddings

    def enqueue(self, *job_ids) -> None:
        super().enqueue(*job_ids)
        for job_id in job_ids:
            self.outcome(Job.claim(job_id))


@pytest.fixture
def worker(database):
    sender = open_sender("stub://")
    worker = InstantWorker(sender.broker, sender.actor)
    yield worker
    sender.broker.flush_all()


@pytest.fixture
def models(database):
    """all-MiniLM-L6-v2 recorded as prepared in the database: its manifest there is all the API reads."""
    manifest = {
        "name": "all-MiniLM-L6-v2",
        "task": "feature-extraction",
        "dimensions": 384,
        "files": {"model.onnx": "0" * 64},
        "prepared_at": "2026-11-26T15:10:37+00:00",
    }
    PreparedModel.record(manifest)


@pytest.fixture
def app_for(config, catalog, models):
    def build(sender, **changes):
        return TestClient(create_app(replace(config, **changes), sender=sender, catalog=catalog))

    return build


@pytest.fixture
def api(app_for, worker):
    return app_for(worker)


def embed(client, body, **headers):
    return client.simulate_post("/v1/embeddings", json=body, headers=headers)


def assert_openai_error(response, status: int, *, param=None, kind="invalid_request_error", code=None) -> str:
    """The response is OpenAI's error shape with this status; returns the message."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert (error["type"], error["param"]) == (kind, param), error
    if code is not None:
        assert error["code"] == code, error
    assert error["message"]
    return error["message"]


def test_a_list_of_texts_gets_one_embedding_each_in_order_with_the_token_usage(api):
    response = embed(api, {"model": "all-MiniLM-L6-v2", "input": ["Bom dia", "Vai Corinthians agora"]})
    assert response.status_code == 200, response.text
    assert response.json == {
        "object": "list",
        "data": [
            {"object": "embedding", "index": 0, "embedding": [7.0, 0.5, -0.25, 1 / 3]},
            {"object": "embedding", "index": 1, "embedding": [21.0, 0.5, -0.25, 1 / 3]},
        ],
        "model": "all-MiniLM-L6-v2",
        "usage": {"prompt_tokens": 4 + 5, "total_tokens": 4 + 5},
    }


def test_each_request_is_one_job_recorded_like_post_inference(api, worker):
    response = embed(api, {"model": "all-MiniLM-L6-v2", "input": "Vai Corinthians", "user": "someone"})
    job = Job.get()
    assert response.headers["location"] == f"/inference/{job.id}"
    assert (job.model, job.task, job.inputs, job.status, job.awaited) == (
        "all-MiniLM-L6-v2",
        "feature-extraction",
        ["Vai Corinthians"],
        "succeeded",
        True,  # answered in the call: its notification carries it
    )
    assert queued_messages(worker) == 1
    assert api.simulate_get(f"/inference/{job.id}").json["status"] == "succeeded"


def test_a_string_input_gets_one_embedding_and_no_model_means_the_default(api):
    response = embed(api, {"input": "Vai Corinthians"})
    assert response.status_code == 200
    assert [d["index"] for d in response.json["data"]] == [0]
    assert response.json["model"] == "all-MiniLM-L6-v2"


def test_base64_is_the_little_endian_float32_bytes_of_the_floats(api):
    texts = ["a", "three words here"]
    floats = embed(api, {"input": texts, "encoding_format": "float"}).json["data"]
    encoded = embed(api, {"input": texts, "encoding_format": "base64"}).json["data"]
    for as_float, as_base64 in zip(floats, encoded, strict=True):
        raw = base64.b64decode(as_base64["embedding"])
        decoded = struct.unpack(f"<{len(raw) // 4}f", raw)
        assert decoded == pytest.approx(as_float["embedding"], rel=1e-7)
        assert decoded[3] != as_float["embedding"][3]  # float32, not float64: 1/3 is rounded


@pytest.mark.parametrize("value", ["float16", "", 1, "BASE64"])
def test_an_unknown_encoding_format_is_refused_naming_it(api, value):
    message = assert_openai_error(embed(api, {"input": "x", "encoding_format": value}), 422, param="encoding_format")
    assert "'float' or 'base64'" in message
    assert Job.select().count() == 0


def test_dimensions_other_than_the_models_own_are_refused_clearly(api):
    message = assert_openai_error(
        embed(api, {"input": "x", "dimensions": 128}), 422, param="dimensions", code="unsupported_parameter"
    )
    assert "makes 384-dimensional embeddings" in message and "no `dimensions` option" in message
    assert Job.select().count() == 0
    assert embed(api, {"input": "x", "dimensions": 384}).status_code == 200  # its own size asks for nothing
    assert embed(api, {"input": "x", "dimensions": None}).status_code == 200
    assert_openai_error(embed(api, {"input": "x", "dimensions": "384"}), 422, param="dimensions")


def test_dimensions_are_refused_for_a_model_not_prepared_here(api):
    message = assert_openai_error(
        embed(api, {"model": "all-MiniLM-L6-v2-int8", "input": "x", "dimensions": 384}), 422, param="dimensions"
    )
    assert "no `dimensions` option" in message


@pytest.mark.parametrize("tokens", [[101, 2023, 102], [[101, 102], [101, 2023, 102]]], ids=["ids", "lists of ids"])
def test_token_ids_as_input_are_refused_clearly(api, tokens):
    message = assert_openai_error(embed(api, {"input": tokens}), 422, param="input", code="unsupported_input")
    assert "token ids is not supported" in message and "check_embedding_ctx_length=False" in message


@pytest.mark.parametrize(
    ("body", "param", "words"),
    [
        ({"input": []}, "input", "`input` must not be empty"),
        ({"input": ["ok", 3]}, "input[1]", "`input[1]` must be a string"),
        ({"input": ["ok", "  "]}, "input[1]", "must not be empty"),
        ({}, "input", "`input` is required"),
        ({"input": "x", "user": 5}, "user", "`user` must be a string"),
        ({"input": "x", "temperature": 1}, "temperature", "unknown field(s): temperature"),
        ({"input": "x" * 20_001}, "input", "the limit is 20000"),
        ({"input": ["x"] * 65}, "input", "65 items; the limit is 64"),
    ],
)
def test_invalid_input_is_a_422_naming_the_field_as_openai_does(api, body, param, words):
    assert words in assert_openai_error(embed(api, body), 422, param=param)
    assert Job.select().count() == 0


@pytest.mark.parametrize(
    ("model", "words"),
    [
        ("text-embedding-3-small", "no embedding model 'text-embedding-3-small'"),
        ("bert-base-multilingual-uncased-sentiment", "does text-classification, not embeddings"),
    ],
)
def test_an_unknown_or_non_embedding_model_is_a_422_on_model(api, model, words):
    message = assert_openai_error(
        embed(api, {"model": model, "input": "x"}), 422, param="model", code="model_not_found"
    )
    assert words in message and "all-MiniLM-L6-v2" in message


def test_malformed_json_another_media_type_and_a_large_body_answer_in_openai_shape(app_for, worker):
    api = app_for(worker, max_body_bytes=100)
    bad = api.simulate_post("/v1/embeddings", body="{", headers={"content-type": "application/json"})
    assert_openai_error(bad, 400)
    text = api.simulate_post("/v1/embeddings", body="x", headers={"content-type": "text/plain"})
    assert_openai_error(text, 415, code="unsupported_media_type")
    large = embed(api, {"input": "x" * 200})
    assert "the limit is 100" in assert_openai_error(large, 413, code="request_too_large")


def test_an_unknown_v1_route_is_a_404_in_openai_shape(api):
    message = assert_openai_error(api.simulate_post("/v1/chat/completions", json={}), 404, code="not_found")
    assert "no such route" in message


def test_other_routes_keep_falcons_error_body(api):
    response = api.simulate_post("/inference", json={"inputs": []})
    assert response.status_code == 422 and "error" not in response.json
    assert response.json["field"] == "inputs"


def test_a_full_backlog_is_a_429_rate_limit_error_with_retry_after(app_for, worker):
    api = app_for(worker, max_backlog=1)
    Job.create(model="all-MiniLM-L6-v2", task="feature-extraction", inputs=["waiting"])
    response = embed(api, {"input": "x"})
    assert_openai_error(response, 429, kind="rate_limit_error", code="rate_limit_exceeded")
    assert response.headers["retry-after"] == "5"
    assert Job.select().count() == 1


def test_a_broker_that_is_down_is_a_503_server_error(app_for, database):
    api = app_for(open_sender(f"amqp://guest:guest@127.0.0.1:{free_port()}/"))
    response = embed(api, {"input": "x"})
    assert_openai_error(response, 503, kind="server_error")
    assert "retry-after" in response.headers


def test_a_job_not_done_in_time_is_a_503_naming_the_job_which_still_completes(api, worker, monkeypatch):
    monkeypatch.setattr(openai, "WAIT", 0.3)
    worker.outcome = lambda job: None  # the worker is slow: nothing finishes within the wait
    response = embed(api, {"input": "x"})
    message = assert_openai_error(response, 503, kind="server_error", code="timeout")
    job = Job.get()
    assert f"job {job.id}" in message and f"GET /inference/{job.id}" in message
    assert response.headers["retry-after"] == "5"
    assert response.headers["location"] == f"/inference/{job.id}"
    fake_embeddings(job)
    assert api.simulate_get(f"/inference/{job.id}").json["status"] == "succeeded"


@pytest.mark.parametrize(
    ("failure", "status"),
    [(Failure.MODEL_ERROR, 500), (Failure.CRASHED, 500), (Failure.RETRIES_EXHAUSTED, 503)],
)
def test_a_failed_job_answers_its_error(api, worker, failure, status):
    worker.outcome = lambda job: job.finish(Status.FAILED, error="the model refused it", failure=failure)
    message = assert_openai_error(embed(api, {"input": "x"}), status, kind="server_error", code=failure)
    assert message == f"job {Job.get().id} failed: the model refused it"


def test_when_every_waiting_thread_is_busy_the_request_is_refused_before_any_job(app_for, worker):
    api = app_for(worker, web_threads=3)  # one waiting slot
    resource = api.app._router.find("/v1/embeddings")[0]
    with resource.waiter.slot() as held:
        assert held
        response = embed(api, {"input": "x"})
    assert_openai_error(response, 503, kind="server_error")
    assert Job.select().count() == 0
    assert embed(api, {"input": "x"}).status_code == 200


def test_an_idempotency_key_returns_the_same_job(api, worker):
    first = embed(api, {"input": "x"}, **{"Idempotency-Key": "k-1"})
    again = embed(api, {"input": "x"}, **{"Idempotency-Key": "k-1"})
    assert first.json == again.json
    assert Job.select().count() == 1 and queued_messages(worker) == 1


def test_concurrent_requests_each_get_their_own_embeddings(api):
    results = {}

    def call(text):
        results[text] = embed(api, {"input": text}).json["data"][0]["embedding"][0]

    threads = [threading.Thread(target=call, args=("x" * n,)) for n in range(1, 6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == {"x" * n: float(n) for n in range(1, 6)}


def test_v1_models_lists_the_embedding_models_default_first(api):
    response = api.simulate_get("/v1/models")
    assert response.status_code == 200
    assert response.json == {
        "object": "list",
        "data": [
            {"id": "all-MiniLM-L6-v2", "object": "model", "created": 1795705837, "owned_by": "inference-api"},
            {"id": "all-MiniLM-L6-v2-int8", "object": "model", "created": 0, "owned_by": "inference-api"},
        ],
    }


def test_one_model_reads_back_and_an_unknown_one_is_a_404(api):
    assert api.simulate_get("/v1/models/all-MiniLM-L6-v2").json["id"] == "all-MiniLM-L6-v2"
    missing = api.simulate_get("/v1/models/distilgpt2")
    assert "does text-generation" in assert_openai_error(missing, 404, param="model", code="model_not_found")


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", KEY], ids=["none", "wrong key", "no scheme"])
@pytest.mark.parametrize(("method", "path"), [("POST", "/v1/embeddings"), ("GET", "/v1/models")])
def test_with_keys_configured_v1_routes_are_401_authentication_errors_without_the_key(
    app_for, worker, authorization, method, path
):
    api = app_for(worker, api_keys=(KEY,))
    headers = {"Authorization": authorization} if authorization else {}
    response = api.simulate_request(method, path, json={"input": "x"}, headers=headers)
    assert_openai_error(response, 401, kind="authentication_error", code="invalid_api_key")
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert Job.select().count() == 0


def test_with_keys_configured_the_bearer_key_gets_embeddings(app_for, worker):
    api = app_for(worker, api_keys=(KEY,))
    bearer = {"Authorization": f"Bearer {KEY}"}
    assert api.simulate_post("/v1/embeddings", json={"input": "x"}, headers=bearer).status_code == 200
    assert api.simulate_get("/v1/models", headers=bearer).status_code == 200


def test_the_openapi_document_describes_the_v1_routes_and_their_openai_errors(api):
    document = api.simulate_get("/openapi.json").json
    embeddings = document["paths"]["/v1/embeddings"]["post"]
    assert set(embeddings["responses"]) == {"200", "400", "409", "413", "415", "422", "429", "500", "503"}
    assert all(
        response["content"]["application/json"]["schema"]["$ref"].endswith("/OpenAIError")
        for status, response in embeddings["responses"].items()
        if status != "200"
    )
    request = document["components"]["schemas"]["EmbeddingsRequest"]
    assert request["properties"]["model"]["enum"] == ["all-MiniLM-L6-v2", "all-MiniLM-L6-v2-int8", None]
    assert request["properties"]["input"]["anyOf"][0] == {"$ref": "#/components/schemas/Text"}
    assert set(document["paths"]["/v1/models/{model}"]["get"]["responses"]) == {"200", "404"}
