"""Models. A `Job` is one POST /inference: its inputs, its status and, once finished, its output.

Status changes go through `Job._move`, guarded by the transitions of `db.lifecycle`.
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections.abc import Iterable
from typing import Any

import peewee

from core.owners import OPEN
from db.base import BaseModel, dumps, ms, utcnow
from db.batch import CLAIM, finish_in_one_statement, insert_sql
from db.connection import database
from db.events import CHANNEL, announce, events
from db.lifecycle import UNFINISHED, Failure, Status, check
from db.vectors import pack, unpack

DEFAULT_LEASE = dt.timedelta(seconds=30)  # `Config.lease_seconds`; workers pass theirs


class Job(BaseModel):
    id = peewee.UUIDField(primary_key=True, default=uuid.uuid4)
    model = peewee.CharField(max_length=200)
    task = peewee.CharField(max_length=64)
    inputs = peewee.JSONField(dumps=dumps)
    parameters = peewee.JSONField(default=dict, dumps=dumps)
    status = peewee.CharField(max_length=16, default=Status.QUEUED, index=True)
    result = peewee.JSONField(null=True, dumps=dumps, column_name="output")  # the output without its vectors
    vectors = peewee.BlobField(null=True)  # a feature-extraction output's vectors, float32 (`db.vectors`)
    error = peewee.TextField(null=True)
    failure = peewee.CharField(max_length=32, null=True)  # a `db.lifecycle.Failure` code when failed
    attempts = peewee.IntegerField(default=0)
    created_at = peewee.DateTimeField(default=utcnow, index=True)
    started_at = peewee.DateTimeField(null=True)
    finished_at = peewee.DateTimeField(null=True)
    queue_ms = peewee.FloatField(null=True)
    inference_ms = peewee.FloatField(null=True)
    idempotency_key = peewee.CharField(max_length=255, null=True)  # unique per owner
    request_hash = peewee.CharField(max_length=64, null=True)
    sweeps = peewee.IntegerField(default=0)  # times the sweeper sent it again
    swept_at = peewee.DateTimeField(null=True)  # when it last did
    lease_expires_at = peewee.DateTimeField(null=True)  # a running job's worker renews it while it works on it
    owner = peewee.CharField(max_length=32, default=OPEN)  # the id of the API key that created it (core.owners)
    deleted_at = peewee.DateTimeField(null=True)  # inputs and output deleted by the client (a tombstone)
    purged_at = peewee.DateTimeField(null=True)  # inputs and output purged after RESULT_TTL (a tombstone)
    webhook = peewee.TextField(null=True)  # where the finished job is delivered
    webhook_events = peewee.CharField(max_length=64, null=True)  # comma-separated terminal statuses
    awaited = peewee.BooleanField(default=False)  # a request waits for it: its notification carries its row

    class Meta:
        table_name = "job"
        indexes = (
            (("model", "status"), False),
            (("owner", "idempotency_key"), True),
            (("owner", "created_at", "id"), False),
            (("finished_at",), False),
        )

    @property
    def output(self) -> Any:
        """The output as the task shaped it: `result` with its vectors put back."""
        return unpack(self.result, self.vectors)

    @output.setter
    def output(self, value: Any) -> None:
        self.result, self.vectors = pack(value)

    @property
    def finished(self) -> bool:
        return self.status not in UNFINISHED

    @property
    def erased(self) -> bool:
        """Its inputs and output are gone (deleted or purged); the row stays as a tombstone."""
        return self.deleted_at is not None or self.purged_at is not None

    @property
    def events(self) -> list[str]:
        """The terminal statuses its webhook is called for."""
        return self.webhook_events.split(",") if self.webhook and self.webhook_events else []

    @property
    def never_enqueued(self) -> bool:
        return self.status == Status.FAILED and self.failure == Failure.NOT_ENQUEUED

    @classmethod
    def _move(cls, where, target: str, *, allowed_from: Iterable[str] | None = None, **fields) -> peewee.ModelUpdate:
        """The guarded update of the jobs matching `where` to `target`, from the statuses the lifecycle allows
        (or the narrower `allowed_from`)."""
        allowed = check(target, set(allowed_from) if allowed_from is not None else set(UNFINISHED))
        return cls.update(status=target, **fields).where(where & cls.status.in_(sorted(allowed)))

    @classmethod
    def create_many(cls, rows: list[dict]) -> list[Job]:
        """One job per row of fields, inserted in one statement and one commit (the group commit of
        concurrent POSTs): all of them or none."""
        jobs = [cls(**fields) for fields in rows]  # ids and timestamps are made here, as `create` does
        if not isinstance(database.obj, peewee.PostgresqlDatabase):  # SQLite's JSON is a SQL function: peewee's
            cls.insert_many([job.__data__ for job in jobs]).execute()
            return jobs
        # one statement: atomic, one round trip; its text is cached (peewee writing it for every POST cost
        # the API a third of a request's CPU), only the values are converted, each by its field
        fields = [f for f in cls._meta.sorted_fields if any(f.name in job.__data__ for job in jobs)]
        params = [field.db_value(job.__data__.get(field.name)) for job in jobs for field in fields]
        database.execute_sql(insert_sql(cls._meta.table_name, tuple(f.column_name for f in fields), len(jobs)), params)
        return jobs

    @classmethod
    def find(cls, job_id, owner: str | None = None) -> Job | None:
        """The job with this id (and this owner, when one is given), or None: `get_or_none` with its SQL
        written once per database, as it is read on every wait and every GET (peewee writing a SELECT of
        every column was most of a read's CPU)."""
        params = [cls.id.db_value(job_id)] + ([cls.owner.db_value(owner)] if owner is not None else [])
        found = cls._built(_select_one(database.obj, owner is not None), params)
        return found[0] if found else None

    @classmethod
    def find_many(cls, job_ids: list) -> list[Job]:
        """The jobs with these ids (those that exist), in one statement."""
        if isinstance(database.obj, peewee.PostgresqlDatabase):  # one fixed text: the ids are one array
            return cls._built('SELECT * FROM "job" WHERE "id" = ANY(%s::uuid[])', [[str(i) for i in job_ids]])
        return list(cls.select().where(cls.id.in_(job_ids)))

    @classmethod
    def _built(cls, sql: str, params: list) -> list[Job]:
        """The jobs of the rows `sql` returns (every column: `SELECT *`, `RETURNING *`), each value converted
        by its field as a peewee query would; a column this code has no field for (a migration ahead of it,
        in a rolling upgrade) is left out. Built here because peewee's `raw` works out anew, for every
        query, which field each column belongs to: most of the CPU of reading one job."""
        cursor = database.execute_sql(sql, params)
        fields = [_FIELDS.get(column[0]) for column in cursor.description]
        jobs = []
        for row in cursor.fetchall():
            job = cls(__no_default__=True)
            job.__data__ = {
                f.name: v if v is None else f.python_value(v) for f, v in zip(fields, row, strict=True) if f is not None
            }
            jobs.append(job)
        return jobs

    @classmethod
    def from_row_json(cls, row: dict) -> Job:
        """The job whose row PostgreSQL rendered in JSON (`row_to_json`, as a finished batch's notifications
        carry it), with the values a read of that row gives (a bytea as bytes, where psycopg2 gives a
        memoryview of them). A column missing from `row` is a KeyError: a row of another schema is read
        instead, never half taken."""
        job = cls(__no_default__=True)
        for field in cls._meta.sorted_fields:
            value = row[field.column_name]
            job.__data__[field.name] = value if value is None else _FROM_JSON.get(type(field), _same)(value)
        return job

    def queued_ms(self) -> float | None:
        """Milliseconds from its creation to its start (saved as `queue_ms` when it finishes); None before."""
        return ms(self.created_at, self.started_at) if self.started_at is not None else None

    @classmethod
    def claim(cls, job_id, *, lease: dt.timedelta = DEFAULT_LEASE) -> Job | None:
        """Mark a job running, holding a lease for `lease`, and count the attempt; None when it is finished,
        canceled or unknown.

        A guarded update, so a redelivered message never runs a finished job again.
        """
        now = utcnow()
        claimed = cls._move(
            cls.id == job_id,
            Status.RUNNING,
            started_at=now,
            attempts=cls.attempts + 1,
            swept_at=None,
            lease_expires_at=now + lease,
        ).execute()
        return cls.get_by_id(job_id) if claimed else None

    @classmethod
    def claim_fresh(cls, job_ids: list, *, lease: dt.timedelta = DEFAULT_LEASE) -> list[Job]:
        """`claim` for a batch, in one statement, of the jobs never started before; the others (finished,
        unknown, or started already: maybe what crashed a worker) are left for `claim`, one at a time.

        Committed without waiting for the disk (PostgreSQL's `synchronous_commit` off, this transaction
        only): a claim lost with the database server leaves the job queued, and its message, unacked, is
        delivered again. The outcome is saved durably before the message is acked."""
        now = utcnow()
        if isinstance(database.obj, peewee.PostgresqlDatabase):  # one fixed statement (`db.batch.CLAIM`)
            check(Status.RUNNING, {Status.QUEUED})
            ids = [str(job_id) for job_id in job_ids]
            return cls._built(CLAIM, [Status.RUNNING, now, now + lease, ids, Status.QUEUED])
        query = cls._move(
            cls.id.in_(job_ids) & (cls.attempts == 0),
            Status.RUNNING,
            allowed_from={Status.QUEUED},
            started_at=now,
            attempts=1,
            swept_at=None,
            lease_expires_at=now + lease,
        ).returning(cls)
        return list(query.execute())

    @classmethod
    def renew(cls, job_ids: list, lease: dt.timedelta) -> int:
        """Extend the leases of those of `job_ids` still running (their worker is still on them)."""
        if not job_ids:
            return 0
        where = cls.id.in_(job_ids) & (cls.status == Status.RUNNING)
        return cls.update(lease_expires_at=utcnow() + lease).where(where).execute()

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

    @classmethod
    def backlog(cls, model: str) -> int:
        return cls.select().where((cls.model == model) & (cls.status == Status.QUEUED)).count()

    @classmethod
    def stale(cls, *, queued_before: dt.datetime, now: dt.datetime, limit: int = 1000) -> list[Job]:
        """Jobs that should have moved on by now, oldest first: queued since before `queued_before` (counted
        from the last time the sweeper sent them, if it did), or running with an expired lease (no worker
        renews it: the worker died, or lost its database)."""
        queued_since = peewee.fn.COALESCE(cls.swept_at, cls.created_at)
        lease_over = cls.lease_expires_at.is_null() | (cls.lease_expires_at < now)
        return list(
            cls.select()
            .where(
                ((cls.status == Status.QUEUED) & (queued_since < queued_before))
                | ((cls.status == Status.RUNNING) & lease_over)
            )
            .order_by(cls.created_at)
            .limit(limit)
        )

    @classmethod
    def queued_count(cls) -> int:
        return cls.select().where(cls.status == Status.QUEUED).count()

    def mark_swept(self, *, counted: bool = True, lease: dt.timedelta = dt.timedelta(0)) -> None:
        """Record a re-send (counted toward the sweeper's bound, or only dated); a running job's lease is
        pushed `lease` ahead so the next sweep leaves it to the message just sent."""
        cls, now = type(self), utcnow()
        fields = {"swept_at": now, "sweeps": cls.sweeps + 1 if counted else cls.sweeps}
        if self.status == Status.RUNNING:
            fields["lease_expires_at"] = now + lease
        cls.update(**fields).where(cls.id == self.id).execute()

    @classmethod
    def unfinished(cls, job_ids: list | None = None) -> list[Job]:
        """Those of `job_ids` (or of all jobs) still queued or running, least attempted first."""
        where = cls.status.in_(sorted(UNFINISHED))
        if job_ids is not None:
            where &= cls.id.in_(job_ids)
        return list(cls.select().where(where).order_by(cls.attempts, cls.created_at))

    @classmethod
    def finish_many(cls, outcomes: list[tuple[Job, dict]]) -> list:
        """Record a batch of outcomes in one transaction and announce them; returns the ids written.

        On PostgreSQL a batch is one `UPDATE ... FROM (VALUES ...)`: one statement instead of one a job,
        and when no job of the batch has a webhook, that statement also announces them and is the whole
        transaction (`db.batch`)."""
        postgres = isinstance(database.obj, peewee.PostgresqlDatabase)
        if postgres and not any(job.webhook for job, _ in outcomes):  # no delivery rows to write with them
            written = finish_in_one_statement(outcomes, cls.result.db_value, notify=CHANNEL)  # autocommit
            events.publish(written)
            return written
        with database.atomic():
            if postgres:
                written = finish_in_one_statement(outcomes, cls.result.db_value)
            else:
                written = [job.id for job, fields in outcomes if job.finish(**fields, notify=False)]
            done = {str(job_id) for job_id in written}
            record_deliveries((job, fields["status"]) for job, fields in outcomes if str(job.id) in done)
            announce(written)
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
        """Record the outcome of a running job once: False when it is no longer running (canceled, or
        finished by another delivery)."""
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
                record_deliveries([(self, status)])
        return _announced(self.id, written)

    def _finish(self, status: str, fields: dict) -> bool:
        cls = type(self)
        written = cls._move(cls.id == self.id, status, allowed_from={Status.RUNNING}, **fields).execute()
        if written:
            for name, value in {"status": status, **fields}.items():
                setattr(self, name, value)
        return bool(written)


class WebhookDelivery(BaseModel):
    """One event of a job to deliver to its webhook: written in the transaction that finishes the job,
    so a finished job's delivery is never lost; its message is sent after the commit (and sent again by
    the sweeper when it was lost)."""

    id = peewee.UUIDField(primary_key=True, default=uuid.uuid4)  # also the `webhook-id`: receivers dedupe on it
    job = peewee.ForeignKeyField(Job, on_delete="CASCADE", backref="deliveries")
    event = peewee.CharField(max_length=16)  # the terminal status reached
    url = peewee.TextField()
    owner = peewee.CharField(max_length=32, default=OPEN)
    status = peewee.CharField(max_length=16, default="pending", index=True)  # pending, delivered, failed
    attempts = peewee.IntegerField(default=0)
    last_status_code = peewee.IntegerField(null=True)
    last_error = peewee.TextField(null=True)
    created_at = peewee.DateTimeField(default=utcnow)
    sent_at = peewee.DateTimeField(null=True)  # when its message was last sent
    attempted_at = peewee.DateTimeField(null=True)  # when it was last tried
    delivered_at = peewee.DateTimeField(null=True)

    class Meta:
        table_name = "webhook_delivery"
        indexes = ((("job", "event"), True),)


def record_deliveries(finished: Iterable[tuple[Job, str]]) -> int:
    """Inside the transaction that finished these jobs (each with the status it reached): a pending delivery
    for each whose webhook asked for that status. A job without a webhook costs nothing (no query)."""
    rows = [
        {"job": job.id, "event": status, "url": job.webhook, "owner": job.owner, "created_at": utcnow()}
        for job, status in finished
        if job.webhook and status in job.events
    ]
    if rows:
        WebhookDelivery.insert_many(rows).on_conflict_ignore().execute()
    return len(rows)


def _finished(move: peewee.ModelUpdate) -> int:
    """Run a guarded move to a terminal status and record its webhook deliveries, in one transaction."""
    cls = move.model
    with database.atomic():
        moved = list(move.returning(cls.id, cls.status, cls.owner, cls.webhook, cls.webhook_events).execute())
        record_deliveries((row, row.status) for row in moved)
    return len(moved)


def _announced(job_id, moved: int) -> bool:
    """Tell waiters a job finished (autocommit: delivered at once); returns whether it moved."""
    if moved:
        announce([job_id])
        events.publish([job_id])
    return bool(moved)


_FIELDS = {field.column_name: field for field in Job._meta.sorted_fields}  # a column's name -> its field


def _same(value: Any) -> Any:
    return value


# How `row_to_json` writes the values that JSON has no type for; numbers, text and JSON columns come as a
# read gives them.
_FROM_JSON = {
    peewee.UUIDField: uuid.UUID,
    peewee.DateTimeField: dt.datetime.fromisoformat,  # "2026-11-27T04:33:00.123456", no zone: UTC, as stored
    peewee.BlobField: lambda text: bytes.fromhex(text.removeprefix("\\x")),  # bytea: "\\x" and hex digits
}


@functools.lru_cache(maxsize=8)
def _select_one(db: peewee.Database, by_owner: bool) -> str:
    """`Job.find`'s statement as peewee writes it for the bound database `db`: id, then owner, as parameters."""
    where = Job.id == uuid.UUID(int=0)
    if by_owner:
        where &= Job.owner == OPEN
    return Job.select().where(where).sql()[0]  # the id is unique: no LIMIT (a parameter on SQLite)
