"""Inference messages dispatched from the consumer to the batcher (actors/rabbitmq/dispatch.py), on the real RabbitMQ
and PostgreSQL with the real MiniLM: they run together whatever the worker's thread count, every one is
settled once, a worker stopped mid-batch lets its batch finish and acks it, and a worker holds jobs, not
messages, up to its prefetch."""

import threading
import time

import dramatiq
import pytest

from actors import bulk, inference
from actors.registry import Runtimes
from actors.sending import open_sender
from actors.setup import worker_sender
from db import Job, Status
from tests.servers import queue_counts

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def queued(postgres, rabbitmq_url, catalog, models_dir):
    """A worker-side sender (not consuming yet) and a function that queues jobs, `per_message` in a message
    (one by default; several as the API's group commit sends them)."""
    worker_side = worker_sender(rabbitmq_url, Runtimes(catalog, models_dir), preload=[catalog.default])
    worker_side.broker.flush_all()
    api_side = open_sender(rabbitmq_url)

    def queue(n: int, per_message: int = 1) -> list[str]:
        jobs = Job.create_many(
            [{"model": catalog.default, "task": "embeddings", "inputs": [f"text {i}"]} for i in range(n)]
        )
        for start in range(0, n, per_message):
            api_side.enqueue(*(job.id for job in jobs[start : start + per_message]))
        return [str(job.id) for job in jobs]

    yield worker_side, queue
    api_side.broker.close()
    worker_side.broker.close()


def wait_finished(ids: list[str], timeout: float = 60.0) -> list[Job]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = list(Job.select().where(Job.id.in_(ids)))
        if all(job.finished for job in jobs):
            return jobs
        time.sleep(0.05)
    raise AssertionError("jobs not finished in time")


def test_each_queue_has_its_own_dispatch_and_dramatiq_warns_of_no_middleware_added_twice(
    postgres, rabbitmq_url, catalog, models_dir, caplog
):
    with caplog.at_level("WARNING", logger="dramatiq"):
        worker_side = worker_sender(rabbitmq_url, Runtimes(catalog, models_dir))
    try:
        assert set(worker_side.broker.dispatchers) == {inference.QUEUE, bulk.QUEUE}
        assert not [r for r in caplog.records if "same type twice" in r.getMessage()]
    finally:
        worker_side.broker.close()


def test_messages_run_together_even_with_a_single_worker_thread(queued, rabbitmq_url, stub_worker):
    worker_side, queue = queued
    ids = queue(48)
    batcher = worker_side.broker.dispatchers[inference.QUEUE].batcher
    stub_worker(worker_side.broker, threads=1)  # Dramatiq's threads would run one message, so one job, at a time
    jobs = wait_finished(ids)
    assert [job.status for job in jobs] == [Status.SUCCEEDED] * 48
    assert all(job.attempts == 1 for job in jobs)
    deadline = time.monotonic() + 10
    while batcher.jobs < 48 and time.monotonic() < deadline:  # the writer counts a batch after its commit
        time.sleep(0.01)
    assert batcher.jobs == 48 and batcher.batches <= 12  # one batch per message would be 48
    while queue_counts(rabbitmq_url, inference.QUEUE)[0] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert queue_counts(rabbitmq_url, inference.QUEUE) == (0, 1)


def test_a_worker_stopped_mid_batch_finishes_and_acks_what_it_took(queued, rabbitmq_url, monkeypatch):
    worker_side, queue = queued
    batcher = worker_side.broker.dispatchers[inference.QUEUE].batcher
    run_batch, started = batcher.run_batch, []

    def slow(items):
        started.append(len(items))
        time.sleep(0.5)  # long enough for the stop below to begin while it runs
        run_batch(items)

    monkeypatch.setattr(batcher, "run_batch", slow)
    ids = queue(8)
    worker = dramatiq.Worker(worker_side.broker, worker_timeout=50, worker_threads=2)  # prefetches 4
    worker.start()
    deadline = time.monotonic() + 30
    while not started and time.monotonic() < deadline:
        time.sleep(0.01)
    worker.stop()  # the consumer waits for what it took, then its close sends the acks
    finished = [job for job in Job.select().where(Job.id.in_(ids)) if job.finished]
    assert len(finished) >= started[0] >= 1  # the batch running at the stop was finished
    assert all(job.status == Status.SUCCEEDED and job.attempts == 1 for job in finished)
    ready, consumers = queue_counts(rabbitmq_url, inference.QUEUE)
    assert (ready, consumers) == (8 - len(finished), 0)  # every finished job's message acked, the rest ready again


def test_a_worker_holds_about_two_batches_of_jobs_not_of_messages(queued, rabbitmq_url, monkeypatch):
    """Messages of 8 jobs each (a group commit's) arrive while the batcher is held up: the consumer lowers its
    prefetch as it sees them, so it takes about two batches of jobs (128), not 128 messages of 8; then every
    job finishes."""
    worker_side, queue = queued
    dispatch = worker_side.broker.dispatchers[inference.QUEUE]
    batcher = dispatch.batcher
    run_batch, release = batcher.run_batch, threading.Event()

    def held_up(items):
        release.wait(30)
        run_batch(items)

    monkeypatch.setattr(batcher, "run_batch", held_up)
    worker = dramatiq.Worker(worker_side.broker, worker_timeout=50, worker_threads=1)
    worker.start()
    ids: list[str] = []
    try:
        for _ in range(40):
            ids += queue(8, per_message=8)
            time.sleep(0.02)  # arriving over time, as a group commit's messages do
        time.sleep(0.5)
        ready, _ = queue_counts(rabbitmq_url, inference.QUEUE)
        taken = 40 - ready
        held = dispatch.jobs_held
        assert held / 8 <= taken <= held / 4  # a message a job would have taken all 40 (320 jobs)
        assert dispatch.prefetch <= held / 4  # and falling: held up, it has seen only the messages it took
        release.set()
        jobs = wait_finished(ids)
        assert {job.status for job in jobs} == {Status.SUCCEEDED}
    finally:
        release.set()
        worker.stop()
