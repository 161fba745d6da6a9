"""Batches as OpenAI's Batch API describes them: a `batch` row (endpoint, input file, status and the time
of each status, output and error files) and one `batch_request` row per input line.

A valid line's request holds the job it stands for (model, task, inputs, parameters), validated by the API
when the batch was created; its job is created later, when the bulk lane has room (`release`), so a batch
of 50,000 lines is not 50,000 queued jobs at once, and batches of several keys take turns. A line that was
not valid holds its error instead and never becomes a job. Every line is answered once, in the output
file or the error file, when the batch ends (`actors.batch_keeper`)."""

from __future__ import annotations

import datetime as dt
import secrets
import time

import peewee

from core.owners import OPEN
from db.base import BaseModel, dumps, utcnow
from db.jobs import Job
from db.lifecycle import Failure, Status

COUNTED_LIVE = 1000  # lines: a running batch larger than this has its counts read at most every COUNTS_TTL s
COUNTS_TTL = 5.0
_counted: dict[str, tuple[float, dict[str, int]]] = {}  # batch id -> (read at, its counts), this process'


class BatchStatus:
    VALIDATING = "validating"
    IN_PROGRESS = "in_progress"
    FINALIZING = "finalizing"
    COMPLETED = "completed"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLING = "cancelling"
    CANCELLED = "cancelled"


ALL = tuple(value for name, value in vars(BatchStatus).items() if name.isupper())
ENDED = frozenset({BatchStatus.COMPLETED, BatchStatus.FAILED, BatchStatus.EXPIRED, BatchStatus.CANCELLED})
WINDOWS = {"24h": dt.timedelta(hours=24)}


def new_batch_id() -> str:
    return "batch_" + secrets.token_hex(12)


def new_request_id() -> str:
    return "batch_req_" + secrets.token_hex(12)


class Batch(BaseModel):
    id = peewee.CharField(max_length=40, primary_key=True)
    owner = peewee.CharField(max_length=32, default=OPEN)
    endpoint = peewee.CharField(max_length=64)
    input_file_id = peewee.CharField(max_length=40)
    completion_window = peewee.CharField(max_length=8)
    status = peewee.CharField(max_length=16, default=BatchStatus.VALIDATING, index=True)
    output_file_id = peewee.CharField(max_length=40, null=True)
    error_file_id = peewee.CharField(max_length=40, null=True)
    errors = peewee.JSONField(null=True, dumps=dumps)  # why the batch failed: OpenAI's `errors.data`
    metadata = peewee.JSONField(null=True, dumps=dumps)
    total = peewee.IntegerField(default=0)
    completed = peewee.IntegerField(default=0)  # counts written when it ends; counted live before
    failed = peewee.IntegerField(default=0)
    created_at = peewee.DateTimeField(default=utcnow)
    expires_at = peewee.DateTimeField()
    in_progress_at = peewee.DateTimeField(null=True)
    finalizing_at = peewee.DateTimeField(null=True)
    completed_at = peewee.DateTimeField(null=True)
    failed_at = peewee.DateTimeField(null=True)
    expired_at = peewee.DateTimeField(null=True)
    cancelling_at = peewee.DateTimeField(null=True)
    cancelled_at = peewee.DateTimeField(null=True)

    class Meta:
        table_name = "batch"
        indexes = ((("owner", "created_at", "id"), False),)

    @classmethod
    def find(cls, batch_id: str, owner: str) -> Batch | None:
        return cls.get_or_none((cls.id == batch_id) & (cls.owner == owner))

    def move(self, target: str, *, sources: tuple[str, ...], **fields) -> bool:
        """`sources` -> `target`, stamping `<target>_at`; False when another process moved it first."""
        cls = type(self)
        stamp = {f"{target}_at": utcnow()} if f"{target}_at" in cls._meta.fields else {}
        values = {"status": target, **stamp, **fields}
        moved = cls.update(**values).where((cls.id == self.id) & cls.status.in_(sources)).execute()
        if moved:
            for name, value in values.items():
                setattr(self, name, value)
        return bool(moved)

    def counts(self) -> dict[str, int]:
        """OpenAI's `request_counts`: lines, lines answered with a result, lines answered with an error. A
        running batch's are counted over its lines, at most every COUNTS_TTL seconds per process for a batch
        of more than COUNTED_LIVE lines: clients poll, and each count reads every line."""
        if self.status in ENDED or self.status == BatchStatus.VALIDATING:
            return {"total": self.total, "completed": self.completed, "failed": self.failed}
        if self.total <= COUNTED_LIVE:
            return {"total": self.total, **BatchRequest.tally(self.id)}
        now, (read_at, counted) = time.monotonic(), _counted.get(self.id, (-float("inf"), {}))
        if now - read_at >= COUNTS_TTL:
            counted = BatchRequest.tally(self.id)
            _counted[self.id] = (now, counted)
            for stale in [b for b, (at, _) in _counted.items() if now - at > 60 * COUNTS_TTL]:
                del _counted[stale]
        return {"total": self.total, **counted}


class BatchRequest(BaseModel):
    id = peewee.CharField(max_length=40, primary_key=True, default=new_request_id)
    batch = peewee.CharField(max_length=40)
    line = peewee.IntegerField()  # 1-based, as an editor numbers them
    custom_id = peewee.TextField(null=True)
    owner = peewee.CharField(max_length=32, default=OPEN)
    model = peewee.CharField(max_length=200, null=True)
    task = peewee.CharField(max_length=64, null=True)
    inputs = peewee.JSONField(null=True, dumps=dumps)
    parameters = peewee.JSONField(null=True, dumps=dumps)
    encoding = peewee.CharField(max_length=16, null=True)  # how the answer writes vectors (/v1/embeddings)
    error_code = peewee.CharField(max_length=64, null=True)  # an invalid line: never a job
    error_message = peewee.TextField(null=True)
    job = peewee.UUIDField(null=True, index=True)  # its job, once released to the bulk lane

    class Meta:
        table_name = "batch_request"
        indexes = ((("batch", "line"), True),)

    @classmethod
    def tally(cls, batch_id: str) -> dict[str, int]:
        """Lines answered so far: succeeded jobs count as completed; failed or canceled jobs and invalid
        lines as failed. A job whose message the broker refused is not answered: the keeper sends it again."""
        by_status = cls.job_statuses(batch_id)
        invalid = cls.select().where((cls.batch == batch_id) & cls.error_code.is_null(False)).count()
        failed = by_status.get(Status.FAILED, 0) + by_status.get(Status.CANCELED, 0) + invalid
        return {"completed": by_status.get(Status.SUCCEEDED, 0), "failed": failed}

    @classmethod
    def job_statuses(cls, batch_id: str) -> dict[str, int]:
        """The batch's released jobs by status, those whose message the broker refused left out (the keeper
        sends them again). Each request reads its own job by primary key, a subquery per request: the count
        costs what the batch holds, whatever the job table's size (a join lets the planner hash the whole
        table, and it does when the batch is most of `batch_request`)."""
        sent = Job.failure.is_null() | (Job.failure != Failure.NOT_ENQUEUED)
        status = Job.select(Job.status).where((Job.id == cls.job) & sent).limit(1)
        jobs = cls.select(status.alias("status")).where((cls.batch == batch_id) & cls.job.is_null(False))
        rows = jobs.select_from(jobs.c.status, peewee.fn.COUNT(peewee.SQL("*"))).group_by(jobs.c.status).tuples()
        return {found: n for found, n in rows if found is not None}  # None: not released yet, or not sent
