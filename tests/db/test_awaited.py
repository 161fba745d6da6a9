"""Only the jobs a request waits for (`awaited`) are announced to other processes: a batch's save, a cancel, a
failure, each sends the notification of an awaited job (with its row when it fits) and none of a job nobody
waits for. A request that comes to wait for a job later marks it awaited in the statement that reads it, so
that either the mark sees the finished row or the save sees the mark (`db.batch`, `db.dialects`).

Each PostgreSQL test LISTENs on a connection of its own. Notifications reach a listener in the order their
transactions committed, so one sent by the test after the statements under test is a fence: whatever
those statements sent arrives before it, and nothing arriving before it means they sent nothing."""

from __future__ import annotations

import contextlib
import select
import threading
import time
from collections.abc import Iterator

import orjson
import psycopg2
import pytest

from db import Failure, Job, Status
from db.connection import statements
from db.dialects import CHANNEL
from tests.db.dialects import postgresql_only, sqlite_only
from tests.processes import wait_until

FENCE = "fence"
SUCCEEDED = {"status": Status.SUCCEEDED, "output": [{"embedding": [0.5]}]}


class Listener:
    """A connection LISTENing on the job-events channel, as the API's relay does."""

    def __init__(self, connection):
        self.connection = connection

    def received(self, fence_with, timeout: float = 5.0) -> list[tuple[str, dict | None]]:
        """Everything announced before a fence sent now on `fence_with` (a connection or database): each as
        (job id, its row or None)."""
        fence_with.execute_sql("SELECT pg_notify(%s, %s)", (CHANNEL, FENCE))
        notices, deadline = [], time.monotonic() + timeout
        while time.monotonic() < deadline:
            if select.select([self.connection], [], [], 0.1)[0]:
                self.connection.poll()
                for notify in self.connection.notifies:
                    if notify.payload == FENCE:
                        return notices
                    job_id, _, row = notify.payload.partition(" ")
                    notices.append((job_id, orjson.loads(row) if row else None))
                self.connection.notifies.clear()
        raise AssertionError(f"the fence never came; before it: {notices}")


@pytest.fixture
def listener(database) -> Iterator[Listener]:
    connection = psycopg2.connect(**connect_params(database))
    connection.autocommit = True
    connection.cursor().execute(f"LISTEN {CHANNEL}")
    try:
        yield Listener(connection)
    finally:
        connection.close()


def connect_params(database) -> dict:
    return {"dbname": database.database, **{k: v for k, v in database.connect_params.items() if k != "options"}}


def running(*, awaited: bool = False, count: int = 1, **fields) -> list[Job]:
    """Jobs claimed by a worker, created awaited (their request waits) or not."""
    rows = [
        {"model": "m", "task": "feature-extraction", "inputs": [f"t{i}"], "awaited": awaited, **fields}
        for i in range(count)
    ]
    return Job.claim_fresh([job.id for job in Job.create_many(rows)])


@postgresql_only
def test_a_batch_nobody_waits_for_is_saved_without_a_notification(database, listener):
    jobs = running(count=3)
    written = Job.finish_many([(job, SUCCEEDED) for job in jobs])
    assert sorted(map(str, written)) == sorted(str(job.id) for job in jobs)  # every job is saved
    assert listener.received(database) == []


@postgresql_only
@pytest.mark.parametrize("webhook", [None, "https://example.com/hook"], ids=["one statement", "with deliveries"])
def test_of_a_batch_only_the_job_a_request_waits_for_is_announced_with_its_row(database, listener, webhook):
    fields = {"webhook": webhook, "webhook_events": "succeeded,failed,canceled" if webhook else None}
    [awaited], plain = running(awaited=True, **fields), running(count=2, **fields)
    written = Job.finish_many([(job, SUCCEEDED) for job in [*plain, awaited]])
    assert len(written) == 3
    [(job_id, row)] = listener.received(database)
    assert job_id == str(awaited.id)
    assert (row["status"], row["awaited"]) == (Status.SUCCEEDED, True)  # the finished row, as committed


@postgresql_only
def test_a_cancel_or_a_failure_is_announced_only_when_a_request_waits_for_the_job(database, listener):
    [plain_canceled], [plain_failed], [plain_lost] = running(), running(), running()
    [canceled], [failed] = running(awaited=True), running(awaited=True)
    assert Job.cancel(plain_canceled.id) and Job.fail(plain_failed.id, Failure.RETRIES_EXHAUSTED, "gave up")
    assert Job.fail(plain_lost.id, Failure.LOST, "lost")
    assert Job.cancel(canceled.id) and Job.fail(failed.id, Failure.RETRIES_EXHAUSTED, "gave up")
    notices = listener.received(database)
    assert [(job_id, row["status"]) for job_id, row in notices] == [
        (str(canceled.id), Status.CANCELED),
        (str(failed.id), Status.FAILED),
    ]


@postgresql_only
def test_marking_a_job_awaited_after_its_save_committed_returns_the_finished_row(database, listener):
    [job] = running()
    Job.finish_many([(job, SUCCEEDED)])  # unannounced: nobody waited yet
    marked = Job.mark_awaited(job.id)
    assert (marked.id, marked.status, marked.awaited) == (job.id, Status.SUCCEEDED, True)
    assert marked.output == [{"embedding": [0.5]}]
    assert listener.received(database) == []


@postgresql_only
def test_a_job_marked_awaited_before_its_save_is_announced_though_its_worker_holds_it_unawaited(database, listener):
    [job] = running()
    marked = Job.mark_awaited(job.id)
    assert (marked.status, marked.awaited, job.awaited) == (Status.RUNNING, True, False)
    Job.finish_many([(job, SUCCEEDED)])  # the worker's job, as it claimed it: the row decides
    [(job_id, row)] = listener.received(database)
    assert (job_id, row["status"]) == (str(job.id), Status.SUCCEEDED)


@contextlib.contextmanager
def open_transaction(database, sql: str, params: tuple):
    """`sql` run in a transaction of another connection, committed when the block ends."""
    connection = psycopg2.connect(**connect_params(database))
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            assert cursor.rowcount == 1
        yield connection
        connection.commit()
    finally:
        connection.close()


def in_thread(database, call) -> tuple[threading.Thread, list]:
    """`call` on a thread of its own (its own pooled connection); its result lands in the list."""
    results: list = []

    def run() -> None:
        try:
            results.append(call())
        finally:
            database.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, results


def waiting_on_a_lock(database) -> bool:
    """Whether a session of this database waits for a row lock."""
    sql = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
    return database.execute_sql(sql).fetchone()[0] > 0


@postgresql_only
def test_a_mark_that_meets_a_save_in_progress_waits_for_it_and_returns_the_finished_row(database, listener):
    [job] = running()
    save = "UPDATE job SET status = %s, finished_at = now() WHERE id = %s"
    with open_transaction(database, save, (Status.SUCCEEDED, str(job.id))):
        thread, marked = in_thread(database, lambda: Job.mark_awaited(job.id))
        wait_until(lambda: waiting_on_a_lock(database), 10, "the mark waiting for the save's row lock")
        assert marked == []
    thread.join(10)
    assert [(found.status, found.awaited) for found in marked] == [(Status.SUCCEEDED, True)]


@postgresql_only
def test_a_save_that_meets_a_mark_in_progress_waits_for_it_and_announces_the_job(database, listener):
    [job] = running()
    with open_transaction(database, "UPDATE job SET awaited = true WHERE id = %s", (str(job.id),)):
        thread, written = in_thread(database, lambda: Job.finish_many([(job, SUCCEEDED)]))
        wait_until(lambda: waiting_on_a_lock(database), 10, "the save waiting for the mark's row lock")
        assert written == []
    thread.join(10)
    assert [list(map(str, ids)) for ids in written] == [[str(job.id)]]
    [(job_id, row)] = listener.received(database)
    assert (job_id, row["status"]) == (str(job.id), Status.SUCCEEDED)


@sqlite_only
def test_on_sqlite_a_mark_records_and_reads_nothing(database, monkeypatch):
    """Every finished job is published to this process' waiters (`db.events`): nothing to mark, so the
    waiter keeps the job it has."""
    [job] = running()
    run: list[str] = []
    execute = database.execute_sql
    monkeypatch.setattr(
        database, "execute_sql", lambda sql, *args, **kwargs: run.append(sql) or execute(sql, *args, **kwargs)
    )
    assert Job.mark_awaited(job.id) is None
    assert run == [] and statements.notifies is False
