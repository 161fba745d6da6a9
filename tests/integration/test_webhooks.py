"""Webhooks on the real servers: a job accepted over HTTP, run by a worker over RabbitMQ, saved in PostgreSQL,
then posted by the webhooks actor to a real receiver that verifies the signature and answers 500 first."""

from dataclasses import replace

import pytest
from falcon.testing import TestClient

from actors import webhooks
from actors.registry import Runtimes
from actors.sending import open_sender
from actors.setup import worker_sender
from tests.processes import wait_until
from tests.webhook_receiver import new_secret, receiver
from web import create_app

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_a_job_on_the_real_servers_is_delivered_signed_after_a_first_500(
    config, postgres, rabbitmq_url, catalog, models_dir, stub_worker, monkeypatch
):
    monkeypatch.setitem(webhooks.OPTIONS, "min_backoff", 200)
    secret = new_secret()
    config = replace(
        config, broker_url=rabbitmq_url, models_dir=models_dir, webhook_secret=secret, webhook_allow_private=True
    )
    worker_side = worker_sender(
        rabbitmq_url,
        Runtimes(catalog, models_dir),
        preload=[catalog.default],
        webhook_secret=secret,
        webhook_allow_private=True,
    )
    worker_side.broker.flush_all()
    api_side = open_sender(rabbitmq_url)
    client = TestClient(create_app(config, sender=api_side, catalog=catalog))
    try:
        with receiver(secret, answers=[500, 204]) as hooks:
            stub_worker(worker_side.broker)
            job_id = client.simulate_post("/inference", json={"inputs": "Vai Corinthians", "webhook": hooks.url}).json[
                "id"
            ]
            first, second = hooks.wait_for(2, timeout=60)

            def delivered():
                job = client.simulate_get(f"/inference/{job_id}").json
                deliveries = job["webhook"]["deliveries"]
                return job if deliveries and deliveries[0]["status"] == "delivered" else None

            job = wait_until(delivered, 30, "the job's webhook delivery recorded as delivered")
    finally:
        api_side.broker.close()
        worker_side.broker.close()
    assert [call.answered for call in hooks.calls] == [500, 204]
    assert first.payload is not None and second.payload is not None  # signatures verified by the receiver
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert second.payload["type"] == "inference.succeeded"
    assert len(second.payload["data"]["output"][0]["embedding"]) == 384
    (delivery,) = job["webhook"]["deliveries"]
    assert (delivery["status"], delivery["attempts"], delivery["last_status_code"]) == ("delivered", 2, 204)


def test_a_batch_saved_in_one_statement_on_postgresql_records_its_deliveries(postgres):
    from db import Job, Status
    from db.webhooks import WebhookDelivery

    def job(**fields):
        return Job.create(model="m", task="feature-extraction", inputs=["x"], **fields)

    hooked = [job(webhook="https://example.org/a", webhook_events="succeeded,failed") for _ in range(2)]
    quiet = job(webhook="https://example.org/b", webhook_events="canceled")
    plain = job()
    outcomes = [(Job.claim(j.id), {"status": Status.SUCCEEDED, "output": [{"x": 1}]}) for j in (*hooked, quiet, plain)]
    assert len(Job.finish_many(outcomes)) == 4  # one UPDATE ... FROM (VALUES ...) on PostgreSQL
    recorded = {(d.job_id, d.event) for d in WebhookDelivery.select()}
    assert recorded == {(j.id, "succeeded") for j in hooked}
