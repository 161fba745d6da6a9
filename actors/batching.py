"""Dynamic micro-batching: the jobs that reach a worker process together share one ONNX run.

Each message's job ids reach the process' `Batcher` as futures: from the RabbitMQ consumer
(`actors.rabbitmq.dispatch`) or, in the embedded mode, from the Dramatiq worker thread that waits on them.
Each lane has its own loop (`actors.loops`): the bulk loop's threads run at a lower CPU priority, so an
interactive job never waits behind a bulk run. A loop collects ids for at most `max_wait_ms` (or until
`max_jobs`), claims them in one transaction, runs each model's inputs sorted by token count in runs of at
most its `max_batch_size` (docs/architecture.md#batching), writes every outcome in one transaction, then
resolves the futures, and the messages are acked. A lone job whose message carries its fields runs while
another thread claims it (`actors.ahead`). A bad input fails only its own job; a transient database error is
handed back to every message of the batch, and Dramatiq retries those messages.

While jobs are claimed and not yet saved, a renewer thread extends their leases every third of the lease,
so the sweeper leaves them alone; a batch that outruns `batch_timeout` stops between ONNX runs (decoding
steps too) and hands the jobs it has not finished back to Dramatiq as a transient error (retried, each
alone), but for a job that ran alone for half the bound or more: that one fails (`time_limit`). This is the
bound of a message's work in both modes (`actors.limits`). The runs themselves are `actors.runs`. Every loop here
survives outages of the database and logs each once.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections import defaultdict
from concurrent.futures import Future

from actors import hints, metrics
from actors.ahead import Claimer
from actors.connection import close_connection
from actors.lanes import BULK, INTERACTIVE
from actors.loops import Loop
from actors.outcomes import crashed, fail_all, outran, resolve, succeeded
from actors.progress import PROGRESS, Progress
from actors.runs import BatchTimeout, Group, groups, run_sorted, split_outputs
from core.errors import ModelUnavailable
from core.outage import Outage
from db import Failure, Job, Status

logger = logging.getLogger(__name__)

MAX_STARTS = 4  # a job started this many times without finishing is failed, not run again: it may be what
# crashes the worker (each start after the first runs alone, so only such a job can reach this)


class Batcher:
    """Two loops per worker process, one a lane (`actors.loops`), each with two threads: one claims and runs
    batches; its writer saves a batch's outcomes (one transaction) and releases its messages while the first
    already runs the next one. The bulk loop's threads run at `bulk_nice` (None: the process' priority)."""

    def __init__(
        self,
        runtimes,
        *,
        max_jobs: int = 64,
        max_wait_ms: float = 5.0,
        lease_seconds: float = 30.0,
        batch_timeout: float = 120.0,
        progress: Progress = PROGRESS,
        bulk_nice: int | None = None,
    ):
        self.runtimes = runtimes
        self.max_jobs = max_jobs
        self.max_wait = max_wait_ms / 1000
        self.lease = dt.timedelta(seconds=lease_seconds)
        self.batch_timeout = batch_timeout
        self.progress = progress  # each step of the loops, for the worker's liveness (`actors.progress`)
        self._local = threading.local()  # the loop and the batch deadline of the calling thread
        self._held: dict[str, int] = {}  # claimed, not yet saved (id -> its claim's attempts): leases renewed
        self._outages = {name: Outage(logger, name) for name in ("batch", "batch write", "lease renewal")}
        # (job id, future)s by lane, each lane its loop: interactive first come first served, bulk keys in turn
        interactive = Loop(self, INTERACTIVE)
        self.loops = {INTERACTIVE: interactive, BULK: Loop(self, BULK, nice=bulk_nice, yields_to=interactive)}
        self._renewing = False
        self._lock = threading.Lock()
        self.on_saved = None  # called with the ids of saved jobs that have a webhook (sends its deliveries)
        self.batches = self.jobs = 0  # counters for tests and metrics
        self._hints: dict[str, list] = {}  # job id -> its message's hint (`actors.hints`), until its batch
        self._claimer = Claimer(self._claim)  # claims a hinted lone job while this runs it (`actors.ahead`)

    def submit(self, job_id) -> Future:
        """Queue a job; the future resolves once its outcome is saved (or raises a transient error)."""
        return self.submit_many([job_id])[0]

    def submit_many(
        self, job_ids, *, lane: str = INTERACTIVE, owner: str = "", hint: list | None = None
    ) -> list[Future]:
        """Queue several jobs at once (of `owner`, on `lane`): queued before the batcher thread first runs,
        they share its first batch. `hint`: a lone job's fields from its message (`actors.hints.of`)."""
        futures = [Future() for _ in job_ids]
        if hint is not None and len(job_ids) == 1:
            self._hints[str(job_ids[0])] = hint
        loop = self.loops[lane]
        for job_id, future in zip(job_ids, futures, strict=True):
            loop.lane.put((str(job_id), future), owner)
        self._start(loop, looping=True)
        return futures

    def _start(self, loop: Loop, *, looping: bool) -> None:
        """Threads start lazily: in the worker process, after fork."""
        with self._lock:
            if not self._renewing:
                threading.Thread(target=self._renew_loop, name="lease-renewer", daemon=True).start()
                self._renewing = True
        loop.start(looping=looping)

    def enter(self, loop: Loop) -> None:
        """The calling thread runs `loop`'s batches (or saves them): its progress and writes go there."""
        self._local.loop = loop

    @property
    def _loop(self) -> Loop:
        """The calling thread's loop; a thread outside the loops (tests) runs as the interactive one."""
        return getattr(self._local, "loop", None) or self.loops[INTERACTIVE]

    @property
    def _deadline(self) -> float:
        """The time bound (time.monotonic) of the batch the calling thread runs: each loop its own."""
        return getattr(self._local, "deadline", float("inf"))

    @_deadline.setter
    def _deadline(self, value: float) -> None:
        self._local.deadline = value

    def _step(self) -> None:
        self.progress.working(self._loop.name)

    def write(self, futures: dict[str, list[Future]], outcomes: list) -> None:
        """A loop's writer saves a batch's outcomes; the database down, these messages are retried."""
        try:
            self._save(futures, outcomes)
            self._outages["batch write"].ok()
        except Exception as e:
            self._outages["batch write"].failed(e)
            self._release(list(futures))
            fail_all(futures, e)
        finally:
            close_connection()

    def _renew_loop(self) -> None:
        """Extend the leases of the jobs this process holds, every third of the lease."""
        while True:
            time.sleep(self.lease.total_seconds() / 3)
            with self._lock:
                held = dict(self._held)
            if not held:
                continue
            try:
                Job.renew(held, self.lease)
                self._outages["lease renewal"].ok()
            except Exception as e:  # the database is down: the sweeper may send them again; harmless
                self._outages["lease renewal"].failed(e)
            finally:
                close_connection()

    def _hold(self, jobs) -> None:
        with self._lock:
            self._held.update((str(job.id), job.attempts) for job in jobs)

    def _release(self, job_ids) -> None:
        with self._lock:
            for job_id in job_ids:
                self._held.pop(job_id, None)

    def run_batch(self, items: list[tuple[str, Future]]) -> None:
        """Fresh jobs run together and are saved together; a job started before (its worker may have died
        on it) is claimed, run and saved alone, least attempted first, so a poison input cannot take the
        jobs delivered with it down again."""
        self._start(self._loop, looping=False)
        self._deadline = time.monotonic() + self.batch_timeout
        futures: dict[str, list[Future]] = defaultdict(list)
        for job_id, future in items:
            futures[job_id].append(future)
        hint = self._take_hint(items)
        try:
            if hint is not None:
                fresh, ahead = self._claimer.run_ahead(items[0][0], hint, self._run)
            else:
                fresh, ahead = self._claim(list(futures)), None
            self._step()
            fresh_ids = {str(job.id) for job in fresh}
            metrics.started(fresh)
            kept = ahead is not None and bool(fresh) and hints.matches(fresh[0], hint)
            if ahead is not None:
                metrics.ran_ahead(hint[0], kept)  # the hint's model
            if kept:
                self._save(futures, [(fresh[0], outcome) for _, outcome in ahead])
            elif fresh:
                outcomes = [o for group in groups(fresh) for o in self._run(group)]
                if len(items) == 1:  # at idle: saved here, a thread hop sooner; under load, by the writer
                    self._save(futures, outcomes)
                else:
                    self._loop.writes.put(({i: futures.pop(i) for i in fresh_ids}, outcomes))
            started_before = [i for i in futures if i not in fresh_ids]
            for job in Job.unfinished(started_before) if started_before else ():
                claimed = Job.claim(job.id, lease=self.lease)
                if claimed is None:
                    continue
                metrics.started([claimed])
                self._hold([claimed])
                if claimed.attempts > MAX_STARTS:
                    self._save(futures, [(claimed, crashed(claimed))])
                else:
                    self._save(futures, self._run(Group(claimed.model, claimed.task, claimed.parameters, [claimed])))
            self._outages["batch"].ok()
        except Exception as e:  # the database is down: every message not yet answered is retried
            self._outages["batch"].failed(e)
            self._release(list(futures))
            fail_all(futures, e)
        finally:
            close_connection()  # back to the pool between batches
            for waiting in futures.values():  # finished, canceled or unknown jobs: nothing to do
                resolve(waiting, None)
        self.batches += 1

    def _take_hint(self, items: list[tuple[str, Future]]) -> list | None:
        """The hint of a batch of one hinted job (`actors.hints`); a batch of several drops its jobs' hints."""
        taken = [self._hints.pop(job_id, None) for job_id, _ in items] if self._hints else [None]
        return taken[0] if len(taken) == 1 else None

    def _claim(self, job_ids: list[str], started: dt.datetime | None = None) -> list[Job]:
        """Claim the fresh ones of `job_ids` (taken up at `started`, by default now) and hold their leases
        (renewed from now on)."""
        fresh = Job.claim_fresh(job_ids, lease=self.lease, started=started)
        self._hold(fresh)
        return fresh

    def _save(self, futures: dict[str, list[Future]], outcomes: list[tuple[Job, dict | Exception | None]]) -> None:
        """Write the outcomes (None: not reached within the batch's time bound; an exception: the worker could
        not run it; either way its message is retried)."""
        done = [(job, fields) for job, fields in outcomes if isinstance(fields, dict)]
        Job.yield_leases({str(job.id): job.attempts for job, fields in outcomes if not isinstance(fields, dict)})
        if done:
            metrics.finished(done, Job.finish_many(done))
            self.jobs += len(done)
            if self.on_saved is not None and (hooked := [job.id for job, _ in done if job.webhook]):
                self.on_saved(hooked)
        self._release([str(job.id) for job, _ in outcomes])
        for job, fields in outcomes:
            waiting = futures.pop(str(job.id), [])
            if not isinstance(fields, dict):
                error = fields or BatchTimeout(f"the batch ran past its bound of {self.batch_timeout} s")
                for future in waiting:
                    future.set_exception(error)
            else:
                resolve(waiting, True)

    def _run(self, group: Group) -> list[tuple[Job, dict | None]]:
        self._step()  # each run a step: a batch may take its whole bound, a run never
        started = time.perf_counter()
        if time.monotonic() > self._deadline:
            return [(job, None) for job in group.jobs]  # not reached in time: retried
        try:
            model = self.runtimes.get(group.model)
            step, deadline = self._step, self._deadline
            if len(group.jobs) == 1:  # a model of several runs a call (generation) checks the deadline between them
                inputs = group.jobs[0].inputs
                outputs = [model(inputs, task=group.task, deadline=deadline, step=step, **group.parameters)]
            else:
                limit = self.runtimes.catalog.models[group.model].max_batch_size
                texts = [text for job in group.jobs for text in job.inputs]
                ran = run_sorted(model, texts, limit, deadline=deadline, step=step, task=group.task, **group.parameters)
                outputs = split_outputs(ran, group.jobs)
        except BatchTimeout as e:
            seconds = time.perf_counter() - started
            if len(group.jobs) > 1 or seconds < self.batch_timeout / 2:  # it shared the bound: retried (alone)
                return [(job, None) for job in group.jobs]
            metrics.failed_run(group.model, e)  # alone for most of the bound: its own failure, not retried
            logger.warning("job %s ran past the time bound alone (%.1f s): failed", group.jobs[0].id, seconds)
            return [(group.jobs[0], outran(group.jobs[0], self.batch_timeout, seconds))]
        except ModelUnavailable as e:  # the worker's fault, not the jobs': their messages are retried
            metrics.failed_run(group.model, e)
            return [(job, e) for job in group.jobs]
        except Exception as e:
            metrics.failed_run(group.model, e)
            if len(group.jobs) > 1:  # find the input at fault: each job on its own
                alone = [Group(group.model, group.task, group.parameters, [job]) for job in group.jobs]
                return [outcome for single in alone for outcome in self._run(single)]
            logger.warning("job %s failed: %s", group.jobs[0].id, type(e).__name__)
            logger.debug("job %s failed: %s", group.jobs[0].id, e)  # the message may quote the input
            failed = {"status": Status.FAILED, "failure": Failure.MODEL_ERROR, "error": f"{type(e).__name__}: {e}"}
            return [(group.jobs[0], failed)]
        seconds = time.perf_counter() - started
        metrics.ran(group.model, outputs, seconds)
        elapsed = round(seconds * 1000, 3)
        return [(job, succeeded(output, elapsed)) for job, output in zip(group.jobs, outputs, strict=True)]
