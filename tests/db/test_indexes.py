"""The job's queries read the index meant for them on a filled table, on both dialects: the plan names it. The
table holds what a deployment's does: mostly finished jobs, most of those purged, a few pending (queued,
running, failed as never enqueued) of several owners and models, some with an idempotency key."""

from __future__ import annotations

import datetime as dt
import logging
import uuid

import peewee

from db import Failure, Job, Status, retention
from db.admission import queued_of
from db.base import utcnow
from db.bulk import lane

ROWS = 20_000
NOW = utcnow()


def fill(database: peewee.Database) -> None:
    rows = []
    for n in range(ROWS):
        created = NOW - dt.timedelta(seconds=ROWS - n)
        status = (Status.QUEUED, Status.RUNNING)[n % 2] if n >= ROWS - 40 else Status.SUCCEEDED
        finished = status == Status.SUCCEEDED
        rows.append(
            {
                "id": uuid.uuid4(),
                "model": ("m1", "m2")[n % 2],
                "task": "feature-extraction",
                "inputs": [],
                "parameters": {},
                "status": status,
                "owner": f"k{n % 4}",
                "created_at": created,
                "finished_at": created if finished else None,
                "purged_at": created if finished and n < ROWS // 2 else None,
                "lease_expires_at": NOW if status == Status.RUNNING else None,
                "idempotency_key": f"key-{n}" if n % 10 == 0 and n >= ROWS // 2 else None,
                "attempts": 1,
                "sweeps": 0,
            }
        )
    rows[ROWS // 2].update(status=Status.FAILED, failure=Failure.NOT_ENQUEUED)
    with database.atomic():
        for start in range(0, ROWS, 500):
            Job.insert_many(rows[start : start + 500]).execute()
    database.execute_sql("ANALYZE job" if isinstance(database, peewee.PostgresqlDatabase) else "ANALYZE")


class Captured(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.statements: list[tuple[str, object]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if isinstance(record.msg, tuple) and len(record.msg) == 2:
            self.statements.append(record.msg)


def plans(database: peewee.Database, call) -> list[str]:
    """The plan of each statement `call` runs (EXPLAIN on PostgreSQL, EXPLAIN QUERY PLAN on SQLite)."""
    logger, handler = logging.getLogger("peewee"), Captured()
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        call()
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    explain = "EXPLAIN " if isinstance(database, peewee.PostgresqlDatabase) else "EXPLAIN QUERY PLAN "
    return [
        "\n".join(str(row[-1]) for row in database.execute_sql(explain + sql, params).fetchall())
        for sql, params in handler.statements
    ]


def listing(owner: str) -> list[Job]:
    """A page of `GET /inference` (`web.resources.jobs`)."""
    return list(Job.select().where(Job.owner == owner).order_by(Job.created_at.desc(), Job.id.desc()).limit(21))


def replayed(owner: str, key: str) -> Job | None:
    """An idempotent replay's lookup (`web.admission.replay`)."""
    return Job.get_or_none((Job.owner == owner) & (Job.idempotency_key == key))


QUERIES = {
    "backlog": (lambda: Job.backlog("m1"), "job_pending_status_model"),
    "queued_of": (lambda: queued_of("k1"), "job_pending_status_model"),
    "leased": (lambda: Job.leased(NOW), "job_pending_status_model"),
    "stale": (lambda: Job.stale(queued_before=NOW, now=NOW), "job_pending_status_model"),
    "unsent": (lane.unsent, "job_pending_status_model"),
    "replay": (lambda: replayed("k0", f"key-{ROWS - 100}"), "job_owner_idempotency_key"),
    "purge": (lambda: list(retention.candidates(NOW, 500)), "job_unerased_finished_at"),
    "listing": (lambda: listing("k2"), "job_owner_created_at_id"),
}


def test_the_hot_queries_read_their_indexes_on_a_filled_table(database):
    fill(database)
    found = {name: plans(database, call) for name, (call, _) in QUERIES.items()}
    missed = {name: plan for name, plan in found.items() if not plan or QUERIES[name][1] not in "\n".join(plan)}
    assert missed == {}
