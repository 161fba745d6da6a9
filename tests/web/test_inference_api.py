"""POST /inference and GET /inference/{id} through falcon.testing, on SQLite and a StubBroker."""

import json
import uuid

import pytest
from falcon.testing import TestClient

import db
from actors.sending import open_sender
from db import Job, Status
from tests.conftest import queued_messages
from tests.servers import free_port
from web import create_app

JSON = {"content-type": "application/json"}


def post(client, body, headers=JSON):
    raw = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.simulate_post("/inference", body=raw, headers=headers)


def test_a_job_is_accepted_recorded_and_sent(client, sender_stub):
    response = post(client, {"model": "all-MiniLM-L6-v2", "inputs": "Vai Corinthians"})
    assert response.status_code == 202
    job = response.json
    assert job["status"] == "queued"
    assert response.headers["location"] == f"/inference/{job['id']}"
    stored = Job.get_by_id(job["id"])
    assert (stored.inputs, stored.status, stored.task) == (["Vai Corinthians"], Status.QUEUED, "feature-extraction")
    assert queued_messages(sender_stub) == 1


def test_the_old_api_request_with_text_and_no_model_uses_the_default_model(client):
    response = post(client, {"text": "Vai Corinthians"})
    assert response.status_code == 202
    assert response.json["model"] == "all-MiniLM-L6-v2"
    assert Job.get_by_id(response.json["id"]).inputs == ["Vai Corinthians"]


def test_a_list_of_inputs_is_one_job(client, sender_stub):
    response = post(client, {"inputs": ["a", "b", "c"], "parameters": {"normalize": False}})
    assert response.status_code == 202
    stored = Job.get_by_id(response.json["id"])
    assert stored.inputs == ["a", "b", "c"] and stored.parameters == {"normalize": False}
    assert queued_messages(sender_stub) == 1


def test_a_job_reads_back_with_its_status_and_timings(client):
    job_id = post(client, {"inputs": "x"}).json["id"]
    response = client.simulate_get(f"/inference/{job_id}")
    assert response.status_code == 200
    assert response.json["id"] == job_id
    assert response.json["status"] == "queued"
    assert set(response.json) >= {"created_at", "started_at", "finished_at", "attempts", "timings", "model", "task"}


def test_a_finished_job_shows_its_output_and_a_failed_one_its_error(client):
    ok = Job.claim(Job.create(model="all-MiniLM-L6-v2", task="feature-extraction", inputs=["a"]).id)
    ok.finish(Status.SUCCEEDED, output=[{"embedding": [0.5]}])
    bad = Job.claim(Job.create(model="all-MiniLM-L6-v2", task="feature-extraction", inputs=["a"]).id)
    bad.finish(Status.FAILED, error="ModelError: nope")
    assert client.simulate_get(f"/inference/{ok.id}").json["output"] == [{"embedding": [0.5]}]
    failed = client.simulate_get(f"/inference/{bad.id}").json
    assert failed["error"] == "ModelError: nope" and "output" not in failed


@pytest.mark.parametrize("job_id", [str(uuid.uuid4()), "not-a-uuid", "1' OR '1'='1"])
def test_an_unknown_or_malformed_job_id_is_a_404(client, job_id):
    response = client.simulate_get(f"/inference/{job_id}")
    assert response.status_code == 404
    assert response.json["title"] == "Unknown job"


DEEP = "[" * 100_000 + "]" * 100_000

BAD_INPUT = [
    # (case, body, headers, status, field)
    ("malformed JSON", b'{"inputs": ', JSON, 400, None),
    ("empty body", b"", JSON, 400, None),
    ("invalid UTF-8", b'{"inputs": "\xff\xfe"}', JSON, 400, None),
    ("deeply nested JSON", DEEP.encode(), JSON, 422, "body"),
    ("not JSON", b"inputs=hello", {"content-type": "application/x-www-form-urlencoded"}, 415, None),
    ("no content type", b'{"inputs": "hello"}', {}, 415, None),
    ("body over the limit", json.dumps({"inputs": "a" * (2 << 20)}).encode(), JSON, 413, None),
    ("not an object", [1, 2], JSON, 422, "body"),
    ("no inputs", {"model": "all-MiniLM-L6-v2"}, JSON, 422, "inputs"),
    ("empty string", {"inputs": "   "}, JSON, 422, "inputs"),
    ("empty list", {"inputs": []}, JSON, 422, "inputs"),
    ("number", {"inputs": 42}, JSON, 422, "inputs"),
    ("null text", {"text": None}, JSON, 422, "inputs"),
    ("list with a non-string", {"inputs": ["ok", 3]}, JSON, 422, "inputs[1]"),
    ("list with an empty string", {"inputs": ["ok", ""]}, JSON, 422, "inputs[1]"),
    ("too many inputs", {"inputs": ["a"] * 65}, JSON, 422, "inputs"),
    ("input too long", {"inputs": "a" * 20_001}, JSON, 422, "inputs"),
    ("inputs and text", {"inputs": "a", "text": "b"}, JSON, 422, "text"),
    ("unknown model", {"model": "gpt-17", "inputs": "a"}, JSON, 422, "model"),
    ("model not a string", {"model": ["m"], "inputs": "a"}, JSON, 422, "model"),
    ("unknown field", {"inputs": "a", "temperature": 2}, JSON, 422, "temperature"),
    ("parameters not an object", {"inputs": "a", "parameters": [1]}, JSON, 422, "parameters"),
    ("unknown parameter", {"inputs": "a", "parameters": {"top_k": 3}}, JSON, 422, "parameters.top_k"),
    (
        "parameter of the wrong type",
        {"inputs": "a", "parameters": {"normalize": "yes"}},
        JSON,
        422,
        "parameters.normalize",
    ),
]


@pytest.mark.parametrize(("case", "body", "headers", "status", "field"), BAD_INPUT, ids=[c[0] for c in BAD_INPUT])
def test_bad_input_gets_its_4xx_and_leaves_no_trace(client, sender_stub, case, body, headers, status, field):
    response = post(client, body, headers)
    assert response.status_code == status, response.text
    assert response.json["title"] and response.json["description"]
    assert "Traceback" not in response.text
    if field:
        assert response.json["field"] == field
        assert field.split("[")[0].split(".")[-1] in response.json["description"] or field == "body"
    assert Job.select().count() == 0
    assert queued_messages(sender_stub) == 0


def test_a_broker_that_is_down_gives_503_and_the_row_does_not_stay_queued(config, database, catalog):
    actors = open_sender(f"amqp://guest:guest@127.0.0.1:{free_port()}/")
    response = post(TestClient(create_app(config, sender=actors, catalog=catalog)), {"inputs": "hello"})
    assert response.status_code == 503
    assert response.headers["retry-after"]
    assert "broker" in response.json["description"]
    [job] = Job.select()
    assert job.status == Status.FAILED
    assert "not enqueued" in job.error


def test_a_database_that_is_down_gives_503_and_sends_nothing(config, catalog, sender_stub):
    db.connect(f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere")
    client = TestClient(create_app(config, sender=sender_stub, catalog=catalog))
    response = post(client, {"inputs": "hello"})
    assert response.status_code == 503
    assert response.json["description"] == "the database is unavailable"
    assert queued_messages(sender_stub) == 0
    assert client.simulate_get(f"/inference/{uuid.uuid4()}").status_code == 503
