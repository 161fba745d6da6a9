"""Running a lone job ahead of its claim: the batcher runs it on its message's hint while another thread
claims it (a stand-in model; the claims and saves on the test's SQLite database)."""

import threading
import time
from concurrent.futures import Future
from types import SimpleNamespace

import peewee
import pytest

from actors.batching import Batcher
from db import Job, Status
from db.base import utcnow
from tests.doubles import FakeModel, FakeRuntimes, new_job


def hint_of(job: Job) -> list:
    return [job.model, job.task, job.parameters, job.inputs]


@pytest.fixture
def claims(monkeypatch):
    """Each claim's thread, and whether the model had been called by the time the claim went out (the claim
    waits up to 5 s for a first model call, so a claim made before the run would see none)."""
    seen = []
    original = Job.claim_fresh.__func__

    def claim_fresh(cls, job_ids, **kwargs):
        model = claims.model
        deadline = time.monotonic() + 5
        while model is not None and not model.calls and time.monotonic() < deadline:
            time.sleep(0.01)
        seen.append((threading.current_thread().name, bool(model and model.calls)))
        claims.sent = utcnow()
        return original(cls, job_ids, **kwargs)

    claims = SimpleNamespace(seen=seen, model=None)
    monkeypatch.setattr(Job, "claim_fresh", classmethod(claim_fresh))
    return claims


def run_hinted(batcher, job_id, hint):
    [future] = batcher.submit_many([job_id], hint=hint)
    return future.result(timeout=10)


def test_a_hinted_lone_job_runs_while_another_thread_claims_it(database, claims):
    model = claims.model = FakeModel()
    job = new_job(parameters={"normalize": False})
    assert run_hinted(Batcher(FakeRuntimes(model)), job.id, hint_of(job)) is True
    assert claims.seen == [(claims.seen[0][0], True)] and claims.seen[0][0].startswith("claim-ahead")
    assert model.calls == [(["hi", "there"], {"task": "feature-extraction", "normalize": False})]  # once
    stored = Job.get_by_id(job.id)
    assert stored.status == Status.SUCCEEDED and stored.attempts == 1
    assert stored.output == [{"embedding": [2.0]}, {"embedding": [5.0]}]
    assert stored.started_at < claims.sent  # started when its run began, not when its claim went out


def test_a_job_whose_row_is_not_what_its_hint_says_runs_again_on_its_row(database, claims):
    model = claims.model = FakeModel()
    job = new_job()
    assert run_hinted(Batcher(FakeRuntimes(model)), job.id, [job.model, job.task, {}, ["other"]]) is True
    assert [inputs for inputs, _ in model.calls] == [["other"], ["hi", "there"]]
    assert Job.get_by_id(job.id).output == [{"embedding": [2.0]}, {"embedding": [5.0]}]  # the row's inputs


def test_an_output_made_ahead_for_a_job_no_longer_queued_is_dropped(database, claims):
    model = claims.model = FakeModel()
    job = new_job()
    Job.claim(job.id).finish(Status.SUCCEEDED, output=[{"embedding": [9.0]}])
    assert run_hinted(Batcher(FakeRuntimes(model)), job.id, hint_of(job)) is None  # nothing to do
    assert len(model.calls) == 1  # it ran ahead, then found the job finished
    assert Job.get_by_id(job.id).output == [{"embedding": [9.0]}]  # written once, by its first run


def test_a_claim_that_fails_hands_the_error_to_the_message_and_holds_no_lease(database, monkeypatch):
    def down(cls, job_ids, **kwargs):
        raise peewee.OperationalError("the database is down")

    monkeypatch.setattr(Job, "claim_fresh", classmethod(down))
    batcher = Batcher(FakeRuntimes(FakeModel()))
    job = new_job()
    [future] = batcher.submit_many([job.id], hint=hint_of(job))
    with pytest.raises(peewee.OperationalError):
        future.result(timeout=10)
    assert batcher._held == {} and Job.get_by_id(job.id).status == Status.QUEUED  # its message is retried


def test_jobs_that_share_a_batch_are_claimed_first_even_with_hints(database, claims):
    batcher = Batcher(FakeRuntimes(FakeModel()))
    first, second = new_job(), new_job()
    batcher._hints[str(first.id)] = hint_of(first)
    items = [(str(first.id), Future()), (str(second.id), Future())]
    batcher.run_batch(items)
    for _, future in items:
        future.result(timeout=10)  # saved by the loop's writer
    assert [name.startswith("claim-ahead") for name, _ in claims.seen] == [False]
    assert batcher._hints == {}  # a hint not run on is dropped with its batch
    assert {Job.get_by_id(job.id).status for job in (first, second)} == {Status.SUCCEEDED}
