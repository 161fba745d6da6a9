"""POST /v1/embeddings: what it answers, and every body it refuses, in OpenAI's shape (web/embeddings.py).

The worker here is a stand-in that finishes each job as it is sent, with made-up vectors: these tests are
about the HTTP surface. tests/test_openai_client.py runs the official client against the real model.
"""

from __future__ import annotations

import base64
import struct

import pytest

from db import Job
from tests.conftest import queued_messages
from tests.web.openai_helpers import assert_openai_error, embed


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
    assert "'float', 'base64'" in message
    assert Job.select().count() == 0


@pytest.mark.parametrize("model", ["all-MiniLM-L6-v2", "all-MiniLM-L6-v2-int8"], ids=["prepared", "not prepared"])
@pytest.mark.parametrize("dimensions", [384, 128, "384"])
def test_dimensions_are_refused_as_openai_refuses_them_for_a_model_without_the_option(api, model, dimensions):
    response = embed(api, {"model": model, "input": "x", "dimensions": dimensions})
    message = assert_openai_error(response, 422, param="dimensions", code="unsupported_parameter")
    assert "no `dimensions` option" in message
    assert Job.select().count() == 0


def test_null_dimensions_ask_for_nothing(api):
    assert embed(api, {"input": "x", "dimensions": None}).status_code == 200


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
