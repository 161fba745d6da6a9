"""The job's lifecycle: its creation and every move of its status, each a guarded `UPDATE ... WHERE status
IN (sources)` with the sources taken from `db.lifecycle`, so a redelivered message, a late worker or a
concurrent cancel finds the row already moved and changes nothing.

A move to a terminal status records the job's webhook deliveries in the same transaction and announces
the job to its waiters (`db.events`): to this process' always, to other processes when a request waits for it
(`awaited`, `mark_awaited`). The batch paths (`create_many`, `claim_fresh`, `finish_many`) run
the bound dialect's statements (`db.dialects`).
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
from collections.abc import Iterable
from typing import TYPE_CHECKING

import peewee

from db.base import utcnow
from db.connection import database, statements
from db.events import events
from db.lifecycle import UNFINISHED, Failure, Status, check
from db.vectors import pack

if TYPE_CHECKING:
    from db.jobs.model import Job

DEFAULT_LEASE = dt.timedelta(seconds=30)  # `Config.lease_seconds`; workers pass theirs


class Moves:
    """The job's status changes (mixed into `db.jobs.Job`)."""

    @classmethod
    def _move(cls, where, target: str, *, allowed_from: Iterable[str] | None = None, **fields) -> peewee.ModelUpdate:
        """The guarded update of the jobs matching `where` to `target`, from the statuses the lifecycle allows
        (or the narrower `allowed_from`)."""
        allowed = check(target, set(allowed_from) if allowed_from is not None else set(UNFINISHED))
        return cls.update(status=target, **fields).where(where & cls.status.in_(sorted(allowed)))

    @classmethod
    def create_many(cls, rows: list[dict], *, durable: bool = True) -> list[Job]:
        """One job per row of fields, inserted in one statement and one commit (the group commit of
        concurrent POSTs): all of them or none.

        `durable=False`: the commit does not wait for the disk (PostgreSQL), and the jobs say so (`durable`).
        Only for jobs whose requests wait for them: such a request is answered with the finished job, whose
        save is synchronous and so flushes the log past this commit too, or, unfinished, only after
        `make_durable`. Nobody is told of a job before it is on disk; a server lost meanwhile loses only
        jobs nobody was told of (their messages find no row and are dropped)."""
        jobs = [cls(**fields) for fields in rows]  # ids and timestamps are made here, as `create` does
        statements.insert(cls, jobs, durable=durable)
        if not durable:
            for job in jobs:
                job.durable = False
        return jobs

    @classmethod
    def make_durable(cls, job: Job) -> Job:
        """`job`, once its row is on disk: a job made with `durable=False` is written again in a commit that
        waits for the disk (which flushes the log up to it, the job's first commit with it). Before anyone is
        told of an unfinished job so made."""
        if not job.durable:
            statements.make_durable(cls, job.id)
            job.durable = True
        return job

    @classmethod
    def claim(cls, job_id, *, lease: dt.timedelta = DEFAULT_LEASE) -> Job | None:
        """Mark a job running, holding a lease for `lease`, and count the attempt; None when it is finished,
        canceled, unknown, or running under a lease that has not expired.

        A guarded update: a redelivered message never runs a finished job again, and takes a running job
        over only once its worker stopped renewing its lease (a duplicate delivery of a job another worker
        is on changes nothing). The new `attempts` is the claim's fencing token (`finish`, `renew`).
        """
        now = utcnow()
        free = (cls.status == Status.QUEUED) | cls.lease_expires_at.is_null() | (cls.lease_expires_at < now)
        claimed = cls._move(
            (cls.id == job_id) & free,
            Status.RUNNING,
            started_at=now,
            attempts=cls.attempts + 1,
            swept_at=None,
            lease_expires_at=now + lease,
        ).execute()
        return cls.get_by_id(job_id) if claimed else None

    @classmethod
    def claim_fresh(
        cls, job_ids: list, *, lease: dt.timedelta = DEFAULT_LEASE, started: dt.datetime | None = None
    ) -> list[Job]:
        """`claim` for a batch, in one statement, of the jobs never started before; the others (finished,
        unknown, or started already: maybe what crashed a worker) are left for `claim`, one at a time.
        `started`: when the worker took the jobs up (now, by default), for a claim sent while they already run.

        On PostgreSQL, committed without waiting for the disk (`synchronous_commit` off, this transaction
        only): a claim lost with the database server leaves the job queued, and its message, unacked, is
        delivered again. The outcome is saved durably before the message is acked."""
        return statements.claim_fresh(cls, job_ids, now=started or utcnow(), lease=lease)

    @classmethod
    def renew(cls, held: dict, lease: dt.timedelta) -> int:
        """Extend the leases of the jobs `held` (id -> the `attempts` of the claim that holds it) still
        running under that claim: a job taken over since by another worker (a later attempt) is not its to
        renew."""
        return cls._lease_until(held, utcnow() + lease)

    @classmethod
    def yield_leases(cls, held: dict) -> int:
        """End the leases of the jobs `held` (id -> the claim's `attempts`) that their worker claimed but could
        not run (its batch's bound passed, its model would not load): the message retried for them takes
        them over at once instead of waiting out the lease."""
        return cls._lease_until(held, utcnow())

    @classmethod
    def _lease_until(cls, held: dict, until: dt.datetime) -> int:
        if not held:
            return 0
        claims: dict[int, list] = {}
        for job_id, attempts in held.items():
            claims.setdefault(attempts, []).append(job_id)
        fenced = functools.reduce(
            operator.or_, [cls.id.in_(ids) & (cls.attempts == attempts) for attempts, ids in claims.items()]
        )
        return cls.update(lease_expires_at=until).where(fenced & (cls.status == Status.RUNNING)).execute()

    @classmethod
    def cancel(cls, job_id) -> bool:
        """queued or running -> canceled; False when it had already finished. Workers skip it from then on,
        and a worker still running it cannot write its result (finish is guarded on `running`)."""
        canceled = cls._move(cls.id == job_id, Status.CANCELED, finished_at=utcnow(), error="canceled by the client")
        return _announced(job_id, _finished(canceled))

    @classmethod
    def fail(cls, job_id, failure: str, reason: str) -> bool:
        """queued or running -> failed with `reason` (retries exhausted, or lost for good)."""
        failed = cls._move(cls.id == job_id, Status.FAILED, finished_at=utcnow(), error=reason, failure=failure)
        return _announced(job_id, _finished(failed))

    @classmethod
    def not_enqueued(cls, job_id) -> bool:
        """queued -> failed, `Failure.NOT_ENQUEUED`: its message never reached the broker (a replay sends it)."""
        failed = cls._move(
            cls.id == job_id,
            Status.FAILED,
            allowed_from={Status.QUEUED},
            finished_at=utcnow(),
            error="not enqueued: the message broker was unavailable",
            failure=Failure.NOT_ENQUEUED,
        )
        return _announced(job_id, failed.execute())

    @classmethod
    def requeue(cls, job_id) -> bool:
        """failed as never enqueued -> queued again, to be sent now."""
        moved = cls._move(
            (cls.id == job_id) & (cls.failure == Failure.NOT_ENQUEUED) & cls.deleted_at.is_null(),
            Status.QUEUED,
            allowed_from={Status.FAILED},
            error=None,
            failure=None,
            finished_at=None,
        )
        return bool(moved.execute())

    def mark_swept(self) -> None:
        """Record a re-send, counted toward the sweeper's bound: the next sweeps leave the job to the message
        just sent for a while (`stale`). A running job's expired lease is left expired, so that message can
        take the job over (`claim`)."""
        cls = type(self)
        cls.update(swept_at=utcnow(), sweeps=cls.sweeps + 1).where(cls.id == self.id).execute()

    @classmethod
    def mark_awaited(cls, job_id) -> Job | None:
        """Before a request waits for a job it did not create waiting (GET ?wait): record that a request waits
        for it, so that its finish is announced (only awaited jobs are, `db.dialects`), and return it as it
        stands then, in one statement: a finish committed first shows in the job returned, a later one sees
        the mark. None where nothing needs recording (SQLite: every finished job is published in this process)
        or the job is gone."""
        found = statements.mark_awaited(cls, job_id)
        return found[0] if found else None

    @classmethod
    def finish_many(cls, outcomes: list[tuple[Job, dict]]) -> list:
        """Record a batch of outcomes in one transaction and announce them (to other processes, those a request
        waits for); returns the ids written.

        Where the database announces (PostgreSQL) and no job of the batch has a webhook (no delivery rows
        to write with them), the statement that saves them also announces them and is the whole
        transaction."""
        now = utcnow()
        if statements.notifies and not any(job.webhook for job, _ in outcomes):
            written = statements.save_outcomes_announced(cls, outcomes, now=now)  # autocommit
            events.publish(written)
            return written
        with database.atomic():
            written = statements.save_outcomes(cls, outcomes, now=now)
            done = {str(job_id) for job_id in written}
            _record_deliveries((job, fields["status"]) for job, fields in outcomes if str(job.id) in done)
            statements.announce(written)
        events.publish(written)
        return written

    def finish(
        self,
        status: str,
        *,
        output=None,
        error: str | None = None,
        failure: str | None = None,
        inference_ms: float | None = None,
        notify: bool = True,
    ) -> bool:
        """Record the outcome of a running job once, fenced by its claim: False when it is no longer running
        (canceled, or finished by another delivery) or was taken over since by a later attempt (its lease
        expired), so a stale worker's save changes nothing."""
        result, vectors = pack(output)
        fields = {"result": result, "vectors": vectors, "error": error, "failure": failure, "finished_at": utcnow()}
        if (queued := self.queued_ms()) is not None:
            fields["queue_ms"] = queued
        if inference_ms is not None:
            fields["inference_ms"] = inference_ms
        if not notify:  # part of `finish_many`, which records deliveries in its own transaction
            return self._finish(status, fields)
        with database.atomic():
            written = self._finish(status, fields)
            if written:
                _record_deliveries([(self, status)])
        return _announced(self.id, written)

    def _finish(self, status: str, fields: dict) -> bool:
        cls = type(self)
        fenced = (cls.id == self.id) & (cls.attempts == self.attempts)
        written = cls._move(fenced, status, allowed_from={Status.RUNNING}, **fields).execute()
        if written:
            for name, value in {"status": status, **fields}.items():
                setattr(self, name, value)
        return bool(written)


def _record_deliveries(finished: Iterable[tuple[Job, str]]) -> int:
    """`db.webhooks.record_deliveries`, looked up when called: its model refers to the job's, so that
    module is imported after this one."""
    from db.webhooks import record_deliveries

    return record_deliveries(finished)


def _finished(move: peewee.ModelUpdate) -> int:
    """Run a guarded move to a terminal status and record its webhook deliveries, in one transaction."""
    cls = move.model
    with database.atomic():
        moved = list(move.returning(cls.id, cls.status, cls.owner, cls.webhook, cls.webhook_events).execute())
        _record_deliveries((row, row.status) for row in moved)
    return len(moved)


def _announced(job_id, moved: int) -> bool:
    """Tell waiters a job finished (autocommit: delivered at once; to other processes only when a request waits
    for it); returns whether it moved."""
    if moved:
        statements.announce([job_id])
        events.publish([job_id])
    return bool(moved)
