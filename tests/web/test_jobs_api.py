"""GET /inference (list, filter, page) and DELETE /inference/{id}, and jobs scoped to the API key that
created them (web/resources/jobs.py, web/resources/inference.py)."""

import base64
import logging
from dataclasses import replace

import pytest
from falcon.testing import TestClient

from db import Job, Status
from db.base import utcnow
from web import create_app

KEYS = ("key-alice-5d2e", "key-bob-8c1f")
ALICE, BOB = ({"Authorization": f"Bearer {key}"} for key in KEYS)


@pytest.fixture
def keyed(config, database, sender_stub, catalog):
    return TestClient(create_app(replace(config, api_keys=KEYS), sender=sender_stub, catalog=catalog))


def post(client, text="hello", headers=None, **body):
    response = client.simulate_post("/inference", json={"inputs": text, **body}, headers=headers)
    assert response.status_code == 202, response.json
    return response.json["id"]


def test_jobs_are_listed_newest_first_without_inputs_or_outputs(client):
    ids = [post(client, f"text {n}") for n in range(3)]
    Job.claim(ids[0]).finish(Status.SUCCEEDED, output=[{"embedding": [1.0]}])
    listed = client.simulate_get("/inference").json
    assert [job["id"] for job in listed["jobs"]] == ids[::-1]
    assert listed["next"] is None
    assert all("output" not in job and "inputs" not in job for job in listed["jobs"])
    full = client.simulate_get("/inference", params={"include": "inputs,output"}).json["jobs"]
    assert full[-1]["inputs"] == ["text 0"] and full[-1]["output"] == [{"embedding": [1.0]}]


def test_pages_follow_the_next_link_through_every_job_once(client):
    ids = [post(client, f"text {n}") for n in range(7)]
    seen, url, pages = [], "/inference?limit=3", 0
    while url:
        response = client.simulate_get(url)
        assert response.status_code == 200
        seen += [job["id"] for job in response.json["jobs"]]
        url = response.json["next"]
        if url:
            assert response.headers["link"] == f"<{url}>; rel=next"
        pages += 1
    assert seen == ids[::-1]
    assert pages == 3


def test_a_new_job_does_not_shift_the_pages_already_reached(client):
    ids = [post(client, f"text {n}") for n in range(4)]
    first = client.simulate_get("/inference", params={"limit": 2}).json
    post(client, "a newcomer")
    second = client.simulate_get(first["next"]).json
    assert [job["id"] for job in second["jobs"]] == ids[1::-1]


def test_jobs_are_filtered_by_status_and_model(client):
    done, waiting = post(client, "a"), post(client, "b", model="all-MiniLM-L6-v2-int8")
    Job.claim(done).finish(Status.SUCCEEDED, output=[{"embedding": [1.0]}])
    by_status = client.simulate_get("/inference", params={"status": "succeeded"}).json["jobs"]
    assert [job["id"] for job in by_status] == [done]
    by_model = client.simulate_get("/inference", params={"model": "all-MiniLM-L6-v2-int8"}).json["jobs"]
    assert [job["id"] for job in by_model] == [waiting]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "done"}, "status"),
        ({"model": "gpt-17"}, "model"),
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"after": "not-a-cursor"}, "after"),
        ({"include": "inputs,secrets"}, "include"),
    ],
)
def test_a_bad_listing_parameter_is_a_422_naming_it(client, params, field):
    response = client.simulate_get("/inference", params=params)
    assert response.status_code == 422
    assert response.json["field"] == field


def test_another_keys_jobs_are_not_found_listed_canceled_or_deleted(keyed):
    mine = post(keyed, headers=ALICE)
    assert keyed.simulate_get(f"/inference/{mine}", headers=ALICE).status_code == 200
    assert keyed.simulate_get(f"/inference/{mine}", headers=BOB).status_code == 404
    assert keyed.simulate_post(f"/inference/{mine}/cancel", headers=BOB).status_code == 404
    assert keyed.simulate_delete(f"/inference/{mine}", headers=BOB).status_code == 404
    assert keyed.simulate_get("/inference", headers=BOB).json["jobs"] == []
    assert [job["id"] for job in keyed.simulate_get("/inference", headers=ALICE).json["jobs"]] == [mine]
    assert Job.get_by_id(mine).status == Status.QUEUED  # untouched by Bob


def test_idempotency_keys_are_scoped_per_api_key(keyed):
    key = {"Idempotency-Key": "order-42"}
    alice = post(keyed, headers={**ALICE, **key})
    bob = post(keyed, headers={**BOB, **key})
    assert alice != bob
    replay = keyed.simulate_post("/inference", json={"inputs": "hello"}, headers={**ALICE, **key})
    assert replay.json["id"] == alice and replay.headers["idempotent-replayed"] == "true"
    other_body = keyed.simulate_post("/inference", json={"inputs": "another"}, headers={**BOB, **key})
    assert other_body.status_code == 422  # Bob's own key, another body


def test_the_owner_is_a_key_id_never_the_key(keyed):
    job = Job.get_by_id(post(keyed, headers=ALICE))
    assert job.owner and job.owner not in KEYS[0] and len(job.owner) == 16


def test_without_keys_every_job_is_open_to_every_caller(client):
    job_id = post(client)
    assert client.simulate_get(f"/inference/{job_id}").status_code == 200
    assert Job.get_by_id(job_id).owner == ""


def test_a_deleted_job_is_gone_to_get_wait_and_cancel_and_listed_without_inputs_or_output(client):
    job_id = post(client)
    Job.claim(job_id).finish(Status.SUCCEEDED, output=[{"embedding": [1.0]}])
    assert client.simulate_delete(f"/inference/{job_id}").status_code == 204
    for response in (
        client.simulate_get(f"/inference/{job_id}"),
        client.simulate_get(f"/inference/{job_id}", params={"wait": "5"}),
        client.simulate_post(f"/inference/{job_id}/cancel"),
    ):
        assert response.status_code == 410
        assert response.json["title"] == "Gone" and "deleted" in response.json["description"]
    listed = client.simulate_get("/inference", params={"include": "inputs,output"}).json["jobs"]
    assert listed[0]["deleted_at"] and "inputs" not in listed[0] and "output" not in listed[0]
    assert Job.get_by_id(job_id).inputs == []


def test_deleting_a_deleted_job_again_is_a_204_that_changes_nothing(client):
    job_id = post(client)
    Job.claim(job_id).finish(Status.SUCCEEDED, output=[{"embedding": [1.0]}])
    assert client.simulate_delete(f"/inference/{job_id}").status_code == 204
    deleted_at = Job.get_by_id(job_id).deleted_at
    assert client.simulate_delete(f"/inference/{job_id}").status_code == 204
    assert Job.get_by_id(job_id).deleted_at == deleted_at


def test_a_purged_job_is_gone_naming_the_purge(client):
    job_id = post(client)
    Job.claim(job_id).finish(Status.SUCCEEDED, output=[{"embedding": [1.0]}])
    Job.update(purged_at=utcnow(), inputs=[], output=None).where(Job.id == job_id).execute()
    response = client.simulate_get(f"/inference/{job_id}")
    assert response.status_code == 410 and "purged" in response.json["description"]
    assert client.simulate_delete(f"/inference/{job_id}").status_code == 204


def test_an_empty_after_is_the_first_page(client):
    ids = [post(client, f"text {n}") for n in range(2)]
    response = client.simulate_get("/inference?after=")
    assert response.status_code == 200
    assert [job["id"] for job in response.json["jobs"]] == ids[::-1]


def test_deleting_a_queued_job_cancels_it_first(client):
    job_id = post(client)
    assert client.simulate_delete(f"/inference/{job_id}").status_code == 204
    job = Job.get_by_id(job_id)
    assert (job.status, job.inputs) == (Status.CANCELED, [])
    assert Job.claim(job_id) is None  # a worker that gets its message skips it


def test_deleting_an_unknown_job_is_a_404(client):
    assert client.simulate_delete("/inference/00000000-0000-0000-0000-000000000000").status_code == 404
    assert client.simulate_delete("/inference/nope").status_code == 404


def test_a_deleted_jobs_idempotency_key_makes_a_new_job(client):
    key = {"Idempotency-Key": "retry-me"}
    first = post(client, headers=key)
    client.simulate_delete(f"/inference/{first}")
    assert post(client, headers=key) != first


@pytest.mark.parametrize(
    "forged",
    [
        base64.urlsafe_b64encode(b'{"a": 1}').decode(),  # valid JSON of the wrong shape
        base64.urlsafe_b64encode(b'["2026-01-01T00:00:00", 5]').decode(),  # not a UUID string
        base64.urlsafe_b64encode(b"[" * 5000 + b"]" * 5000).decode(),  # nested too deeply to parse
        base64.urlsafe_b64encode(b'[["2026-01-01"], "x"]').decode(),
        "QQ",  # one byte of no JSON
    ],
)
def test_a_forged_cursor_is_a_422_naming_after(client, forged):
    response = client.simulate_get("/inference", params={"after": forged})
    assert response.status_code == 422
    assert response.json["field"] == "after"


def test_a_listing_reads_no_inputs_or_outputs_unless_asked(client, caplog):
    post(client, "a")
    with caplog.at_level(logging.DEBUG, logger="peewee"):
        client.simulate_get("/inference")
    listing = [r.getMessage() for r in caplog.records if "ORDER BY" in r.getMessage()]
    assert listing and all('"inputs"' not in sql and '"output"' not in sql for sql in listing)
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="peewee"):
        jobs = client.simulate_get("/inference", params={"include": "inputs"}).json["jobs"]
    assert jobs[0]["inputs"] == ["a"]
