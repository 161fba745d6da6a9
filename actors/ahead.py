"""Running a lone job ahead of its claim (docs/architecture.md#running-ahead-of-the-claim): the batcher's
thread runs the model on the job's hint (`actors.hints`) while a thread of the `Claimer` claims its row, so
the claim's round trip to the database overlaps the model instead of preceding it."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from actors.connection import close_connection
from actors.runs import Group
from db.base import utcnow


@dataclass
class Unclaimed:
    """A job run ahead of its claim, as its message's hint describes it: what a run reads of a job."""

    id: str
    inputs: Any


class Claimer:
    """One thread, started on first use (in the worker process, after fork), with its own pooled connection.
    `claim(job_ids, started)` claims and holds the fresh ones (the batcher's `_claim`), stamped as started
    when the run began, as a claim that precedes its run is."""

    def __init__(self, claim: Callable[[list[str], dt.datetime], list]):
        self._claim = claim
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def run_ahead(self, job_id: str, hint: list, run: Callable[[Group], list]) -> tuple[list, list]:
        """(the jobs claimed, the outcomes of `run` on a group of the hint's stand-in for the job), the
        outcomes to be kept only if the claimed row is what the hint says. The claim is awaited whatever the
        run does, so that a job claimed is held, or released by the caller's error handling; the claim's own
        error is raised once the run is over."""
        claiming = self._executor().submit(self._claim_apart, [job_id], utcnow())
        model, task, parameters, inputs = hint
        try:
            ahead = run(Group(model, task, parameters, [Unclaimed(job_id, inputs)]))
        finally:
            fresh = claiming.result()
        return fresh, ahead

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="claim-ahead")
            return self._pool

    def _claim_apart(self, job_ids: list[str], started: dt.datetime) -> list:
        try:
            return self._claim(job_ids, started)
        finally:
            close_connection()  # the claimer's connection goes back to the pool
