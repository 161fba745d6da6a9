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

    class Meta:
        table_name = "job"

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
            cls.update(status=Status.RUNNING, started_at=now, attempts=cls.attempts + 1)
            .where((cls.id == job_id) & cls.status.in_([Status.QUEUED, Status.RUNNING]))
            .execute()
        )
        if not claimed:
            return None
        return cls.get_by_id(job_id)

    @classmethod
    def claim_many(cls, job_ids: list) -> list[Job]:
        """`claim` for a batch, in one transaction: the jobs now running (finished or unknown ones left out)."""
        now = utcnow()
        with database.atomic():
            (
                cls.update(status=Status.RUNNING, started_at=now, attempts=cls.attempts + 1)
                .where(cls.id.in_(job_ids) & cls.status.in_([Status.QUEUED, Status.RUNNING]))
                .execute()
            )
            return list(cls.select().where(cls.id.in_(job_ids) & (cls.status == Status.RUNNING)))

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
