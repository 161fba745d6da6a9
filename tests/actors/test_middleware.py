"""The worker middleware's hooks as units: a real Dramatiq worker on a StubBroker, a stand-in model."""

import logging

import peewee

from actors import bulk
from actors.setup import worker_sender
from db import Job, Status
from tests.doubles import FakeModel, FakeRuntimes, new_job

MARKER = "secret-user-text-7f3a"  # what a driver's text may quote of a statement's values


def give_up(monkeypatch, stub_worker, error: Exception):
    """A worker whose batcher always raises `error`; the actors retry nothing."""
    from actors.batching import Batcher

    def failing(self, job_ids, **lane):
        raise error

    monkeypatch.setattr(Batcher, "submit_many", failing)
    actors = worker_sender("stub://", FakeRuntimes(FakeModel()))
    for actor in (actors.actor, bulk.bulk_actor(actors.broker)):
        actor.options.update(max_retries=0)
    stub_worker(actors.broker)
    return actors


def test_retries_exhausted_logs_the_kind_of_fault_above_debug_and_its_text_only_at_debug(
    database, stub_worker, monkeypatch, caplog
):
    job = new_job()
    actors = give_up(monkeypatch, stub_worker, peewee.DatabaseError(f'invalid input syntax: "{MARKER}"'))
    with caplog.at_level(logging.DEBUG, logger="actors.middleware"):
        actors.send(job.id)
        actors.broker.join(actors.actor.queue_name, timeout=10_000, fail_fast=False)
    ours = [r for r in caplog.records if r.name == "actors.middleware"]
    assert not [r for r in ours if r.levelno > logging.DEBUG and MARKER in r.getMessage()]
    assert any(r.levelno == logging.WARNING and "DatabaseError" in r.getMessage() for r in ours)
    assert any(r.levelno == logging.DEBUG and MARKER in r.getMessage() for r in ours)  # the detail is kept
    assert Job.get_by_id(job.id).error == "gave up after 1 attempts: the database was unavailable"


def test_a_bulk_message_given_up_fails_its_jobs_at_once_with_retries_exhausted(database, stub_worker, monkeypatch):
    jobs = [new_job(owner="key-a"), new_job(owner="key-a")]
    actors = give_up(monkeypatch, stub_worker, ConnectionError("database went away"))
    bulk.send(actors.broker, "key-a", [job.id for job in jobs])
    actors.broker.join(bulk.QUEUE, timeout=10_000, fail_fast=False)
    for job in jobs:
        stored = Job.get_by_id(job.id)
        assert (stored.status, stored.failure) == (Status.FAILED, "retries_exhausted")
        assert stored.error == "gave up after 1 attempts: a connection failed"
