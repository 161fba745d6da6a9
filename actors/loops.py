"""A batcher loop: one lane's thread that fills batches from its lane and runs them, and its writer thread that
saves them. A worker process has two (`actors.batching.Batcher`): the interactive loop and the bulk loop.

The bulk loop's threads lower their own CPU priority once, when they start (`nice`, per thread on Linux): the
kernel gives a bulk run the cores only when interactive work, the API, PostgreSQL and RabbitMQ leave them
idle, so an interactive job never waits behind a bulk run, and a batch alone still uses the whole machine.
Both loops share the process' models (ONNX Runtime's `run` and a configured tokenizer are safe to call from
several threads), its lease renewer and its database pool (docs/architecture.md#batching)."""

from __future__ import annotations

import logging
import os
import queue
import sys
import threading
import time
from typing import TYPE_CHECKING

from actors.lanes import INTERACTIVE, lane

if TYPE_CHECKING:
    from actors.batching import Batcher

logger = logging.getLogger(__name__)

NAMES = {INTERACTIVE: ("batcher", "batch writer")}  # the loops' and their writers' names (liveness, logs)
# While interactive batches ran in the last RECENT seconds, a bulk batch is followed by a pause of YIELD times
# its own length (at most MAX_PAUSE): bulk work then takes about a quarter of the time, so the database and
# the broker, which bulk jobs use at their own priority, answer interactive jobs as at idle; alone, no pause.
RECENT, YIELD, MAX_PAUSE = 1.0, 3.0, 0.5
_warned = threading.Event()  # a platform without per-thread priority is said once a process


class Loop:
    """One lane, its batching thread and its writer thread (each started on first need: after fork)."""

    def __init__(self, batcher: Batcher, lane_name: str, *, nice: int | None = None, yields_to: Loop | None = None):
        self.batcher = batcher
        self.yields_to = yields_to  # the loop whose recent batches this one pauses for (the bulk loop's)
        self.last_batch = -float("inf")  # when this loop last took a batch (monotonic)
        self.name, self.writer_name = NAMES.get(lane_name, (f"{lane_name} batcher", f"{lane_name} batch writer"))
        self.lane = lane(lane_name)
        self.nice = nice  # this loop's threads' CPU priority (None: the process')
        self.writes: queue.Queue = queue.Queue(maxsize=2)  # (futures, outcomes) to save, while the next batch runs
        self._looping = self._writing = False
        self._lock = threading.Lock()
        self._last_size = 0

    def start(self, *, looping: bool) -> None:
        """Start the writer, and with `looping` the batching thread, unless started."""
        with self._lock:
            if not self._writing:
                threading.Thread(target=self._write_loop, name=self.writer_name.replace(" ", "-"), daemon=True).start()
                self._writing = True
            if looping and not self._looping:
                threading.Thread(target=self._loop, name=self.name.replace(" ", "-"), daemon=True).start()
                self._looping = True

    def take(self) -> list:
        """The next batch's items: at least one (waits for it), at most `max_jobs`. Under load it waits up to
        `max_wait` for the batch to fill; at idle (the last batch was a single job) it runs at once rather than
        add the wait to every lone request's latency."""
        batcher = self.batcher
        items = [self.lane.get()]
        deadline = time.monotonic() + (batcher.max_wait if self._last_size > 1 else 0.0)
        while len(items) < batcher.max_jobs:
            try:
                items.append(self.lane.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                break
        self._last_size = len(items)
        self.last_batch = time.monotonic()
        return items

    def pause(self, ran: float) -> float:
        """How long to pause after a batch that ran `ran` seconds: while the loop it yields to ran batches
        within RECENT seconds, YIELD times as long (at most MAX_PAUSE); otherwise none."""
        if self.yields_to is None or time.monotonic() - self.yields_to.last_batch > RECENT:
            return 0.0
        return min(MAX_PAUSE, YIELD * ran)

    def _loop(self) -> None:
        self.batcher.enter(self)
        lower_priority(self.nice)
        while True:
            items = self.take()
            self.batcher.progress.working(self.name)
            started = time.monotonic()
            try:
                self.batcher.run_batch(items)
            except BaseException as e:  # never let the thread die: hand the error to the waiting threads
                logger.error("%s: a batch failed (%s); its messages are retried", self.name, type(e).__name__)
                logger.debug("%s: the batch's failure", self.name, exc_info=True)  # its text may quote inputs
                for _, future in items:
                    if not future.done():
                        future.set_exception(e)
            finally:
                self.batcher.progress.done(self.name)
            time.sleep(self.pause(time.monotonic() - started))

    def _write_loop(self) -> None:
        self.batcher.enter(self)
        lower_priority(self.nice)
        while True:
            futures, outcomes = self.writes.get()
            self.batcher.progress.working(self.writer_name)
            try:
                self.batcher.write(futures, outcomes)
            finally:
                self.batcher.progress.done(self.writer_name)


def lower_priority(nice: int | None) -> int | None:
    """Lower the calling thread's CPU priority to `nice` (never raise it: that needs privilege); the thread's
    nice after, or None where the platform has no per-thread priority (said once, at info: work goes on)."""
    if nice is None:
        return None
    if not sys.platform.startswith("linux"):  # elsewhere PRIO_PROCESS of a thread id is not that thread
        if not _warned.is_set():
            _warned.set()
            logger.info("no per-thread CPU priority on %s: bulk runs keep the process' priority", sys.platform)
        return None
    thread = threading.get_native_id()
    try:
        if nice > os.getpriority(os.PRIO_PROCESS, thread):
            os.setpriority(os.PRIO_PROCESS, thread, nice)
        return os.getpriority(os.PRIO_PROCESS, thread)
    except OSError as e:
        if not _warned.is_set():
            _warned.set()
            logger.info("could not lower a bulk thread's CPU priority (%s): it keeps the process'", e)
        return None
