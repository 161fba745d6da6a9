"""The same time bound in both modes: the batcher's `batch_timeout` bounds a message's work whether a
Dramatiq worker thread runs it (the embedded mode) or the RabbitMQ consumer dispatches it to the batcher,
and the actor's Dramatiq time limit is derived from it."""

from dramatiq.broker import MessageProxy

from actors.limits import TIME_LIMIT_BATCHES, actor_time_limit_ms
from actors.rabbitmq.dispatch import Dispatch
from actors.setup import worker_sender
from db import Job, Status
from tests.actors.rabbitmq.doubles import Consumer
from tests.doubles import FakeRuntimes, SlowModel, new_job

BOUND = 0.2  # seconds: the first group's run (0.3 s) outruns it, so the second group is not reached


def two_groups() -> list[Job]:
    return [new_job(parameters={"normalize": True}), new_job(parameters={"normalize": False})]


def outcome(jobs: list[Job]) -> list[tuple[str, str | None]]:
    return [(stored.status, stored.error) for stored in (Job.get_by_id(job.id) for job in jobs)]


EXPECTED = [(Status.SUCCEEDED, None), (Status.FAILED, "gave up after 1 attempts: its batch ran past its time bound")]


def test_the_actors_time_limit_is_derived_from_the_batch_timeout_past_the_batchers_own_bound():
    actors = worker_sender("stub://", FakeRuntimes(SlowModel(0)), batch_timeout=BOUND)
    assert actors.batcher.batch_timeout == BOUND
    assert actors.actor.options["time_limit"] == actor_time_limit_ms(BOUND) == round(TIME_LIMIT_BATCHES * BOUND * 1000)
    assert actor_time_limit_ms(BOUND) > BOUND * 1000


def test_a_worker_thread_runs_a_message_within_the_batch_timeout(database, stub_worker):
    actors = worker_sender("stub://", FakeRuntimes(SlowModel(0.3)), batch_timeout=BOUND)
    actors.actor.options.update(max_retries=0)
    jobs = two_groups()
    stub_worker(actors.broker)
    actors.send(*(job.id for job in jobs))
    actors.broker.join(actors.actor.queue_name, timeout=10_000, fail_fast=False)
    assert outcome(jobs) == EXPECTED


def test_a_dispatched_message_runs_within_the_same_batch_timeout(database):
    actors = worker_sender("stub://", FakeRuntimes(SlowModel(0.3)), batch_timeout=BOUND)
    actors.actor.options.update(max_retries=0)
    dispatch = Dispatch(actors.batcher)
    actors.broker.add_middleware(dispatch)
    jobs = two_groups()
    consumer = Consumer(actors.broker)
    sent = MessageProxy(actors.actor.message(*(str(job.id) for job in jobs)))
    dispatch(consumer, sent)
    assert dispatch.wait_settled(10) == 0
    assert consumer.nacked == [sent.message_id]  # retries exhausted: dead-lettered
    assert outcome(jobs) == EXPECTED
