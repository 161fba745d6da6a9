"""Cancel, Idempotency-Key and backpressure on POST /inference."""

import threading
import time
from dataclasses import replace

import pytest
from falcon.testing import TestClient

from actors.sending import open_sender
from db import Job, Status
from tests.conftest import queued_messages
from tests.servers import free_port
from web import create_app


def post(client, body, **headers):
    return client.simulate_post("/inference", json=body, headers=headers)


def test_a_queued_job_can_be_canceled_and_is_then_skipped(client):
    job_id = post(client, {"inputs": "x"}).json["id"]
    response = client.simulate_post(f"/inference/{job_id}/cancel")
    assert response.status_code == 200
    assert response.json["status"] == "canceled"
    assert Job.claim(job_id) is None  # a worker receiving its message skips it


def test_a_finished_job_cannot_be_canceled(client):
    job_id = post(client, {"inputs": "x"}).json["id"]
    Job.claim(job_id).finish(Status.SUCCEEDED, output=[{"embedding": [1.0]}])
    response = client.simulate_post(f"/inference/{job_id}/cancel")
    assert response.status_code == 409
    assert "succeeded" in response.json["description"]
    assert Job.get_by_id(job_id).status == Status.SUCCEEDED


def test_canceling_an_unknown_job_is_a_404(client):
    assert client.simulate_post("/inference/not-a-job/cancel").status_code == 404


def test_the_same_idempotency_key_and_body_return_the_same_job(client, sender_stub):
    first = post(client, {"inputs": "x"}, **{"Idempotency-Key": "k-1"})
    again = post(client, {"text": "x", "model": "all-MiniLM-L6-v2"}, **{"Idempotency-Key": "k-1"})  # same request
    assert first.status_code == again.status_code == 202
    assert first.json["id"] == again.json["id"]
    assert again.headers["idempotent-replayed"] == "true"
    assert Job.select().count() == 1 and queued_messages(sender_stub) == 1


def test_the_same_idempotency_key_with_another_body_is_a_422(client):
    post(client, {"inputs": "x"}, **{"Idempotency-Key": "k-2"})
    response = post(client, {"inputs": "y"}, **{"Idempotency-Key": "k-2"})
    assert response.status_code == 422
    assert response.json["field"] == "Idempotency-Key"
    assert Job.select().count() == 1


def test_an_unreadable_idempotency_key_is_a_422(client):
    assert post(client, {"inputs": "x"}, **{"Idempotency-Key": "k" * 256}).status_code == 422


def test_a_retry_with_the_key_sends_a_job_whose_first_send_failed(config, database, catalog):
    down = TestClient(
        create_app(config, sender=open_sender(f"amqp://guest:guest@127.0.0.1:{free_port()}/"), catalog=catalog)
    )
    assert post(down, {"inputs": "x"}, **{"Idempotency-Key": "k-3"}).status_code == 503
    up = open_sender("stub://")
    response = post(
        TestClient(create_app(config, sender=up, catalog=catalog)), {"inputs": "x"}, **{"Idempotency-Key": "k-3"}
    )
    assert response.status_code == 202
    assert response.json["status"] == "queued"
    assert queued_messages(up) == 1 and Job.select().count() == 1


def test_a_full_backlog_answers_429_with_retry_after_and_records_nothing(config, database, catalog, sender_stub):
    client = TestClient(create_app(replace(config, max_backlog=3), sender=sender_stub, catalog=catalog))
    assert [post(client, {"inputs": "x"}).status_code for _ in range(3)] == [202] * 3
    response = post(client, {"inputs": "x"})
    assert response.status_code == 429
    assert response.headers["retry-after"] == "5"
    assert "3 jobs waiting" in response.json["description"]
    assert Job.select().count() == 3 and queued_messages(sender_stub) == 3


@pytest.mark.parametrize("status", [Status.SUCCEEDED, Status.RUNNING])
def test_the_backlog_counts_only_queued_jobs(config, database, catalog, sender_stub, status):
    for _ in range(3):
        Job.create(model="all-MiniLM-L6-v2", task="feature-extraction", inputs=["x"], status=status)
    client = TestClient(create_app(replace(config, max_backlog=1), sender=sender_stub, catalog=catalog))
    assert post(client, {"inputs": "x"}).status_code == 202


def test_concurrent_requests_read_the_backlog_once_not_once_each(monkeypatch):
    """A burst after the count went stale: one request reads it, the others go on with the last count."""
    from web.admission import Backlog

    reads, release = [], threading.Event()

    def slow_count(model):
        reads.append(model)
        release.wait(5)
        return 0

    monkeypatch.setattr(Job, "backlog", slow_count)
    backlog = Backlog(limit=100)
    threads = [threading.Thread(target=backlog.admit, args=("m",)) for _ in range(20)]
    for thread in threads:
        thread.start()
    time.sleep(0.05)
    release.set()
    for thread in threads:
        thread.join(5)
    assert reads == ["m"]


def test_the_backlog_refuses_at_the_limit_counting_up_between_reads(monkeypatch):
    from core.errors import Overloaded
    from web.admission import Backlog

    monkeypatch.setattr(Job, "backlog", lambda model: 2)
    backlog = Backlog(limit=4)
    backlog.admit("m")  # read: 2, then 3
    backlog.admit("m")  # 4
    with pytest.raises(Overloaded, match="4 jobs waiting"):
        backlog.admit("m")
