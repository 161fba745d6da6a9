"""The job's fields, its indexes and what it says of itself; its methods come from `moves`, `reads` and
`rows`. The schema is the migrations' (`db/migrations`): a field added here needs one there."""

from __future__ import annotations

import uuid
from typing import Any

import peewee

from core.owners import OPEN
from db.base import BaseModel, dumps, ms, utcnow
from db.jobs.moves import Moves
from db.jobs.reads import Reads
from db.jobs.rows import Rows
from db.lifecycle import UNFINISHED, Failure, Status
from db.vectors import pack, unpack


class Job(Moves, Reads, Rows, BaseModel):
    id = peewee.UUIDField(primary_key=True, default=uuid.uuid4)
    model = peewee.CharField(max_length=200)
    task = peewee.CharField(max_length=64)
    inputs = peewee.JSONField(dumps=dumps)
    parameters = peewee.JSONField(default=dict, dumps=dumps)
    status = peewee.CharField(max_length=16, default=Status.QUEUED)
    result = peewee.JSONField(null=True, dumps=dumps, column_name="output")  # the output without its vectors
    vectors = peewee.BlobField(null=True)  # a feature-extraction output's vectors, float32 (`db.vectors`)
    error = peewee.TextField(null=True)
    failure = peewee.CharField(max_length=32, null=True)  # a `db.lifecycle.Failure` code when failed
    attempts = peewee.IntegerField(default=0)
    created_at = peewee.DateTimeField(default=utcnow)
    started_at = peewee.DateTimeField(null=True)
    finished_at = peewee.DateTimeField(null=True)
    queue_ms = peewee.FloatField(null=True)
    inference_ms = peewee.FloatField(null=True)
    idempotency_key = peewee.CharField(max_length=255, null=True)  # unique per owner (an index below)
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

    durable = True  # not a column: False for a job just committed without waiting for the disk (`create_many`)

    class Meta:
        table_name = "job"
        indexes = ((("owner", "created_at", "id"), False),)  # a caller's jobs, newest first (the listings)

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

    def queued_ms(self) -> float | None:
        """Milliseconds from its creation to its start (saved as `queue_ms` when it finishes); None before."""
        return ms(self.created_at, self.started_at) if self.started_at is not None else None


# The other indexes are partial, each over the rows its queries read (migration 012): every status change of a
# job writes its row anew in each index whose predicate it meets, and in no other.
PENDING = (Job.status == Status.QUEUED) | (Job.status == Status.RUNNING) | (Job.failure == Failure.NOT_ENQUEUED)
"""The pending jobs: queued, running, or failed as never enqueued (sent again by a replay or the batch keeper),
the only ones the backlogs, the sweeper, the leases and the bulk lane read by status. Equalities, not an IN
list: SQLite's planner matches a query's `status = ?` to one of them."""
KEYED = Job.idempotency_key.is_null(False)
"""The rows a replay looks up by owner and key: NULL keys never collide, so the keys stay unique per owner."""
UNERASED = Job.finished_at.is_null(False) & Job.purged_at.is_null() & Job.deleted_at.is_null()
"""The purge's candidates: finished rows that still hold their inputs and output."""

Job.add_index(Job.index(Job.status, Job.model, name="job_pending_status_model", where=PENDING))
Job.add_index(Job.index(Job.owner, Job.idempotency_key, unique=True, name="job_owner_idempotency_key", where=KEYED))
Job.add_index(Job.index(Job.finished_at, name="job_unerased_finished_at", where=UNERASED))
