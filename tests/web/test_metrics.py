"""GET /metrics on the web tier, the request id and the request log line."""

from __future__ import annotations

import json
import logging

import pytest
from falcon.testing import TestClient
from prometheus_client import REGISTRY

from core import logs
from core.errors import Unavailable
from tests.promtool import check_metrics, families
from web import create_app
from web.metrics import QueueDepth, request_id


def sample(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_metrics_count_requests_by_route_template_never_by_path(client):
    before = sample("inference_api_http_requests_total", route="/inference/{job_id}", method="GET", status="404")
    client.simulate_get("/inference/00000000-0000-0000-0000-000000000000")
    client.simulate_get("/inference/11111111-1111-1111-1111-111111111111")
    after = sample("inference_api_http_requests_total", route="/inference/{job_id}", method="GET", status="404")
    assert after - before == 2
    text = client.simulate_get("/metrics").text
    assert "00000000-0000" not in text and "11111111-1111" not in text


def test_accepted_jobs_refusals_and_publish_latency_are_counted(client):
    accepted = sample("inference_api_jobs_accepted_total", model="all-MiniLM-L6-v2", task="feature-extraction")
    invalid = sample("inference_api_jobs_refused_total", reason="invalid")
    published = sample("inference_api_publish_duration_seconds_count")
    assert client.simulate_post("/inference", json={"inputs": "Vai Corinthians"}).status_code == 202
    assert client.simulate_post("/inference", json={"inputs": 7}).status_code == 422
    assert sample("inference_api_jobs_accepted_total", model="all-MiniLM-L6-v2", task="feature-extraction") == (
        accepted + 1
    )
    assert sample("inference_api_jobs_refused_total", reason="invalid") == invalid + 1
    assert sample("inference_api_publish_duration_seconds_count") == published + 1


def test_a_broker_that_does_not_confirm_is_counted_as_a_refusal_by_the_broker(client, sender_stub, monkeypatch):
    def refuse(*job_ids, hint=None):
        raise Unavailable("the message broker is unavailable (test)")

    monkeypatch.setattr(sender_stub, "send", refuse)
    before = sample("inference_api_jobs_refused_total", reason="broker")
    assert client.simulate_post("/inference", json={"inputs": "x"}).status_code == 503
    assert sample("inference_api_jobs_refused_total", reason="broker") == before + 1


def test_the_exposition_passes_promtool_and_has_the_web_families(client):
    client.simulate_post("/inference", json={"inputs": "Bom dia"})
    response = client.simulate_get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    names = families(response.text)
    assert {
        "inference_api_http_requests_total",
        "inference_api_http_request_duration_seconds",
        "inference_api_jobs_accepted_total",
        "inference_api_jobs_refused_total",
        "inference_api_publish_duration_seconds",
        "inference_api_accept_group_size",
        "inference_api_waiting_requests",
        "inference_api_queue_messages",
        "inference_api_build_info",
    } <= names
    assert 'inference_api_queue_messages{queue="inference"} 1.0' in response.text  # the StubBroker's queue
    assert 'inference_api_build_info{commit="unknown",version="0.1.0"} 1.0' in response.text
    check_metrics(response.text)


def test_metrics_stay_open_when_api_keys_are_required(config, database, sender_stub, catalog):
    from dataclasses import replace

    client = TestClient(create_app(replace(config, api_keys=("k-1",)), sender=sender_stub, catalog=catalog))
    assert client.simulate_get("/metrics").status_code == 200
    assert client.simulate_get("/models").status_code == 401


def test_the_queue_depth_is_read_from_the_broker_at_most_once_per_ttl():
    reads = []
    depth = QueueDepth(lambda: reads.append(1) or {"inference": (3, 2)}, ttl=60)
    for _ in range(5):
        assert depth.depths() == {"inference": (3, 2)}
    assert len(reads) == 1
    samples = {m.name: m.samples for m in depth.collect()}
    assert samples["inference_api_queue_consumers"][0].value == 2


def test_an_unreadable_broker_gives_no_queue_samples_rather_than_an_error():
    def down():
        raise OSError("connection refused")

    assert QueueDepth(down).depths() == {}


def test_a_client_request_id_is_returned_and_a_bad_one_replaced(client):
    assert client.simulate_get("/healthz", headers={"X-Request-ID": "req-42"}).headers["x-request-id"] == "req-42"
    made = client.simulate_get("/healthz", headers={"X-Request-ID": "bad id\n" + "x" * 200}).headers["x-request-id"]
    assert made != "req-42" and len(made) == 32 and made.isalnum()
    assert request_id(None) != request_id(None)


@pytest.fixture
def json_lines():
    """The root logger's lines as JSON, as production formats them."""
    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(json.loads(self.format(record)))

    handler = Keep()
    handler.setFormatter(logs.formatter("json"))
    handler.addFilter(logs.RequestId())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield records
    root.removeHandler(handler)
    root.setLevel(level)


def test_each_request_logs_one_json_line_with_its_request_id_and_no_user_text(client, json_lines):
    response = client.simulate_post(
        "/inference", json={"inputs": "a secret sentence"}, headers={"X-Request-ID": "req-7"}
    )
    assert response.status_code == 202
    lines = [line for line in json_lines if line.get("request_id") == "req-7"]
    request = [line for line in lines if line["logger"] == "web.requests"]
    assert len(request) == 1
    assert request[0]["status"] == 202 and request[0]["route"] == "/inference" and request[0]["ms"] > 0
    accepted = [line for line in lines if line.get("job_id") == response.json["id"]]
    assert accepted and accepted[0]["model"] == "all-MiniLM-L6-v2"
    assert all(line["level"] == "INFO" for line in lines)
    assert "a secret sentence" not in json.dumps(json_lines)


def test_a_database_that_fails_is_counted_as_a_refusal_by_the_database(client, monkeypatch):
    import peewee

    from db import Job

    def down(rows, **kwargs):
        raise peewee.OperationalError("could not connect")

    monkeypatch.setattr(Job, "create_many", down)
    before = sample("inference_api_jobs_refused_total", reason="database")
    assert client.simulate_post("/inference", json={"inputs": "x"}).status_code == 503
    assert sample("inference_api_jobs_refused_total", reason="database") == before + 1
