"""GET /openapi.json (web/openapi/): every route, and the limits that are enforced, from the config."""

import re
from dataclasses import replace

import falcon.inspect
import pytest
import schemathesis
from falcon.testing import TestClient

from catalog.tasks import PARAMETERS
from db import Status
from web import create_app
from web.openapi import OPEN_PATHS
from web.waiting import MAX_WAIT

CUSTOM = {"max_inputs": 7, "max_input_chars": 99, "max_body_bytes": 12_345, "max_json_depth": 5, "max_backlog": 77}


@pytest.fixture
def app(config, database, sender_stub, catalog):
    return create_app(replace(config, **CUSTOM), sender=sender_stub, catalog=catalog)


@pytest.fixture
def document(app):
    response = TestClient(app).simulate_get("/openapi.json")
    assert response.status_code == 200
    return response.json


def keyed_document(config, sender_stub, catalog, keys=("k-1",)):
    app = create_app(replace(config, api_keys=keys), sender=sender_stub, catalog=catalog)
    return TestClient(app).simulate_get("/openapi.json").json


def test_the_document_is_valid_openapi_3_1(document):
    assert document["openapi"].startswith("3.1")
    schemathesis.openapi.from_dict(document).validate()  # against the OpenAPI meta-schema


def test_the_document_has_every_route_and_method_the_app_serves(app, document):
    served = {
        (route.path, method.method.lower())
        for route in falcon.inspect.inspect_routes(app)
        for method in route.methods
        if not method.internal
    }
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    assert documented == served


def test_the_limits_in_the_document_are_the_configured_ones(document):
    schemas = document["components"]["schemas"]
    text, listed = schemas["Inputs"]["anyOf"]
    assert (text["type"], text["minLength"], text["maxLength"]) == ("string", 1, CUSTOM["max_input_chars"])
    assert (listed["minItems"], listed["maxItems"]) == (1, CUSTOM["max_inputs"])
    assert listed["items"] == text == schemas["Text"]
    similarity = schemas["SimilarityInputs"]["properties"]
    assert similarity["source_sentence"] == text and similarity["sentences"] == listed
    post = document["paths"]["/inference"]["post"]
    assert f"{CUSTOM['max_body_bytes']} bytes" in post["requestBody"]["description"]
    assert f"{CUSTOM['max_json_depth']} levels" in post["requestBody"]["description"]
    assert f"{CUSTOM['max_backlog']} jobs" in post["responses"]["429"]["description"]
    wait = document["paths"]["/inference/{job_id}"]["get"]["parameters"][1]
    assert (wait["name"], wait["in"], wait["schema"]["maximum"]) == ("wait", "query", MAX_WAIT)


def variants(document) -> dict[str, dict]:
    return {v["title"]: v for v in document["components"]["schemas"]["InferenceRequest"]["anyOf"]}


def test_the_request_has_one_shape_for_each_model_and_task_it_can_reach(document, catalog):
    expected = [
        f"{spec.name}: {task}"
        for spec in sorted(catalog, key=lambda spec: spec.name != catalog.default)
        for task in (("sentence-similarity",) if spec.task == "sentence-similarity" else spec.tasks)
    ]
    assert list(variants(document)) == expected
    for title, variant in variants(document).items():
        name, task = title.split(": ")
        assert set(variant["properties"]) == {"model", "inputs", "text", "parameters"}
        assert variant["additionalProperties"] is False
        assert variant["oneOf"] == [{"required": ["inputs"]}, {"required": ["text"]}]
        assert variant["properties"]["text"] == variant["properties"]["inputs"]
        inputs = "SimilarityInputs" if task == "sentence-similarity" else "Inputs"
        assert variant["properties"]["inputs"]["$ref"].endswith(f"/{inputs}")
        if name == catalog.default:  # may be omitted or null
            assert variant["properties"]["model"] == {"enum": [name, None]} and variant["required"] == []
        else:
            assert variant["properties"]["model"] == {"const": name} and variant["required"] == ["model"]


def test_parameters_come_from_the_tasks_with_their_types_and_ranges(document):
    schemas = document["components"]["schemas"]
    for task, accepted in PARAMETERS.items():
        name = "".join(part.title() for part in task.split("-")) + "Parameters"
        assert set(schemas[name]["properties"]) == set(accepted), task
        assert schemas[name]["additionalProperties"] is False
    features = schemas["FeatureExtractionParameters"]["properties"]
    assert features["normalize"]["type"] == "boolean"
    generation = schemas["TextGenerationParameters"]["properties"]
    assert (generation["max_new_tokens"]["minimum"], generation["max_new_tokens"]["maximum"]) == (1, 512)
    assert (generation["temperature"]["exclusiveMinimum"], generation["temperature"]["maximum"]) == (0.0, 100.0)
    assert generation["stop"]["maxItems"] == 4
    top_k = schemas["TextClassificationParameters"]["properties"]["top_k"]
    assert top_k["type"] == ["integer", "null"] and top_k["minimum"] == 1


@pytest.mark.parametrize(
    ("text", "valid"),
    [("a", True), (" a ", True), ("   ", False), ("\t\n\u3000\x1c", False), ("a\x00", False), ("\ufeff", True)],
)
def test_the_text_pattern_is_what_validation_takes(document, text, valid):
    """Validation refuses text that `str.strip` empties, and U+0000; the pattern says the same."""
    pattern = document["components"]["schemas"]["Inputs"]["anyOf"][0]["pattern"]
    assert bool(re.search(pattern, text)) is valid


def test_the_job_schema_has_every_status_and_field(document):
    job = document["components"]["schemas"]["Job"]
    assert job["properties"]["status"]["enum"] == [
        Status.QUEUED,
        Status.RUNNING,
        Status.SUCCEEDED,
        Status.FAILED,
        Status.CANCELED,
    ]
    assert job["properties"]["id"]["format"] == "uuid"
    assert set(job["properties"]) >= {
        *("id", "status", "model", "task", "created_at", "started_at", "finished_at"),
        *("attempts", "timings", "output", "error"),
    }


def test_every_error_code_that_is_enforced_is_documented(document):
    def codes(path, method):
        return set(document["paths"][path][method]["responses"])

    assert codes("/inference", "post") == {"200", "202", "400", "413", "415", "422", "429", "503"}
    post = document["paths"]["/inference"]["post"]["responses"]
    assert post["202"]["headers"]["Location"]["required"] is True
    assert post["429"]["headers"]["Retry-After"]["required"] is True
    assert codes("/inference/{job_id}", "get") == {"200", "400", "404", "410", "503"}
    assert codes("/inference/{job_id}", "delete") == {"204", "404", "503"}
    assert codes("/inference/{job_id}/cancel", "post") == {"200", "404", "409", "410", "503"}
    assert "Idempotency-Key" in document["paths"]["/inference"]["post"]["responses"]["422"]["description"]
    assert codes("/models/{name}", "get") == {"200", "404"}
    assert codes("/readyz", "get") == {"200", "503"}
    error = document["components"]["schemas"]["Error"]
    assert set(error["properties"]) == {"title", "description", "field"}
    assert error["required"] == ["title", "description"]


def test_the_headers_post_reads_are_documented(document):
    headers = {p["name"]: p for p in document["paths"]["/inference"]["post"]["parameters"] if p["in"] == "header"}
    assert set(headers) == {"Prefer", "Idempotency-Key"}
    key = headers["Idempotency-Key"]["schema"]
    assert (key["minLength"], key["maxLength"]) == (1, 255)
    assert re.search(key["pattern"], "order-42 retry") and not re.search(key["pattern"], "a\x7fb")


def test_without_keys_the_document_has_no_security(document):
    assert "securitySchemes" not in document["components"]
    assert all(op["security"] == [] for item in document["paths"].values() for op in item.values())


def test_with_keys_the_data_routes_need_the_bearer_scheme_and_may_answer_401(config, database, sender_stub, catalog):
    document = keyed_document(config, sender_stub, catalog)
    assert document["components"]["securitySchemes"] == {
        "bearer": {"type": "http", "scheme": "bearer", "description": "an API key: `Authorization: Bearer <key>`"}
    }
    for path, item in document["paths"].items():
        for operation in item.values():
            open_route = path in OPEN_PATHS or path.startswith("/docs/")
            assert operation["security"] == ([] if open_route else [{"bearer": []}]), path
            assert ("401" in operation["responses"]) is not open_route, path
    schemathesis.openapi.from_dict(document).validate()


def test_the_document_never_shows_a_key(config, database, sender_stub, catalog):
    app = create_app(replace(config, api_keys=("s3cr3t-key",)), sender=sender_stub, catalog=catalog)
    assert "s3cr3t-key" not in TestClient(app).simulate_get("/openapi.json").text


def test_with_keys_every_data_route_states_its_429_with_the_rate_limit_headers(config, database, sender_stub, catalog):
    document = keyed_document(config, sender_stub, catalog)
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if operation["security"]:
                assert "429" in operation["responses"], (method, path)
    headers = document["components"]["responses"]["TooManyRequests"]["headers"]
    assert {"Retry-After", "RateLimit", "RateLimit-Policy"} <= set(headers)
    assert "RateLimit" in document["components"]["responses"]["OpenAITooManyRequests"]["headers"]
