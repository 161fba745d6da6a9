"""GET /v1/models and GET /v1/models/{model}, the API keys on every /v1 route, and what /openapi.json says
of the /v1 routes."""

from __future__ import annotations

import pytest

from db import Job
from tests.web.openai_helpers import KEY, assert_openai_error


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
    assert request["properties"]["input"]["anyOf"][0] == document["components"]["schemas"]["Text"]
    assert request["properties"]["dimensions"]["const"] is None
    assert request["additionalProperties"] is False and request["required"] == ["input"]
    assert set(document["paths"]["/v1/models/{model}"]["get"]["responses"]) == {"200", "404"}
