"""POST /v1/embeddings when the job cannot be accepted or does not succeed: 4xx and 5xx in OpenAI's shape,
each with the job (when one exists) named, and Retry-After where a retry can work."""

from __future__ import annotations

import threading

import pytest

from actors.sending import open_sender
from db import Job, Status
from db.lifecycle import Failure
from tests.conftest import queued_messages
from tests.servers import free_port
from tests.web.openai_helpers import assert_openai_error, embed, fake_embeddings
from web.resources import openai


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
