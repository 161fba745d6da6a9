"""The `webhook` and `webhook_events` fields of POST /inference (web/webhooks.py) and what a job shows of
its deliveries."""

from dataclasses import replace

import pytest
from falcon.testing import TestClient

from actors import webhooks
from db import Job
from tests.webhook_receiver import new_secret
from web import create_app

HOOK = "http://127.0.0.1:8123/hooks"


@pytest.fixture
def hooked(config, database, sender_stub, catalog):
    """Webhooks on, private addresses allowed (as tests and development run it)."""
    config = replace(config, webhook_secret=new_secret(), webhook_allow_private=True)
    return TestClient(create_app(config, sender=sender_stub, catalog=catalog))


@pytest.fixture
def strict(config, database, sender_stub, catalog):
    """Webhooks on, public https addresses only (production)."""
    config = replace(config, webhook_secret=new_secret())
    return TestClient(create_app(config, sender=sender_stub, catalog=catalog))


def post(client, **body):
    return client.simulate_post("/inference", json={"inputs": "hello", **body})


def test_a_job_with_a_webhook_shows_it_and_its_deliveries(hooked):
    response = post(hooked, webhook=HOOK, webhook_events=["failed", "succeeded"])
    assert response.status_code == 202
    assert response.json["webhook"] == {"url": HOOK, "events": ["succeeded", "failed"], "deliveries": []}
    job_id = response.json["id"]
    canceled = hooked.simulate_post(f"/inference/{job_id}/cancel").json
    assert canceled["webhook"]["deliveries"] == []  # canceled was not asked for
    assert Job.get_by_id(job_id).events == ["succeeded", "failed"]


def test_canceling_a_job_sends_its_webhook_message(hooked, sender_stub):
    job_id = post(hooked, webhook=HOOK).json["id"]
    job = hooked.simulate_post(f"/inference/{job_id}/cancel").json
    (delivery,) = job["webhook"]["deliveries"]
    assert (delivery["event"], delivery["status"], delivery["attempts"]) == ("canceled", "pending", 0)
    assert delivery["id"].startswith("msg_")
    assert sender_stub.broker.queues[webhooks.QUEUE].qsize() == 1


def test_deleting_a_queued_job_with_a_webhook_delivers_its_cancellation(hooked, sender_stub):
    job_id = post(hooked, webhook=HOOK).json["id"]
    assert hooked.simulate_delete(f"/inference/{job_id}").status_code == 204
    assert sender_stub.broker.queues[webhooks.QUEUE].qsize() == 1


def test_webhooks_are_refused_when_the_server_has_no_secret_to_sign_them(client):
    response = post(client, webhook="https://example.org/hook")
    assert response.status_code == 422
    assert response.json["field"] == "webhook" and "WEBHOOK_SECRET" in response.json["description"]


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        ({"webhook": 42}, "webhook", "must be a string"),
        ({"webhook": "ftp://example.org/x"}, "webhook", "https"),
        ({"webhook": "https://user:pw@example.org/x"}, "webhook", "credentials"),
        ({"webhook": "https:///nohost"}, "webhook", "no host"),
        ({"webhook": "https://127.0.0.1/x"}, "webhook", "private, loopback"),
        ({"webhook": "https://[::1]/x"}, "webhook", "private, loopback"),
        ({"webhook": "https://169.254.169.254/latest/meta-data"}, "webhook", "private, loopback"),
        ({"webhook": "https://10.1.2.3/x"}, "webhook", "private, loopback"),
        ({"webhook": "https://localhost/x"}, "webhook", "private, loopback"),
        ({"webhook": "http://93.184.215.14/x"}, "webhook", "https"),
        ({"webhook": "https://no-such-host.invalid/x"}, "webhook", "does not resolve"),
        ({"webhook": "https://93.184.215.14/x", "webhook_events": "failed"}, "webhook_events", "list"),
        ({"webhook": "https://93.184.215.14/x", "webhook_events": []}, "webhook_events", "must not be empty"),
        ({"webhook": "https://93.184.215.14/x", "webhook_events": ["done"]}, "webhook_events[0]", "one of"),
        ({"webhook_events": ["failed"]}, "webhook_events", "needs a `webhook`"),
    ],
)
def test_a_bad_webhook_is_a_422_naming_the_field(strict, body, field, says):
    response = post(strict, **body)
    assert response.status_code == 422, response.json
    assert response.json["field"] == field
    assert says in response.json["description"]
    assert Job.select().count() == 0


def test_a_public_address_is_accepted(strict):
    assert post(strict, webhook="https://93.184.215.14/hooks?token=abc").status_code == 202


def test_the_same_idempotency_key_with_another_webhook_is_another_body(hooked):
    key = {"Idempotency-Key": "k-1"}
    first = hooked.simulate_post("/inference", json={"inputs": "hi", "webhook": HOOK}, headers=key)
    again = hooked.simulate_post("/inference", json={"inputs": "hi", "webhook": HOOK}, headers=key)
    other = hooked.simulate_post("/inference", json={"inputs": "hi", "webhook": HOOK + "/2"}, headers=key)
    assert again.json["id"] == first.json["id"]
    assert other.status_code == 422 and other.json["field"] == "Idempotency-Key"


def test_the_openapi_document_describes_webhooks_only_when_they_are_enabled(client, hooked):
    def properties(c):
        variants = c.simulate_get("/openapi.json").json["components"]["schemas"]["InferenceRequest"]["anyOf"]
        return set(variants[0]["properties"])

    assert "webhook" not in properties(client)
    assert {"webhook", "webhook_events"} <= properties(hooked)


def test_each_api_key_reads_its_own_webhook_secret(config, database, sender_stub, catalog):
    base = new_secret()
    config = replace(config, webhook_secret=base, api_keys=("key-a-1234", "key-b-5678"))
    client = TestClient(create_app(config, sender=sender_stub, catalog=catalog))
    a = client.simulate_get("/webhooks/secret", headers={"Authorization": "Bearer key-a-1234"})
    b = client.simulate_get("/webhooks/secret", headers={"Authorization": "Bearer key-b-5678"})
    assert a.status_code == b.status_code == 200
    assert a.json["secret"].startswith("whsec_") and a.json["secret"] not in (b.json["secret"], base)
    assert a.headers["cache-control"] == "no-store"
    assert client.simulate_get("/webhooks/secret").status_code == 401


def test_an_open_api_never_hands_out_its_master_webhook_secret(client, hooked):
    assert client.simulate_get("/webhooks/secret").status_code == 404  # webhooks off
    response = hooked.simulate_get("/webhooks/secret")
    assert response.status_code == 403
    assert "WEBHOOK_SECRET" in response.json["description"] and "whsec_" not in response.text


def test_a_webhook_host_that_does_not_resolve_in_time_is_a_503_not_a_held_thread(strict, monkeypatch):
    import socket
    import threading
    import time

    from core import urls

    release = threading.Event()

    def slow_getaddrinfo(*args, **kwargs):
        release.wait(10)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", 443))]

    monkeypatch.setattr(socket, "getaddrinfo", slow_getaddrinfo)
    monkeypatch.setattr(urls, "RESOLVE_TIMEOUT", 0.5)
    started = time.monotonic()
    try:
        response = post(strict, webhook="https://slow-dns.example/hooks")
    finally:
        release.set()
    assert time.monotonic() - started < 3
    assert response.status_code == 503, response.json
    assert "did not resolve within 0.5 s" in response.json["description"]
    assert response.headers["retry-after"] == "5"
    assert Job.select().count() == 0
