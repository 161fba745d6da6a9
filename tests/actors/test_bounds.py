"""Work is bounded: the actor's time limit interrupts a thread waiting on its batch, a batch stops at its
time bound, and a running batch keeps its jobs' leases alive."""

import datetime as dt
import time
from concurrent.futures import Future

from actors.batching import Batcher, BatchTimeout
from actors.setup import worker_sender
from db import Job, Status
from db.base import utcnow
from tests.doubles import FakeModel, FakeRuntimes, SlowModel, new_job


def test_the_actors_time_limit_stops_a_thread_waiting_on_its_batch_and_the_job_fails_with_the_reason(
    database, stub_worker
):
    job = new_job()
    actors = worker_sender("stub://", FakeRuntimes(SlowModel(3.0)))
    actors.actor.options.update(time_limit=500, max_retries=0)
    actors.broker.emit_after("process_boot")  # what the dramatiq CLI (and the embedded start) does: TimeLimit runs
    stub_worker(actors.broker)
    started = time.monotonic()
    actors.send(job.id)
    actors.broker.join(actors.actor.queue_name, timeout=10_000, fail_fast=False)
    waited = time.monotonic() - started
    assert waited < 2.5, waited  # the thread stopped waiting well before the model returned
    # the batch still finishes and saves it (guarded writes); the message gave up on the time limit
    deadline = time.monotonic() + 10
    while Job.get_by_id(job.id).status == Status.RUNNING and time.monotonic() < deadline:
        time.sleep(0.1)
    stored = Job.get_by_id(job.id)
    assert stored.status in (Status.FAILED, Status.SUCCEEDED)
    if stored.status == Status.FAILED:
        assert stored.error == "gave up after 1 attempts: the time limit was exceeded"


def test_a_batch_stops_at_its_time_bound_and_hands_the_jobs_it_did_not_reach_back_for_a_retry(database):
    model = SlowModel(0.3)
    jobs = [new_job(parameters={"normalize": i % 2 == 0}) for i in range(4)]  # two groups, one run each
    batcher = Batcher(FakeRuntimes(model), batch_timeout=0.2)
    items = [(str(job.id), Future()) for job in jobs]
    batcher.run_batch(items)
    outcomes = []
    for _, future in items:
        try:
            outcomes.append(future.result(timeout=10))
        except BatchTimeout:
            outcomes.append("retry")
    assert outcomes.count(True) >= 1 and "retry" in outcomes  # one group ran, the next was past the bound
    statuses = sorted(Job.get_by_id(job.id).status for job in jobs)
    assert statuses.count(Status.SUCCEEDED) == outcomes.count(True)
    assert statuses.count(Status.RUNNING) == outcomes.count("retry")  # left for the retry to claim


def test_the_leases_of_a_running_batch_are_renewed_until_it_is_saved(database):
    job = new_job()
    batcher = Batcher(FakeRuntimes(SlowModel(2.5)), lease_seconds=1.5)  # renewed every 0.5 s
    future = batcher.submit(job.id)
    seen = []
    while not future.done():
        lease = Job.get_by_id(job.id).lease_expires_at
        if lease is not None:
            seen.append(lease > utcnow())
        time.sleep(0.2)
    assert future.result() is True
    assert len(seen) >= 8 and all(seen), seen  # never expired while the model ran 2.5 s on a 1.5 s lease
    stored = Job.get_by_id(job.id)
    assert stored.status == Status.SUCCEEDED
    time.sleep(0.6)
    assert Job.renew({job.id: stored.attempts}, dt.timedelta(seconds=5)) == 0  # finished: nothing left to renew


class OwnRuns(FakeModel):
    """A model that orders its own runs (as the ONNX encoders do, by tokens): longest first here."""

    def runs(self, texts, limit, **parameters):
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        chunks = [order[start : start + limit] for start in range(0, len(order), limit)]
        return [(chunk, lambda chunk=chunk: self([texts[i] for i in chunk], **parameters)) for chunk in chunks]


def test_a_model_that_orders_its_own_runs_is_run_by_them_and_each_output_goes_to_its_input():
    from actors.batching import run_sorted

    model = OwnRuns()
    texts = ["x" * n for n in (3, 1, 4, 1, 5, 9, 2, 6)]
    assert run_sorted(model, texts, 3) == [{"embedding": [float(len(text))]} for text in texts]
    assert [[len(text) for text in inputs] for inputs, _ in model.calls] == [[9, 6, 5], [4, 3, 2], [1, 1]]


def test_runs_stop_between_runs_once_past_the_deadline():
    from actors.batching import run_sorted

    model = SlowModel(0.2)
    started = time.monotonic()
    try:
        run_sorted(model, ["a", "bb", "ccc"], 1, deadline=started + 0.1)
    except BatchTimeout:
        pass
    else:
        raise AssertionError("ran past the deadline")
    assert len(model.calls) == 1  # the first run started in time; the second would have started past it
    model.calls.clear()
    assert len(run_sorted(model, ["a", "bb"], 1)) == 2 and len(model.calls) == 2
