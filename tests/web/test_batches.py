"""`/v1/batches`: a JSONL of requests becomes jobs on the bulk lane, and every line is answered once, in the
output file or the error file, in OpenAI's shapes; cancel and expiry end a batch with what finished."""

import datetime as dt
import json
from dataclasses import replace

import pytest
from falcon.testing import TestClient

from actors import bulk
from actors.batch_keeper import keep
from db import Job, Status
from db.base import utcnow
from tests.web.bulk_helpers import embedding_lines, jsonl, upload
from tests.web.openai_helpers import fake_embeddings
from web import create_app

TEXTS = ["one", "two words", "three words here"]


@pytest.fixture
def api(client, models):
    return client


def create(client, content: bytes, *, endpoint="/v1/embeddings", headers=None, **extra):
    file_id = upload(client, content, headers=headers).json["id"]
    body = {"input_file_id": file_id, "endpoint": endpoint, "completion_window": "24h", **extra}
    return client.simulate_post("/v1/batches", json=body, headers=headers)


def run_released(limit=None) -> int:
    """What a worker does with the released jobs: each queued one gets its embeddings."""
    jobs = list(Job.select().where(Job.status == Status.QUEUED).order_by(Job.created_at).limit(limit or 10**6))
    for job in jobs:
        fake_embeddings(Job.claim(job.id))
    return len(jobs)


def lines_of(client, file_id) -> list[dict]:
    content = client.simulate_get(f"/v1/files/{file_id}/content").content
    return [json.loads(line) for line in content.splitlines()]


def test_a_batch_answers_every_line_in_the_output_file_in_openais_shape(api, sender_stub):
    made = create(api, jsonl(embedding_lines(TEXTS)), metadata={"run": "nightly"})
    assert made.status_code == 200, made.text
    batch = made.json
    assert batch["id"].startswith("batch_") and batch["object"] == "batch"
    assert (batch["status"], batch["request_counts"]) == ("in_progress", {"total": 3, "completed": 0, "failed": 0})
    assert batch["metadata"] == {"run": "nightly"} and batch["expires_at"] - batch["created_at"] == 24 * 3600

    assert keep(sender_stub.broker) == 3  # released on the bulk lane, one message (a key's chunk)
    assert sender_stub.broker.queues[bulk.QUEUE].qsize() == 1
    assert run_released() == 3
    keep(sender_stub.broker)
    done = api.simulate_get(f"/v1/batches/{batch['id']}").json
    assert done["status"] == "completed" and done["request_counts"] == {"total": 3, "completed": 3, "failed": 0}
    assert done["completed_at"] and done["finalizing_at"] and done["error_file_id"] is None
    lines = lines_of(api, done["output_file_id"])
    assert [line["custom_id"] for line in lines] == ["req-0", "req-1", "req-2"]
    first = lines[0]
    assert first["id"].startswith("batch_req_") and first["error"] is None
    assert first["response"]["status_code"] == 200
    assert Job.get_by_id(first["response"]["request_id"]).inputs == ["one"]
    body = first["response"]["body"]
    assert body["object"] == "list" and body["data"][0]["embedding"] == [3.0, 0.5, -0.25, 1 / 3]
    assert body["usage"] == {"prompt_tokens": 3, "total_tokens": 3}


def test_invalid_lines_are_answered_in_the_error_file_and_the_rest_still_runs(api, sender_stub):
    good = embedding_lines(["fine"])[0]
    content = b"\n".join(
        [
            json.dumps(good).encode(),
            b"{not json",
            json.dumps({**good, "custom_id": "req-0"}).encode(),  # a duplicate
            json.dumps({**good, "custom_id": "u", "url": "/v1/chat/completions"}).encode(),
            json.dumps({**good, "custom_id": "m", "body": {"model": "gpt-4", "input": "x"}}).encode(),
            json.dumps({**good, "custom_id": "e", "body": {"input": ""}}).encode(),
            b"",
            json.dumps({**good, "custom_id": "last"}).encode(),
        ]
    )
    batch = create(api, content).json
    assert batch["request_counts"] == {"total": 7, "completed": 0, "failed": 5}
    keep(sender_stub.broker)
    run_released()
    keep(sender_stub.broker)
    done = api.simulate_get(f"/v1/batches/{batch['id']}").json
    assert done["status"] == "completed" and done["request_counts"] == {"total": 7, "completed": 2, "failed": 5}
    errors = lines_of(api, done["error_file_id"])
    codes = [line["error"]["code"] for line in errors]
    assert codes[:4] == ["invalid_json", "duplicate_custom_id", "mismatched_url", "model_not_found"]
    assert all(line["response"] is None for line in errors)
    assert "line 2" in errors[0]["error"]["message"]
    assert [line["custom_id"] for line in lines_of(api, done["output_file_id"])] == ["req-0", "last"]


def test_a_failed_job_is_answered_in_the_error_file_with_a_500_response(api, sender_stub):
    batch = create(api, jsonl(embedding_lines(["a", "b"]))).json
    keep(sender_stub.broker)
    first, second = Job.select().order_by(Job.created_at)
    fake_embeddings(Job.claim(first.id))
    Job.claim(second.id).finish(Status.FAILED, error="ValueError: bad", failure="model_error")
    keep(sender_stub.broker)
    done = api.simulate_get(f"/v1/batches/{batch['id']}").json
    assert done["request_counts"] == {"total": 2, "completed": 1, "failed": 1}
    [error] = lines_of(api, done["error_file_id"])
    assert error["response"]["status_code"] == 500
    assert error["response"]["body"]["error"]["code"] == "model_error"


def test_an_empty_file_fails_the_batch_with_the_reason(api):
    batch = create(api, b"\n\n").json
    assert batch["status"] == "failed" and batch["failed_at"]
    assert batch["errors"]["data"][0]["code"] == "empty_file"


def test_cancel_stops_the_batch_and_keeps_what_finished(api, sender_stub):
    batch = create(api, jsonl(embedding_lines(["a", "b", "c", "d"]))).json
    keep(sender_stub.broker, in_flight=2)  # two released, two waiting for room
    run_released(limit=1)
    cancelling = api.simulate_post(f"/v1/batches/{batch['id']}/cancel")
    assert cancelling.status_code == 200 and cancelling.json["status"] == "cancelling"
    assert cancelling.json["cancelling_at"]
    keep(sender_stub.broker)
    done = api.simulate_get(f"/v1/batches/{batch['id']}").json
    assert done["status"] == "cancelled" and done["cancelled_at"]
    assert done["request_counts"] == {"total": 4, "completed": 1, "failed": 3}
    assert Job.select().where(Job.status == Status.CANCELED).count() == 1  # released, unfinished
    assert Job.select().count() == 2  # the other two were never released
    assert [line["custom_id"] for line in lines_of(api, done["output_file_id"])] == ["req-0"]
    errors = lines_of(api, done["error_file_id"])
    assert [line["error"]["code"] for line in errors] == ["batch_cancelled"] * 3
    again = api.simulate_post(f"/v1/batches/{batch['id']}/cancel")
    assert again.status_code == 409 and again.json["error"]["code"] == "batch_not_cancellable"


def test_a_batch_past_its_window_expires_with_what_finished(api, sender_stub):
    batch = create(api, jsonl(embedding_lines(["a", "b"]))).json
    keep(sender_stub.broker, in_flight=1)
    run_released()
    keep(sender_stub.broker, in_flight=0, now=utcnow() + dt.timedelta(hours=25))
    done = api.simulate_get(f"/v1/batches/{batch['id']}").json
    assert done["status"] == "expired" and done["expired_at"]
    assert len(lines_of(api, done["output_file_id"])) == 1
    assert [line["error"]["code"] for line in lines_of(api, done["error_file_id"])] == ["batch_expired"]


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"endpoint": "/v1/chat/completions"}, "endpoint"),
        ({"completion_window": "48h"}, "completion_window"),
        ({"metadata": {"k": 1}}, "metadata"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_a_bad_batch_request_is_a_422_naming_the_field(api, change, param):
    file_id = upload(api, jsonl(embedding_lines(TEXTS))).json["id"]
    body = {"input_file_id": file_id, "endpoint": "/v1/embeddings", "completion_window": "24h", **change}
    refused = api.simulate_post("/v1/batches", json=body)
    assert refused.status_code == 422 and refused.json["error"]["param"] == param


def test_batches_are_listed_newest_first_and_another_key_sees_none(config, sender_stub, catalog, models):
    keyed = TestClient(create_app(replace(config, api_keys=("key-a", "key-b")), sender=sender_stub, catalog=catalog))
    a, b = {"Authorization": "Bearer key-a"}, {"Authorization": "Bearer key-b"}
    ids = [create(keyed, jsonl(embedding_lines(TEXTS)), headers=a).json["id"] for _ in range(3)]
    listed = keyed.simulate_get("/v1/batches", params={"limit": 2}, headers=a).json
    assert [x["id"] for x in listed["data"]] == ids[::-1][:2] and listed["has_more"]
    assert (listed["first_id"], listed["last_id"]) == (ids[2], ids[1])
    rest = keyed.simulate_get("/v1/batches", params={"after": listed["last_id"]}, headers=a).json
    assert [x["id"] for x in rest["data"]] == [ids[0]] and not rest["has_more"]
    assert keyed.simulate_get("/v1/batches", headers=b).json["data"] == []
    assert keyed.simulate_get(f"/v1/batches/{ids[0]}", headers=b).status_code == 404
    assert keyed.simulate_post(f"/v1/batches/{ids[0]}/cancel", headers=b).status_code == 404
    file_of_a = keyed.simulate_get(f"/v1/batches/{ids[0]}", headers=a).json["input_file_id"]
    body = {"input_file_id": file_of_a, "endpoint": "/v1/embeddings", "completion_window": "24h"}
    refused = keyed.simulate_post("/v1/batches", json=body, headers=b)
    assert refused.status_code == 404 and refused.json["error"]["param"] == "input_file_id"
