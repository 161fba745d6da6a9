"""Route-level twins of rules guarded elsewhere only below the routes: DELETE leaves nothing of a job's output
(its float32 vectors included), a full model backlog is counted under its reason, another key can neither
wait on a job nor read a batch's output files, and a keyed job's webhook verifies with the secret its key
reads from `/webhooks/secret`."""

import contextlib
from dataclasses import replace

import dramatiq
from falcon.testing import TestClient
from prometheus_client import REGISTRY

from actors import bulk
from actors.batch_keeper import keep
from actors.delivery import Deliverer
from db import Job, Status
from db.webhooks import WebhookDelivery
from tests.web.bulk_helpers import embedding_lines, jsonl, upload
from tests.web.openai_helpers import fake_embeddings
from tests.webhook_receiver import new_secret, receiver
from web import create_app

A, B = {"Authorization": "Bearer key-a-1234"}, {"Authorization": "Bearer key-b-5678"}


def keyed(config, sender_stub, catalog, **settings) -> TestClient:
    config = replace(config, api_keys=("key-a-1234", "key-b-5678"), **settings)
    return TestClient(create_app(config, sender=sender_stub, catalog=catalog))


def test_deleting_a_finished_job_leaves_nothing_of_its_output_its_vectors_included(client):
    job_id = client.simulate_post("/inference", json={"inputs": ["a", "b"]}).json["id"]
    Job.claim(job_id).finish(Status.SUCCEEDED, output=[{"embedding": [0.5, -0.25]}, {"embedding": [1.0, 2.0]}])
    assert Job.get_by_id(job_id).vectors is not None  # the output really is in the float32 column
    assert client.simulate_delete(f"/inference/{job_id}").status_code == 204
    tomb = Job.get_by_id(job_id)
    assert (tomb.inputs, tomb.result, tomb.vectors, tomb.output) == ([], None, None, None)


def test_a_full_model_backlog_is_a_429_counted_under_backlog(config, database, sender_stub, catalog):
    client = TestClient(create_app(replace(config, max_backlog=1), sender=sender_stub, catalog=catalog))

    def refused(reason: str) -> float:
        return REGISTRY.get_sample_value("inference_api_jobs_refused_total", {"reason": reason}) or 0.0

    before = {reason: refused(reason) for reason in ("backlog", "key_backlog", "rate")}
    assert client.simulate_post("/inference", json={"inputs": "x"}).status_code == 202
    assert client.simulate_post("/inference", json={"inputs": "x"}).status_code == 429
    assert {reason: refused(reason) - before[reason] for reason in before} == {
        "backlog": 1,
        "key_backlog": 0,
        "rate": 0,
    }


def test_another_key_cannot_wait_on_a_job(config, database, sender_stub, catalog):
    client = keyed(config, sender_stub, catalog)
    job_id = client.simulate_post("/inference", json={"inputs": "x"}, headers=A).json["id"]
    Job.claim(job_id).finish(Status.SUCCEEDED, output=[{"embedding": [1.0]}])
    assert client.simulate_get(f"/inference/{job_id}", params={"wait": "1"}, headers=B).status_code == 404
    assert client.simulate_get(f"/inference/{job_id}", params={"wait": "1"}, headers=A).status_code == 200


def test_another_key_cannot_read_delete_or_list_a_batchs_output_file(config, sender_stub, catalog, models):
    client = keyed(config, sender_stub, catalog)
    file_id = upload(client, jsonl(embedding_lines(["one", "two"])), headers=A).json["id"]
    body = {"input_file_id": file_id, "endpoint": "/v1/embeddings", "completion_window": "24h"}
    batch_id = client.simulate_post("/v1/batches", json=body, headers=A).json["id"]
    keep(sender_stub.broker)
    assert sender_stub.broker.queues[bulk.QUEUE].qsize() == 1
    for job in Job.select().where(Job.status == Status.QUEUED):
        fake_embeddings(Job.claim(job.id))
    keep(sender_stub.broker)
    output = client.simulate_get(f"/v1/batches/{batch_id}", headers=A).json["output_file_id"]
    assert output and client.simulate_get(f"/v1/files/{output}/content", headers=A).status_code == 200
    assert client.simulate_get(f"/v1/files/{output}", headers=B).status_code == 404
    assert client.simulate_get(f"/v1/files/{output}/content", headers=B).status_code == 404
    assert client.simulate_delete(f"/v1/files/{output}", headers=B).status_code == 404
    assert output not in [f["id"] for f in client.simulate_get("/v1/files", headers=B).json["data"]]
    assert client.simulate_get(f"/v1/files/{output}", headers=A).status_code == 200  # still there


def test_a_keyed_jobs_webhook_verifies_with_the_secret_its_key_reads_and_not_another_keys(
    config, database, sender_stub, catalog
):
    base = new_secret()
    client = keyed(config, sender_stub, catalog, webhook_secret=base, webhook_allow_private=True)
    secrets = [client.simulate_get("/webhooks/secret", headers=h).json["secret"] for h in (A, B)]
    jobs = []
    with receiver(secrets[0]) as own, receiver(secrets[1]) as others:
        for hooks in (own, others):
            body = {"inputs": "x", "webhook": hooks.url, "webhook_events": ["canceled"]}
            job_id = client.simulate_post("/inference", json=body, headers=A).json["id"]
            jobs.append(job_id)
            assert client.simulate_post(f"/inference/{job_id}/cancel", headers=A).status_code == 200
            delivery = WebhookDelivery.get(WebhookDelivery.job == job_id)
            with contextlib.suppress(dramatiq.Retry):  # the other key's receiver answers 401: retried
                Deliverer(base, allow_private=True)(str(delivery.id))
    assert own.calls[0].payload is not None and jobs[0] in own.calls[0].body.decode()  # key A's secret verifies
    assert others.calls[0].payload is None  # key B's secret does not verify key A's deliveries
