"""Requests with the same owner and Idempotency-Key take turns (web/intake.py, db/admission.py): a replay
never answers 202 for a job whose first send failed, and a job never sent is sent again by the replay."""

from db import Job, Status
from tests.conftest import queued_messages
from tests.web.idempotency_helpers import race_over_a_blocked_first_send


def test_a_replay_racing_a_failing_first_send_never_answers_202_for_a_job_that_will_not_run(
    client, sender_stub, monkeypatch
):
    def post():
        return client.simulate_post("/inference", json={"inputs": "x"}, headers={"Idempotency-Key": "k-race"})

    first, second = race_over_a_blocked_first_send(monkeypatch, sender_stub, post)
    assert first.status_code == 503  # its publish timed out
    assert second.status_code == 202 and second.headers["idempotent-replayed"] == "true"
    job = Job.get_by_id(second.json["id"])
    assert job.status == Status.QUEUED and queued_messages(sender_stub) == 1  # it will run: it was sent again
