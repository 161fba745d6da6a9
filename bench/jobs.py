"""Reading the job table: how many are finished, and when each ran (the database is the clock of record)."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from db import TERMINAL, Job, Status, database


@dataclass(frozen=True)
class Timeline:
    """The finished jobs of one measurement, as the workers recorded them."""

    created: list[dt.datetime]
    started: list[dt.datetime]
    finished: list[dt.datetime]
    inference_ms: list[float]
    failed: int

    @property
    def count(self) -> int:
        return len(self.finished)


def insert(texts: list[str], model: str, task: str = "feature-extraction") -> list[uuid.UUID]:
    """One queued job per text, as the API would have inserted them."""
    ids = [uuid.uuid4() for _ in texts]
    rows = [
        {"id": i, "model": model, "task": task, "inputs": [text], "parameters": {}, "status": Status.QUEUED}
        for i, text in zip(ids, texts, strict=True)
    ]
    with database.connection_context(), database.atomic():
        for start in range(0, len(rows), 500):
            Job.insert_many(rows[start : start + 500]).execute()
    return ids


def finished_count() -> int:
    with database.connection_context():
        return Job.select().where(Job.status.in_(list(TERMINAL))).count()


def wait_finished(
    expected: int, *, timeout: float, alive: Callable[[], None] = lambda: None, interval: float = 0.25
) -> int:
    """Poll until `expected` jobs are finished; `alive` raises if a process we depend on died. The last tenth
    is polled ten times as often: the round's meter stops when this returns, and an idle quarter second in
    a round of a few seconds read as cores left idle."""
    deadline = time.monotonic() + timeout
    done = finished_count()
    while done < expected:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{done} of {expected} jobs finished after {timeout:.0f} s")
        alive()
        time.sleep(interval if done < 0.9 * expected else interval / 10)
        done = finished_count()
    return done


def timeline() -> Timeline:
    with database.connection_context():
        rows = list(
            Job.select(Job.created_at, Job.started_at, Job.finished_at, Job.inference_ms, Job.status)
            .where(Job.status.in_(list(TERMINAL)))
            .tuples()
        )
    ran = [row for row in rows if row[1] is not None and row[2] is not None]
    return Timeline(
        created=[row[0] for row in ran],
        started=[row[1] for row in ran],
        finished=[row[2] for row in ran],
        inference_ms=[row[3] for row in ran if row[3] is not None],
        failed=sum(1 for row in rows if row[4] != Status.SUCCEEDED),
    )


@dataclass(frozen=True)
class Times:
    """One job's timestamps and model time, as the API and the worker wrote them."""

    created: dt.datetime
    started: dt.datetime | None
    finished: dt.datetime | None
    inference_ms: float | None


def times(job_ids: list[str]) -> dict[str, Times]:
    """The timestamps of these jobs, by id (as text); a job not found is left out."""
    with database.connection_context():
        rows = Job.select(Job.id, Job.created_at, Job.started_at, Job.finished_at, Job.inference_ms)
        rows = rows.where(Job.id.in_(job_ids)).tuples()
        return {str(row[0]): Times(*row[1:]) for row in rows}


def utc(timestamp: float) -> dt.datetime:
    """A `time.time()` value as the naive UTC datetime the job table stores."""
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).replace(tzinfo=None)
