"""Models. A `Job` is one POST /inference: its inputs, its status and, once finished, its output."""

from __future__ import annotations

import datetime as dt
import uuid

import peewee

from db.connection import database
from db.events import announce, events


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)  # stored naive, always UTC


class BaseModel(peewee.Model):
    class Meta:
        database = database


class Status:
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


TERMINAL = frozenset({Status.SUCCEEDED, Status.FAILED, Status.CANCELED})


class Job(BaseModel):
    id = peewee.UUIDField(primary_key=True, default=uuid.uuid4)
    model = peewee.CharField(max_length=200)
    task = peewee.CharField(max_length=64)
    inputs = peewee.JSONField()
    parameters = peewee.JSONField(default=dict)
    status = peewee.CharField(max_length=16, default=Status.QUEUED, index=True)
    output = peewee.JSONField(null=True)
    error = peewee.TextField(null=True)
    attempts = peewee.IntegerField(default=0)
    created_at = peewee.DateTimeField(default=utcnow, index=True)
    started_at = peewee.DateTimeField(null=True)
    finished_at = peewee.DateTimeField(null=True)
    queue_ms = peewee.FloatField(null=True)
    inference_ms = peewee.FloatField(null=True)
    idempotency_key = peewee.CharField(max_length=255, null=True, unique=True)
    request_hash = peewee.CharField(max_length=64, null=True)
    sweeps = peewee.IntegerField(default=0)  # times the sweeper sent it again
    swept_at = peewee.DateTimeField(null=True)  # when it last did

    class Meta:
        table_name = "job"
        indexes = ((("model", "status"), False),)

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL

    @classmethod
    def claim(cls, job_id) -> Job | None:
        """Mark a job running and count the attempt; None when it is finished, canceled or unknown.

        A guarded update, so a redelivered message never runs a finished job again.
        """
        now = utcnow()
        claimed = (
            cls.update(status=Status.RUNNING, started_at=now, attempts=cls.attempts + 1, swept_at=None)
            .where((cls.id == job_id) & cls.status.in_([Status.QUEUED, Status.RUNNING]))
            .execute()
        )
        if not claimed:
            return None
        return cls.get_by_id(job_id)

    @classmethod
    def cancel(cls, job_id) -> bool:
        """queued or running -> canceled; False when it had already finished. Workers skip it from then on,
        and a worker still running it cannot write its result (finish is guarded on `running`)."""
        canceled = (
            cls.update(status=Status.CANCELED, finished_at=utcnow(), error="canceled by the client")
            .where((cls.id == job_id) & cls.status.in_([Status.QUEUED, Status.RUNNING]))
            .execute()
        )
        if canceled:
            _announce_one(job_id)
        return bool(canceled)

    def requeue(self, error: str) -> bool:
        """failed with exactly `error` -> queued again (a job whose message never reached the broker)."""
        cls = type(self)
        done = (
            cls.update(status=Status.QUEUED, error=None, finished_at=None)
            .where((cls.id == self.id) & (cls.status == Status.FAILED) & (cls.error == error))
            .execute()
        )
        if done:
            self.status, self.error, self.finished_at = Status.QUEUED, None, None
        return bool(done)

    @classmethod
    def fail_unfinished(cls, job_id, reason: str) -> bool:
        """queued or running -> failed with `reason` (retries exhausted, or lost for good)."""
        failed = (
            cls.update(status=Status.FAILED, finished_at=utcnow(), error=reason)
            .where((cls.id == job_id) & cls.status.in_([Status.QUEUED, Status.RUNNING]))
            .execute()
        )
        if failed:
            _announce_one(job_id)
        return bool(failed)

    @classmethod
    def backlog(cls, model: str) -> int:
        return cls.select().where((cls.model == model) & (cls.status == Status.QUEUED)).count()

    @classmethod
    def stale(cls, *, queued_before: dt.datetime, running_before: dt.datetime, limit: int = 1000) -> list[Job]:
        """Jobs that should have moved on by now: queued too long, or running past any time limit,
        counted from the last time the sweeper sent them, if it did."""
        queued_since = peewee.fn.COALESCE(cls.swept_at, cls.created_at)
        running_since = peewee.fn.COALESCE(cls.swept_at, cls.started_at)
        return list(
            cls.select()
            .where(
                ((cls.status == Status.QUEUED) & (queued_since < queued_before))
                | ((cls.status == Status.RUNNING) & (running_since < running_before))
            )
            .limit(limit)
        )

    def mark_swept(self) -> None:
        type(self).update(sweeps=type(self).sweeps + 1, swept_at=utcnow()).where(type(self).id == self.id).execute()

    @classmethod
    def claim_fresh(cls, job_ids: list) -> list[Job]:
        """`claim` for a batch, in one statement, of the jobs never started before; the others (finished,
        unknown, or started already: maybe what crashed a worker) are left for `claim`, one at a time."""
        query = (
            cls.update(status=Status.RUNNING, started_at=utcnow(), attempts=1, swept_at=None)
            .where(cls.id.in_(job_ids) & (cls.status == Status.QUEUED) & (cls.attempts == 0))
            .returning(cls)
        )
        return list(query.execute())

    @classmethod
    def unfinished(cls, job_ids: list) -> list[Job]:
        """Those of `job_ids` still queued or running, least attempted first."""
        return list(
            cls.select()
            .where(cls.id.in_(job_ids) & cls.status.in_([Status.QUEUED, Status.RUNNING]))
            .order_by(cls.attempts, cls.created_at)
        )

    @classmethod
    def finish_many(cls, outcomes: list[tuple[Job, dict]]) -> list:
        """Record a batch of outcomes in one transaction and announce them; returns the ids written."""
        with database.atomic():
            written = [job.id for job, fields in outcomes if job.finish(**fields, notify=False)]
            announce(written)
        events.publish(written)
        return written

    def finish(
        self,
        status: str,
        *,
        output=None,
        error: str | None = None,
        inference_ms: float | None = None,
        expected: str = Status.RUNNING,
        notify: bool = True,
    ) -> bool:
        """Record the outcome once: only a job still in the `expected` status is written; False otherwise."""
        fields = {"status": status, "output": output, "error": error, "finished_at": utcnow()}
        if self.started_at is not None:
            fields["queue_ms"] = _ms(self.created_at, self.started_at)
        if inference_ms is not None:
            fields["inference_ms"] = inference_ms
        cls = type(self)
        written = cls.update(**fields).where((cls.id == self.id) & (cls.status == expected)).execute()
        if written:
            for name, value in fields.items():
                setattr(self, name, value)
            if notify:
                _announce_one(self.id)
        return bool(written)


def _announce_one(job_id) -> None:
    announce([job_id])  # autocommit: delivered at once
    events.publish([job_id])


def _ms(start: dt.datetime, end: dt.datetime) -> float:
    return round((end - start).total_seconds() * 1000, 3)
