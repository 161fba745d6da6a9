import datetime as dt
import logging

import peewee
from dramatiq import Message

from actors.sending import open_sender
from actors.sweeper import Sweeper, sweep
from db import Job, Status
from db.base import utcnow
from tests.conftest import queued_messages

AFTER = dt.timedelta(minutes=10)


def job(status=Status.QUEUED, age=dt.timedelta(minutes=11), **fields) -> Job:
    created = utcnow() - age
    return Job.create(model="m", task="feature-extraction", inputs=["x"], status=status, created_at=created, **fields)


def test_a_job_queued_too_long_is_sent_again_and_a_recent_one_is_left_alone(database):
    actors = open_sender("stub://")
    old, recent = job(), job(age=dt.timedelta(minutes=1))
    report = sweep(actors, queued_after=AFTER)
    assert (report.resent, report.failed) == (1, 0)
    assert queued_messages(actors) == 1
    assert Job.get_by_id(old.id).sweeps == 1 and Job.get_by_id(recent.id).sweeps == 0


def test_a_job_just_sent_again_is_not_sent_again_before_its_time(database):
    actors = open_sender("stub://")
    job()
    sweep(actors, queued_after=AFTER)
    actors.broker.flush_all()  # consumed, yet the job is still queued
    assert sweep(actors, queued_after=AFTER).resent == 0


def test_a_running_job_is_sent_again_once_its_lease_expired_and_not_while_it_is_renewed(database):
    actors = open_sender("stub://")
    expired = job(Status.RUNNING, started_at=utcnow(), lease_expires_at=utcnow() - dt.timedelta(seconds=1))
    alive = job(Status.RUNNING, started_at=utcnow() - dt.timedelta(hours=1), lease_expires_at=utcnow() + AFTER)
    assert sweep(actors, queued_after=AFTER).resent == 1
    assert Job.get_by_id(expired.id).sweeps == 1 and Job.get_by_id(alive.id).sweeps == 0
    assert sweep(actors, queued_after=AFTER).resent == 0  # the next sweeps leave it to the new message
    taken = Job.claim(expired.id)  # which can take it over: its lease is still expired
    assert taken is not None and taken.attempts == expired.attempts + 1 and taken.swept_at is None


def test_renewing_extends_the_lease_of_running_jobs_only(database):
    running = job(Status.RUNNING, lease_expires_at=utcnow())
    done = job(Status.SUCCEEDED, lease_expires_at=utcnow())
    assert Job.renew({running.id: running.attempts, done.id: done.attempts}, dt.timedelta(seconds=30)) == 1
    assert Job.get_by_id(running.id).lease_expires_at > utcnow() + dt.timedelta(seconds=25)


def test_a_claim_takes_a_lease(database):
    queued = job()
    claimed = Job.claim_fresh([queued.id], lease=dt.timedelta(seconds=7))[0]
    assert dt.timedelta(seconds=6) < claimed.lease_expires_at - utcnow() <= dt.timedelta(seconds=7)


def test_after_the_last_re_send_a_lost_job_fails_with_the_reason(database):
    actors = open_sender("stub://")
    lost = job(sweeps=3)
    report = sweep(actors, queued_after=AFTER, max_sweeps=3)
    assert (report.resent, report.failed) == (0, 1)
    stored = Job.get_by_id(lost.id)
    assert stored.status == Status.FAILED
    assert stored.error.startswith("lost: sent 4 times")
    assert queued_messages(actors) == 0


def test_a_queued_job_in_a_deep_moving_backlog_is_neither_sent_again_nor_failed(database):
    """The broker holds a message for every queued job: each can still be waiting its turn."""
    actors = open_sender("stub://")
    waiting = [job(sweeps=3, age=dt.timedelta(minutes=30 - i)) for i in range(3)]
    for queued in waiting:
        actors.send(queued.id)
    actors.send(waiting[0].id)  # and one more, say a duplicate
    report = sweep(actors, queued_after=AFTER, max_sweeps=3)
    assert (report.resent, report.failed, report.waiting) == (0, 0, 4)
    assert [Job.get_by_id(q.id).status for q in waiting] == [Status.QUEUED] * 3


def test_a_grouped_backlog_is_not_sent_again_though_it_holds_fewer_messages_than_jobs(database):
    """One message carries a group of jobs: fewer messages than queued jobs is no sign of a loss."""
    actors = open_sender("stub://")
    grouped = [job(sweeps=0) for _ in range(5)]
    actors.send(*(queued.id for queued in grouped))  # one message, five jobs
    report = sweep(actors, queued_after=AFTER, max_sweeps=3)
    assert (report.resent, report.failed, report.waiting, report.quiet) == (0, 0, 1, False)
    assert queued_messages(actors) == 1 and [Job.get_by_id(q.id).sweeps for q in grouped] == [0] * 5


def test_jobs_whose_messages_a_busy_worker_may_hold_are_not_sent_again(database):
    """An empty queue while a worker runs a batch: it may hold the queued jobs' messages, prefetched."""
    actors = open_sender("stub://")
    held = [job(), job()]
    job(Status.RUNNING, started_at=utcnow(), lease_expires_at=utcnow() + AFTER)  # the batch it is on
    report = sweep(actors, queued_after=AFTER)
    assert (report.resent, report.waiting, report.quiet) == (0, 0, False)
    assert queued_messages(actors) == 0 and [Job.get_by_id(q.id).sweeps for q in held] == [0, 0]


def test_a_queued_job_no_message_can_be_left_for_is_sent_again_and_counted(database):
    actors = open_sender("stub://")
    lost = job(sweeps=1)
    report = sweep(actors, queued_after=AFTER, max_sweeps=3)
    assert (report.resent, report.quiet) == (1, True)
    assert queued_messages(actors) == 1 and Job.get_by_id(lost.id).sweeps == 2


def test_a_queued_job_is_judged_by_the_broker_even_with_consumers_when_no_batch_runs(database, monkeypatch):
    actors = open_sender("stub://")
    job()
    monkeypatch.setattr(actors, "holding", lambda: (0, 2))  # RabbitMQ: nothing ready, two idle consumers
    assert sweep(actors, queued_after=AFTER).resent == 1
    monkeypatch.setattr(actors, "holding", lambda: (3, 0))  # messages ready, nobody consuming: a backlog
    job()
    assert sweep(actors, queued_after=AFTER).resent == 0


def test_finished_jobs_are_never_swept(database):
    actors = open_sender("stub://")
    for status in (Status.SUCCEEDED, Status.FAILED, Status.CANCELED):
        job(status)
    assert sweep(actors, queued_after=AFTER).resent == 0


def test_the_sweep_loop_survives_a_database_outage_and_logs_it_once(database, caplog, monkeypatch):
    actors = open_sender("stub://")
    job()
    sweeper = Sweeper(actors, every=0.01, queued_after=AFTER, max_sweeps=3)
    real = Job.stale

    def down(**kwargs):
        raise peewee.OperationalError("could not connect to server: Connection refused (host 10.0.0.5, user app)")

    monkeypatch.setattr(Job, "stale", down)
    with caplog.at_level(logging.DEBUG, logger="actors.sweeper"):
        assert [sweeper.sweep_once() for _ in range(3)] == [None] * 3
        monkeypatch.setattr(Job, "stale", real)
        report = sweeper.sweep_once()
    assert report is not None and report.resent == 1
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 2, warnings  # the outage once, the recovery once
    assert "sweep failed" in warnings[0] and "again after 3" in warnings[1]
    assert "OperationalError" in warnings[0] and "10.0.0.5" not in warnings[0]  # the kind, never the text
    assert any("10.0.0.5" in r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG)


def batch_line(**fields) -> Job:
    """A batch's line released as a job of the bulk lane, queued since 11 minutes (owner `key-b`)."""
    from db.bulk import BatchRequest
    from tests.doubles import make_batch

    request = BatchRequest.get(BatchRequest.batch == make_batch("key-b", 1).id)
    return job(id=request.job, owner="key-b", **fields)


def test_a_lost_bulk_job_is_sent_again_on_the_bulk_queue_under_its_owner(database):
    from actors import bulk

    actors = open_sender("stub://")
    lost, interactive = batch_line(), job()
    report = sweep(actors, queued_after=AFTER)
    assert (report.resent, report.quiet) == (2, True)
    bulk_queue, inference_queue = actors.broker.queues[bulk.QUEUE], actors.broker.queues[actors.actor.queue_name]
    assert bulk_queue.qsize() == 1 and inference_queue.qsize() == 1
    message = Message.decode(bulk_queue.get())
    assert (message.actor_name, list(message.args)) == (bulk.ACTOR, ["key-b", str(lost.id)])
    assert list(Message.decode(inference_queue.get()).args) == [str(interactive.id)]


def test_a_bulk_job_whose_message_waits_in_the_bulk_queue_is_neither_sent_again_nor_failed(database):
    from actors import bulk

    actors = open_sender("stub://")
    waiting = batch_line(sweeps=3)
    bulk.send(actors.broker, "key-b", [waiting.id])  # workers are down: the bulk queue holds its message
    report = sweep(actors, queued_after=AFTER, max_sweeps=3)
    assert (report.resent, report.failed, report.waiting, report.quiet) == (0, 0, 1, False)
    assert Job.get_by_id(waiting.id).status == Status.QUEUED
