"""Retention (db/retention.py): DELETE and the RESULT_TTL purge leave tombstones without inputs or output."""

import datetime as dt
import uuid

from db import Job, Status, retention
from db.base import utcnow
from db.retention import Purger, erase, purge
from tests.db.dialects import postgresql_only

TTL = dt.timedelta(days=7)


def finished(age: dt.timedelta, status=Status.SUCCEEDED, **fields) -> Job:
    at = utcnow() - age
    return Job.create(
        model="all-MiniLM-L6-v2",
        task="feature-extraction",
        inputs=["secret text"],
        parameters={"normalize": True},
        status=status,
        output=[{"embedding": [0.5, -0.25]}] if status == Status.SUCCEEDED else None,  # float32: kept in `vectors`
        created_at=at - dt.timedelta(seconds=1),
        started_at=at - dt.timedelta(milliseconds=500),
        finished_at=at,
        idempotency_key=f"key-{uuid.uuid4()}",
        request_hash="h",
        **fields,
    )


def test_the_purge_erases_jobs_finished_before_the_ttl_and_keeps_the_rest(database):
    old, recent = finished(TTL + dt.timedelta(hours=1)), finished(TTL - dt.timedelta(hours=1))
    failed_old = finished(TTL * 2, status=Status.FAILED, error="could not run 'secret text'", failure="model_error")
    unfinished = Job.create(model="m", task="feature-extraction", inputs=["x"], created_at=utcnow() - TTL * 3)
    report = purge(TTL)
    assert report.purged == 2
    for job in (old, failed_old):
        tomb = Job.get_by_id(job.id)
        assert (tomb.inputs, tomb.parameters, tomb.output) == ([], {}, None)
        assert (tomb.idempotency_key, tomb.request_hash) == (None, None)  # the key expired with it
        assert tomb.purged_at is not None and tomb.erased
        assert (tomb.status, tomb.model, tomb.task, tomb.finished_at) == (
            job.status,
            job.model,
            job.task,
            job.finished_at,
        )
    assert (Job.get_by_id(failed_old.id).error, Job.get_by_id(failed_old.id).failure) == (None, "model_error")
    assert Job.get_by_id(recent.id).inputs == ["secret text"]
    assert Job.get_by_id(unfinished.id).inputs == ["x"]
    assert purge(TTL).purged == 0  # once


def test_erasing_or_purging_leaves_nothing_of_the_output_the_error_or_the_webhook(database):
    stored = finished(TTL * 2, webhook="https://hooks.example/x", webhook_events="succeeded")
    assert Job.get_by_id(stored.id).vectors is not None  # the output really is in the float32 column
    deleted = finished(dt.timedelta(minutes=1), status=Status.FAILED, error="bad input 'secret text'")
    purge(TTL)
    erase(deleted.id)
    for job_id in (stored.id, deleted.id):
        tomb = Job.get_by_id(job_id)
        assert (tomb.result, tomb.vectors, tomb.error, tomb.webhook, tomb.webhook_events) == (None,) * 5


def test_the_purge_works_in_bounded_batches(database):
    for _ in range(7):
        finished(TTL * 2)
    report = purge(TTL, batch=3)
    assert (report.purged, report.batches) == (7, 3)
    assert Job.select().where(Job.purged_at.is_null()).count() == 0


def test_erasing_keeps_a_tombstone_and_refuses_an_unfinished_job(database):
    job = finished(dt.timedelta(minutes=1))
    assert erase(job.id)
    tomb = Job.get_by_id(job.id)
    assert tomb.deleted_at is not None and tomb.output is None and tomb.inputs == []
    assert not erase(job.id)  # already deleted
    queued = Job.create(model="m", task="feature-extraction", inputs=["x"])
    assert not erase(queued.id)
    assert Job.get_by_id(queued.id).inputs == ["x"]


def test_a_deleted_job_is_not_purged_again(database):
    job = finished(TTL * 2)
    erase(job.id)
    assert purge(TTL).purged == 0
    assert Job.get_by_id(job.id).purged_at is None


def test_the_purger_thread_purges_and_stops(database):
    job = finished(dt.timedelta(seconds=10))
    purger = Purger(every=0.05, ttl=1)
    purger.start()
    try:
        deadline = utcnow() + dt.timedelta(seconds=5)
        while Job.get_by_id(job.id).purged_at is None and utcnow() < deadline:
            purger.stopping.wait(0.05)
    finally:
        purger.stopping.set()
        purger.join(5)
    assert Job.get_by_id(job.id).purged_at is not None
    assert not purger.is_alive()


def test_a_ttl_of_zero_keeps_results_for_ever(database):
    job = finished(TTL * 100)
    purger = Purger(every=0.01, ttl=0)
    purger.start()
    purger.join(2)
    assert not purger.is_alive()
    assert Job.get_by_id(job.id).purged_at is None


@postgresql_only
def test_the_purge_finds_its_candidates_through_the_index_of_unerased_rows(database):
    """The purge's query implies the partial index's predicate, so the planner can read that index alone: with
    sequential scans priced out, the plan names it (a large table's planner picks it by cost)."""
    query, params = retention.candidates(dt.datetime(2026, 1, 1), 500).sql()
    with database.atomic():
        database.execute_sql("SET LOCAL enable_seqscan = off")
        plan = " ".join(row[0] for row in database.execute_sql(f"EXPLAIN {query}", params))
    assert "job_unerased_finished_at" in plan, plan
