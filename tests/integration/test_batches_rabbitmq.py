"""The Batch API on the production path: jobs released on RabbitMQ's bulk queue (`inference.bulk`), taken
by a real worker's bulk consumer, saved in PostgreSQL; interactive jobs run meanwhile."""

import pytest

from actors import bulk
from actors.batch_keeper import keep
from db import Job
from tests.processes import wait_until
from tests.web.bulk_helpers import embedding_lines, jsonl, upload

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_a_batch_runs_on_the_bulk_queue_beside_interactive_jobs(api_and_worker_sides):
    client, api_side, worker_side = api_and_worker_sides
    assert bulk.QUEUE in worker_side.broker.dispatchers  # the bulk consumer hands its messages to the batcher
    file_id = upload(client, jsonl(embedding_lines([f"text number {i}" for i in range(300)]))).json["id"]
    body = {"input_file_id": file_id, "endpoint": "/v1/embeddings", "completion_window": "24h"}
    batch = client.simulate_post("/v1/batches", json=body).json
    assert keep(api_side.broker, in_flight=100) == 100  # sent by a process that only sends (the sweeper's)
    interactive = client.simulate_post("/inference", json={"inputs": "interactive"}, headers={"Prefer": "wait=30"})
    assert interactive.status_code == 200 and interactive.json["status"] == "succeeded"

    def completed():
        keep(api_side.broker, in_flight=100)
        return client.simulate_get(f"/v1/batches/{batch['id']}").json["status"] == "completed"

    wait_until(completed, timeout=120, message="the batch completes", interval=0.2)
    done = client.simulate_get(f"/v1/batches/{batch['id']}").json
    assert done["request_counts"] == {"total": 300, "completed": 300, "failed": 0}
    output = client.simulate_get(f"/v1/files/{done['output_file_id']}/content").content.splitlines()
    assert len(output) == 300
    assert Job.select().where(Job.attempts > 1).count() == 0  # nothing ran twice
