"""The Python client against a small scripted HTTP server: typed errors, retries after Retry-After with
the same Idempotency-Key, long-polling, and the API key from the environment."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from inference_client import (
    Client,
    InvalidRequest,
    JobFailed,
    JobTimeout,
    NotFound,
    ServiceUnavailable,
    TooManyRequests,
    TransportError,
    Unauthorized,
)
from inference_client.client import retry_after
from tests.servers import free_port

JOB = {"id": "6f0b2c1e-0000-4000-8000-000000000001", "model": "m", "task": "feature-extraction"}


def job(status: str, **fields) -> dict:
    return {**JOB, "status": status, **fields}


class StubAPI:
    """Answers each request with the next scripted (status, body, headers), and records the requests."""

    def __init__(self):
        self.script: list[tuple[int, dict, dict]] = []
        self.requests: list[dict] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def handle_one(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                stub.requests.append({"method": self.command, "path": self.path, "headers": self.headers, "body": body})
                status, payload, headers = stub.script.pop(0) if stub.script else (500, {"title": "unscripted"}, {})
                data = json.dumps(payload).encode()
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = handle_one

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def answer(self, status: int, body: dict, **headers: str) -> None:
        self.script.append((status, body, {k.replace("_", "-"): v for k, v in headers.items()}))


@pytest.fixture
def api():
    stub = StubAPI()
    yield stub
    stub.server.shutdown()
    stub.server.server_close()


@pytest.fixture
def slept():
    return []


@pytest.fixture
def client(api, slept, monkeypatch):
    monkeypatch.delenv("INFERENCE_API_KEY", raising=False)
    with Client(api.url, timeout=5, max_retries=3, sleep=slept.append) as c:
        yield c


def test_submit_sends_the_body_and_returns_the_job_as_the_api_gives_it(api, client):
    api.answer(202, job("queued"), Location=f"/inference/{JOB['id']}")
    submitted = client.submit(["a", "b"], model="m", parameters={"normalize": True})
    assert submitted.id == JOB["id"] and submitted.status == "queued" and not submitted.finished
    assert submitted.data["task"] == "feature-extraction"
    (request,) = api.requests
    assert request["method"] == "POST" and request["path"] == "/inference"
    assert request["body"] == {"inputs": ["a", "b"], "model": "m", "parameters": {"normalize": True}}
    assert request["headers"]["Idempotency-Key"]  # always one: a retried POST never makes a second job
    assert "Prefer" not in request["headers"]


def test_a_429_is_retried_after_its_retry_after_with_the_same_idempotency_key(api, client, slept):
    api.answer(429, {"title": "Too many requests", "description": "backlog full"}, Retry_After="3")
    api.answer(503, {"title": "Service unavailable", "description": "broker down"}, Retry_After="1")
    api.answer(200, job("succeeded", output=[{"embedding": [0.1]}]), Idempotent_Replayed="true")
    finished = client.submit("a", idempotency_key="k-1", wait=10)
    assert finished.succeeded and finished.output == [{"embedding": [0.1]}] and finished.replayed
    assert slept == [3.0, 1.0]
    assert [r["headers"]["Idempotency-Key"] for r in api.requests] == ["k-1"] * 3
    assert [r["headers"]["Prefer"] for r in api.requests] == ["wait=10"] * 3


def test_a_503_that_lasts_raises_service_unavailable_after_the_bounded_retries(api, client, slept):
    for _ in range(4):
        api.answer(503, {"title": "Service unavailable", "description": "database down"}, Retry_After="120")
    with pytest.raises(ServiceUnavailable) as caught:
        client.get(JOB["id"])
    assert caught.value.status == 503 and caught.value.retry_after == 120
    assert "database down" in str(caught.value)
    assert slept == [60.0, 60.0, 60.0]  # Retry-After honoured up to max_retry_wait; 1 try + 3 retries
    assert len(api.requests) == 4


def test_a_422_is_raised_at_once_with_its_field_and_a_404_as_not_found(api, client, slept):
    api.answer(422, {"title": "Invalid request", "description": "`inputs[1]` must not be empty", "field": "inputs[1]"})
    with pytest.raises(InvalidRequest) as caught:
        client.submit(["a", ""])
    assert caught.value.field == "inputs[1]" and caught.value.status == 422
    api.answer(404, {"title": "Unknown job", "description": "no job x"})
    with pytest.raises(NotFound, match="no job x"):
        client.get("x")
    assert slept == [] and len(api.requests) == 2


def test_the_api_key_comes_from_the_environment_as_a_bearer_token(api, monkeypatch):
    monkeypatch.setenv("INFERENCE_API_KEY", "s3cret")
    api.answer(200, job("running"))
    api.answer(401, {"title": "Unauthorized", "description": "the API key is not valid"})
    with Client(api.url) as keyed:
        keyed.get(JOB["id"])
    with Client(api.url, api_key="wrong") as wrong, pytest.raises(Unauthorized, match="not valid"):
        wrong.get(JOB["id"])
    assert [r["headers"]["Authorization"] for r in api.requests] == ["Bearer s3cret", "Bearer wrong"]


def test_wait_long_polls_until_the_job_finishes(api, client):
    api.answer(200, job("running"))
    api.answer(200, job("succeeded", output=[{"embedding": [1.0]}]))
    assert client.wait(JOB["id"], timeout=100, poll=20).output == [{"embedding": [1.0]}]
    assert [r["path"] for r in api.requests] == [f"/inference/{JOB['id']}?wait=20"] * 2


def test_wait_raises_a_job_timeout_holding_the_job_as_it_stood_and_backs_off_when_answered_early(api):
    for _ in range(20):
        api.answer(200, job("queued"))  # at once, as a server with no waiting slot free answers
    with Client(api.url) as real_time, pytest.raises(JobTimeout) as caught:
        real_time.wait(JOB["id"], timeout=0.5)
    assert caught.value.job.status == "queued"
    assert api.requests[0]["path"].endswith("?wait=1")
    assert 3 <= len(api.requests) <= 6  # pauses of 0.05, 0.1, 0.2 ... s between early answers, not a busy loop


def test_run_submits_waits_and_raises_job_failed_for_a_failed_job(api, client):
    api.answer(202, job("queued"))
    api.answer(200, job("failed", error="model error: boom"))
    with pytest.raises(JobFailed, match="boom") as caught:
        client.run("a", timeout=30)
    assert caught.value.job.error == "model error: boom"
    assert api.requests[0]["headers"]["Prefer"] == "wait=30"
    assert api.requests[1]["path"].startswith(f"/inference/{JOB['id']}?wait=")


def test_an_unreachable_server_is_a_transport_error_after_the_retries(slept):
    nobody = Client(f"http://127.0.0.1:{free_port()}", max_retries=2, sleep=slept.append)
    with nobody, pytest.raises(TransportError, match="healthz"):
        nobody.ping(retries=2)
    assert len(slept) == 2


def test_too_many_requests_and_the_others_share_one_base_class():
    from inference_client import APIError, ClientError

    assert issubclass(TooManyRequests, APIError) and issubclass(APIError, ClientError)
    assert issubclass(TransportError, ClientError) and issubclass(JobTimeout, ClientError)


def test_retry_after_reads_seconds_and_http_dates():
    assert retry_after("5") == 5.0
    assert retry_after("Thu, 01 Jan 1970 00:00:00 GMT") == 0.0
    assert retry_after("soon") is None and retry_after(None) is None
