"""A text-generation job's work is capped: its inputs times `max_new_tokens` at most `MAX_GENERATED_TOKENS`,
refused over it with a 422 naming the cap and the product, on every route that creates generation jobs, and
stated in `/openapi.json`."""

import pytest

from catalog import Catalog
from db import Job
from db.bulk import BatchRequest
from tests.web.bulk_helpers import jsonl, upload

CAP = 1280  # the default: 64 inputs of the default 20 tokens, or 5 of 256
GENERATOR = "distilgpt2"  # the shipped catalog's text-generation model


@pytest.fixture
def api(client, record_prepared):
    record_prepared(Catalog.load().models[GENERATOR])
    return client


def generate(client, inputs, **parameters):
    body = {"model": GENERATOR, "inputs": inputs, **({"parameters": parameters} if parameters else {})}
    return client.simulate_post("/inference", json=body)


def test_a_generation_request_over_the_cap_is_refused_naming_the_cap_and_the_product(api):
    response = generate(api, ["hello"] * 3, max_new_tokens=512)
    assert response.status_code == 422, response.json
    assert response.json["field"] == "parameters.max_new_tokens"
    description = response.json["description"]
    assert "3 inputs x max_new_tokens 512 = 1536 new tokens" in description
    assert f"the limit is {CAP}" in description and "MAX_GENERATED_TOKENS" in description
    assert Job.select().count() == 0  # refused: nothing stored


def test_a_generation_request_at_the_cap_is_accepted_and_one_token_an_input_more_is_not(api):
    assert generate(api, ["hello"] * 5, max_new_tokens=256).status_code == 202  # 5 x 256 = 1280
    assert generate(api, ["hello"] * 5, max_new_tokens=257).status_code == 422  # 1285
    assert generate(api, ["hello"] * 64).status_code == 202  # 64 x the default 20 = 1280


def test_the_cap_is_a_setting_and_a_request_without_max_new_tokens_counts_its_default(
    app_for, sender_stub, record_prepared
):
    record_prepared(Catalog.load().models[GENERATOR])
    small = app_for(sender_stub, max_generated_tokens=100)
    over = small.simulate_post("/inference", json={"model": GENERATOR, "text": ["hi"] * 6})
    assert over.status_code == 422 and over.json["field"] == "text"  # the field the request named
    assert "6 inputs x max_new_tokens 20 = 120 new tokens; the limit is 100 a job" in over.json["description"]
    assert small.simulate_post("/inference", json={"model": GENERATOR, "inputs": ["hi"] * 5}).status_code == 202
    schemas = small.simulate_get("/openapi.json").json["components"]["schemas"]
    assert "at most 100 new tokens" in schemas["TextGenerationParameters"]["description"]


def test_a_batch_line_for_inference_over_the_cap_is_refused_and_the_line_at_it_becomes_a_job(api):
    lines = [
        {"custom_id": custom_id, "method": "POST", "url": "/inference", "body": {"model": GENERATOR, **body}}
        for custom_id, body in [
            ("over", {"inputs": ["a", "b", "c"], "parameters": {"max_new_tokens": 512}}),
            ("at", {"inputs": ["a", "b"], "parameters": {"max_new_tokens": 512}}),
        ]
    ]
    file_id = upload(api, jsonl(lines)).json["id"]
    body = {"input_file_id": file_id, "endpoint": "/inference", "completion_window": "24h"}
    batch = api.simulate_post("/v1/batches", json=body)
    assert batch.status_code == 200, batch.json
    assert batch.json["request_counts"] == {"total": 2, "completed": 0, "failed": 1}
    refused, accepted = (BatchRequest.get(BatchRequest.custom_id == name) for name in ("over", "at"))
    assert refused.job is None and refused.error_code == "invalid_body"
    assert "3 inputs x max_new_tokens 512 = 1536 new tokens" in refused.error_message
    assert "MAX_GENERATED_TOKENS" in refused.error_message
    assert accepted.error_code is None and accepted.job is not None


def test_the_openapi_description_states_the_cap(api):
    schemas = api.simulate_get("/openapi.json").json["components"]["schemas"]
    description = schemas["TextGenerationParameters"]["description"]
    assert f"inputs x max_new_tokens at most {CAP} new tokens a job" in description
    assert "MAX_GENERATED_TOKENS" in description
