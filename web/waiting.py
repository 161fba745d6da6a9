"""Waiting for a job in the same call: `Prefer: wait=N` (RFC 7240) on POST, `?wait=N` on GET.

A waiting request sleeps on the job's finished event (PostgreSQL NOTIFY relayed by a listener thread, or
the in-process event in the embedded mode) and reads the job again when it fires (once, at idle: the job
it was given is not read again first); a slow re-read every few seconds covers a notification lost
while the listener reconnects. Only the jobs a request waits for are announced across processes: a job
created without waiting is marked awaited before the request sleeps (`Job.mark_awaited`).

At most `max_waiters` requests wait at once: past that, a request that asks to wait is answered at once,
so waiting never takes the last waitress threads from requests that bring work.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

from core.errors import Unavailable
from core.owners import OPEN
from db import Job, database
from db.events import JobEvents, events
from web.errors import DATABASE_ERRORS
from web.metrics import WAITING

MAX_WAIT = 60  # seconds
RECHECK = 2.0  # seconds between re-reads when no event comes


class Stopping:
    """The process is shutting down: every waiting request is woken to answer the job as it stands (202 on a
    POST), so that the drain never waits out a minute-long wait, nor cuts one off without an answer."""

    def __init__(self):
        self._stopping = threading.Event()
        self._sleepers: set[threading.Event] = set()
        self._lock = threading.Lock()

    def begin(self) -> None:
        with self._lock:
            self._stopping.set()
            for sleeper in self._sleepers:
                sleeper.set()

    def is_set(self) -> bool:
        return self._stopping.is_set()

    @contextlib.contextmanager
    def watching(self, sleeper: threading.Event) -> Iterator[None]:
        """Wake `sleeper` when shutting down begins, for the length of the block."""
        with self._lock:
            self._sleepers.add(sleeper)
            if self._stopping.is_set():
                sleeper.set()
        try:
            yield
        finally:
            with self._lock:
                self._sleepers.discard(sleeper)


STOPPING = Stopping()  # the process': the serving command begins it on SIGTERM (`inference_api.draining`)


def preferred_wait(prefer: str | None) -> int | None:
    """The `wait` preference of a Prefer header, capped at MAX_WAIT; None when absent or unreadable
    (RFC 7240: a preference the server cannot use is ignored, not an error)."""
    for preference in (prefer or "").split(","):
        name, _, value = preference.split(";")[0].partition("=")
        if name.strip().lower() == "wait":
            try:
                seconds = int(value.strip().strip('"'))
            except ValueError:
                return None
            return min(seconds, MAX_WAIT) if seconds >= 0 else None
    return None


def answerable(job: Job, error: BaseException) -> Job:
    """After the database failed (`error`) while a request waited for the job it created: the job, to answer
    with, once its row is on disk (written again if need be: the database may be back, or only one connection
    was lost); else `Unavailable` (503), naming no job: a crash may still lose it, and nobody is told of a job
    before it is on disk (`Job.create_many`). It may still run."""
    try:
        return Job.make_durable(job)
    except DATABASE_ERRORS:
        raise Unavailable(
            "the database failed before the job was saved to disk; it may still run: retry (with an "
            "Idempotency-Key, a retry never runs it twice)"
        ) from error


class Waiter:
    def __init__(self, max_waiters: int, hub: JobEvents = events, keys=None, stopping: Stopping = STOPPING):
        self.hub = hub
        self.stopping = stopping
        self.max_waiters = max_waiters
        self.keys = keys  # `web.limits.KeyLimits`: each key's own share of the waits; None: no per-key share
        self._slots = threading.BoundedSemaphore(max_waiters)

    def wait(self, job: Job, seconds: float, owner: str = OPEN) -> tuple[Job, bool]:
        """The job once finished or after `seconds`, and whether we waited at all (False: no slot free)."""
        if job.finished or seconds <= 0:
            return job, seconds > 0
        with self.slot(owner) as held:
            return (self.wait_holding(job, seconds), True) if held else (Job.make_durable(job), False)

    @contextlib.contextmanager
    def slot(self, owner: str = OPEN) -> Iterator[bool]:
        """Take a waiting slot for the block; yields False when none is free, or the owner's key holds all
        its own (KEY_WAITS). A route that must wait for its answer (POST /v1/embeddings) takes one before it
        accepts the work, so it never leaves a job behind for want of a thread to wait on it."""
        with contextlib.ExitStack() as stack:
            if self.keys is not None and not stack.enter_context(self.keys.waiting(owner)):
                yield False
                return
            with self._global_slot() as held:
                yield held

    @contextlib.contextmanager
    def _global_slot(self) -> Iterator[bool]:
        held = self._slots.acquire(blocking=False)
        if held:
            WAITING.inc()
        try:
            yield held
        finally:
            if held:
                WAITING.dec()
                self._slots.release()

    def wait_holding(self, job: Job, seconds: float) -> Job:
        """The job once finished or after `seconds`; the caller holds a slot (`slot()`). `job` was read or
        created before this call: an announcement since is still on its event (the hub remembers recent
        ones), so the job is read again only when it is announced or every RECHECK seconds. A job not yet
        awaited is marked so first, which also reads it: finished since, it is answered at once; else its
        finish sees the mark and is announced. Unfinished, the job is returned only once its row is on disk
        (`Job.make_durable`): a finished one is, its save was synchronous."""
        deadline = time.monotonic() + seconds
        current = job
        with self.hub.waiting(job.id) as finished, self.stopping.watching(finished):
            if not job.awaited:
                current = Job.mark_awaited(job.id) or current
            while True:
                database.close()  # hold no pooled connection while asleep
                remaining = deadline - time.monotonic()
                if current.finished:
                    return current
                if remaining <= 0 or self.stopping.is_set():
                    Job.make_durable(job)
                    return current
                finished.wait(min(remaining, RECHECK))
                read, finished.job = finished.job, None  # handed over by the relay (`db.events`)
                finished.clear()
                current = read or Job.find(job.id) or current
