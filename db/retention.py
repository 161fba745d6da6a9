"""Retention: finished jobs keep their inputs and output for `RESULT_TTL`, then lose them; so do files and
the batches of the Batch API (`db.bulk.retention`).

The purge and a client's DELETE both leave the row as a tombstone (id, status, model, task, times, the
failure's code, webhook deliveries) and drop what the client sent and got (inputs, parameters, output, its
float32 vectors included), the error text (it may quote the input), the webhook's address, and the
idempotency key (a retry with it makes a new job). The purge works in batches of `batch` rows, each its
own short transaction keyed by primary key, so it never holds a long lock on the job table.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass

import peewee

from db.base import utcnow
from db.bulk.retention import purge_bulk
from db.connection import database
from db.jobs import Job
from db.lifecycle import TERMINAL

logger = logging.getLogger(__name__)

BATCH = 500
ERASED = {
    "inputs": [],
    "parameters": {},
    "result": None,
    "vectors": None,
    "idempotency_key": None,
    "request_hash": None,
    "error": None,
    "webhook": None,
    "webhook_events": None,
}


@dataclass
class PurgeReport:
    purged: int = 0
    batches: int = 0
    bulk: tuple[int, int] = (0, 0)  # batches (of the Batch API) and files purged (`db.bulk.retention`)

    def __str__(self) -> str:
        return (
            f"purge: {self.purged} finished job(s) lost their inputs and output in {self.batches} batch(es); "
            f"{self.bulk[0]} ended batch(es) lost their requests and files, {self.bulk[1]} file(s) deleted"
        )


def erase(job_id) -> bool:
    """DELETE: drop a finished job's inputs and output now (a tombstone stays). False if it is unfinished."""
    query = Job.update(**ERASED, deleted_at=utcnow()).where(
        (Job.id == job_id) & Job.status.in_(sorted(TERMINAL)) & Job.deleted_at.is_null()
    )
    return bool(query.execute())


def purge(ttl: dt.timedelta, *, batch: int = BATCH, now: dt.datetime | None = None) -> PurgeReport:
    """Erase the inputs and output of every job finished more than `ttl` ago, `batch` rows at a time."""
    cutoff = (now or utcnow()) - ttl
    report = PurgeReport()
    while True:
        with database.atomic():
            ids = [row.id for row in candidates(cutoff, batch)]
            if ids:
                report.purged += Job.update(**ERASED, purged_at=utcnow()).where(Job.id.in_(ids)).execute()
                report.batches += 1
        if len(ids) < batch:
            report.bulk = purge_bulk(cutoff, now or utcnow())
            return report


def candidates(cutoff: dt.datetime, batch: int) -> peewee.ModelSelect:
    """Up to `batch` jobs finished before `cutoff` that still hold their inputs and output: read through the
    partial index of such rows (`job_unerased_finished_at`), so tombstones cost the purge nothing."""
    unerased = Job.purged_at.is_null() & Job.deleted_at.is_null()
    return (
        Job.select(Job.id).where((Job.finished_at < cutoff) & Job.status.in_(sorted(TERMINAL)) & unerased).limit(batch)
    )


class Purger(threading.Thread):
    """Purge every `every` seconds until stopped (the embedded mode; production runs `inference-api purge`).
    A `ttl` of 0 keeps results for ever: the thread then does nothing."""

    def __init__(self, *, every: float, ttl: int):
        super().__init__(name="purger", daemon=True)
        self.every, self.ttl = every, ttl
        self.stopping = threading.Event()

    def run(self) -> None:
        while self.ttl and not self.stopping.wait(self.every):
            try:
                with database.connection_context():  # this thread's connection, returned after each purge
                    report = purge(dt.timedelta(seconds=self.ttl))
                if report.purged:
                    logger.info("%s", report)
            except Exception as e:  # the database may be down: try again next time
                logger.warning("purge failed: %s", type(e).__name__)
                logger.debug("purge failed: %s", e)
