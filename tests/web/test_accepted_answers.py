"""A job accepted is never hidden behind an error: the database failing after the row is committed and its
message sent answers 202 with the job's `Location`, not 503 (web/resources/inference.py)."""

import peewee

from db import Job, Status
from web import waiting
from web.resources import inference


def test_a_database_error_while_waiting_answers_202_with_the_accepted_job(client, monkeypatch):
    def failing(self, job, seconds, owner=""):
        raise peewee.OperationalError("the database went away")

    monkeypatch.setattr(waiting.Waiter, "wait", failing)
    response = client.simulate_post("/inference", json={"inputs": "x"}, headers={"Prefer": "wait=5"})
    assert response.status_code == 202
    assert response.headers["location"] == f"/inference/{response.json['id']}"
    assert response.json["status"] == "queued"
    assert Job.get_by_id(response.json["id"]).status == Status.QUEUED  # it stays accepted: it will run


def test_a_database_error_while_rendering_answers_202_with_the_accepted_job(client, monkeypatch):
    def failing(job):
        raise peewee.InterfaceError("connection already closed")

    monkeypatch.setattr(inference, "full_view", failing)
    response = client.simulate_post("/inference", json={"inputs": "x"})
    assert response.status_code == 202
    assert response.headers["location"].endswith(response.json["id"])


def test_a_database_error_while_awaiting_embeddings_names_the_accepted_job(api, worker, monkeypatch):
    def failing(self, job, seconds):
        raise peewee.OperationalError("the database went away")

    worker.outcome = lambda job: None  # nothing finishes: the wait is where the database fails
    monkeypatch.setattr(waiting.Waiter, "wait_holding", failing)
    response = api.simulate_post("/v1/embeddings", json={"model": "all-MiniLM-L6-v2", "input": "x"})
    job = Job.get()
    assert response.status_code == 503 and response.json["error"]["code"] == "timeout"
    assert response.headers["location"] == f"/inference/{job.id}"  # where the accepted job can be read
    assert not job.finished  # accepted, and still to run
