"""The batch keeper: moves batches along. Each pass (every second, on a thread of the sweeper's process, and
of the embedded mode's sweeper):

- sends again the released jobs whose message the broker refused (`resend`), before it judges any batch
  done: such a job is marked never enqueued, not answered;
- releases waiting requests of batches `in_progress` as jobs on the bulk lane (`actors.bulk`) while fewer
  than `in_flight` released jobs are still queued, `chunk` requests per key in turn (the key with the fewest
  jobs under way first), so the lane's queue stays short and the keys behind several batches take turns
  (docs/batches.md#the-bulk-lane);
- ends a batch whose every line is answered: `finalizing`, its output and error files written, `completed`;
- ends a batch asked to cancel (`cancelling`), or past its completion window (`expired`): its unfinished
  jobs canceled, what finished written, the rest answered in the error file;
- fails a batch stuck `validating` (its API process died while reading the file).

A pass that fails (the database or the broker is down) is logged once per outage and the next one carries
on: every step is taken again from what the database says. A released job whose message the broker
refused is marked never enqueued (`actors.bulk.send`) and sent again by the next pass that reaches the
broker; one whose message was lost otherwise stays queued, and the sweeper sends it again on the bulk lane."""

from __future__ import annotations

import datetime as dt
import logging
import threading

from actors import bulk
from actors.batch_output import write_results
from actors.bulk_metrics import observe
from actors.connection import close_connection
from core.outage import Outage
from db import Job
from db.base import utcnow
from db.bulk import Batch, BatchStatus
from db.bulk import lane as lanes

logger = logging.getLogger(__name__)

IN_FLIGHT = 1024  # released bulk jobs queued at most, across all batches
OBSERVE_EVERY = 10  # passes between two readings of the lane's metrics (Prometheus scrapes less often)
FORGET_EVERY = 60  # passes between two readings of every batch from its first line (`db.bulk.lane.forget`)
CHUNK = 256  # requests released per key and turn
VALIDATION_BOUND = dt.timedelta(minutes=30)  # a batch validating longer than this lost its API process
ACTIVE = (BatchStatus.VALIDATING, BatchStatus.IN_PROGRESS, BatchStatus.FINALIZING, BatchStatus.CANCELLING)


def keep(
    broker, *, in_flight: int = IN_FLIGHT, chunk: int = CHUNK, now: dt.datetime | None = None, observing: bool = True
) -> int:
    """One pass; returns how many jobs it released. The lane's metrics are read with `observing` (each read
    goes over the running batches' lines: the keeper does it every few passes) and before a batch ends."""
    now = now or utcnow()
    resend(broker)  # before any batch is judged done; raises while the broker still refuses
    endings = []
    for batch in Batch.select().where(Batch.status.in_(ACTIVE)).order_by(Batch.created_at):
        if batch.status == BatchStatus.CANCELLING:
            endings.append((batch, BatchStatus.CANCELLED, "batch_cancelled"))
        elif batch.status == BatchStatus.VALIDATING and batch.created_at < now - VALIDATION_BOUND:
            error = {"code": "validation_interrupted", "message": "the input file's validation was interrupted"}
            batch.move(
                BatchStatus.FAILED, sources=(BatchStatus.VALIDATING,), errors={"object": "list", "data": [error]}
            )
        elif batch.status == BatchStatus.IN_PROGRESS and batch.expires_at < now:
            endings.append((batch, BatchStatus.EXPIRED, "batch_expired"))
        elif batch.status == BatchStatus.FINALIZING or (batch.status == BatchStatus.IN_PROGRESS and done(batch.id)):
            endings.append((batch, BatchStatus.COMPLETED, "batch_cancelled"))
    if observing or endings:
        observe(now)  # before a batch ends: its jobs are counted
    for batch, target, unanswered in endings:
        end(batch, target, unanswered)
    return release(broker, in_flight=in_flight, chunk=chunk)


def done(batch_id: str) -> bool:
    return not lanes.has_unreleased(batch_id) and not lanes.unfinished_jobs(batch_id)


def resend(broker) -> int:
    """Queue again and send the released jobs whose message the broker refused; returns how many. Raises
    when it refuses again (`bulk.send` marks them again)."""
    sent = 0
    for owner, job_ids in lanes.unsent().items():
        requeued = [job_id for job_id in job_ids if Job.requeue(job_id)]
        bulk.send(broker, owner, requeued)
        sent += len(requeued)
    return sent


def release(broker, *, in_flight: int = IN_FLIGHT, chunk: int = CHUNK) -> int:
    """Release requests as jobs on the bulk lane, a `chunk` per key in turn, until `in_flight` are queued."""
    room = in_flight - lanes.in_flight()
    batch_ids = lanes.active_ids()
    owners = lanes.owners_waiting(batch_ids) if room > 0 and batch_ids else []
    if owners:  # the key with the fewest jobs under way first: turns carry over from one pass to the next
        under_way = lanes.unfinished_by_owner()
        owners.sort(key=lambda owner: (under_way.get(owner, 0), owner))
    released = 0
    while room > 0 and owners:
        for owner in list(owners):
            requests = list(lanes.waiting(batch_ids, owner=owner, limit=min(chunk, room)))
            if not requests:
                owners.remove(owner)
                continue
            jobs = lanes.release(requests)
            bulk.send(broker, owner, [job.id for job in jobs])  # committed first: a worker finds every row
            room -= len(jobs)
            released += len(jobs)
            if room <= 0:
                break
    return released


def end(batch: Batch, target: str, unanswered: str) -> None:
    """Write the batch's files and move it to `target` (its unfinished jobs canceled first, unless it
    completed: then it has none)."""
    if target == BatchStatus.COMPLETED:
        if not batch.move(BatchStatus.FINALIZING, sources=(BatchStatus.IN_PROGRESS, BatchStatus.FINALIZING)):
            return
    else:
        for job_id in lanes.unfinished_jobs(batch.id):
            Job.cancel(job_id)
    sources = (BatchStatus.FINALIZING, BatchStatus.IN_PROGRESS, BatchStatus.CANCELLING)

    def moved(results) -> bool:  # in the transaction that creates the files' rows
        return batch.move(
            target,
            sources=sources,
            output_file_id=results.output_file_id,
            error_file_id=results.error_file_id,
            completed=results.completed,
            failed=results.failed,
        )

    results = write_results(batch, unanswered, then=moved)
    logger.info("batch %s %s: %d answered, %d failed", batch.id, target, results.completed, results.failed)


class BatchKeeper(threading.Thread):
    """`keep` every `every` seconds until `stopping` is set; survives outages, logging each once. Beside a
    sweeper it reports its failures through the sweeper's `outage` and leaves the recovery to the sweeper's
    next good pass: the process logs an outage of its servers once, whichever loop met it first."""

    def __init__(
        self, sender, *, every: float = 1.0, stopping: threading.Event | None = None, outage: Outage | None = None
    ):
        super().__init__(name="batch-keeper", daemon=True)
        self.sender, self.every = sender, every
        self.stopping = stopping or threading.Event()
        self.shared = outage is not None
        self.outage = outage or Outage(logger, "batch keeping")

    def run(self) -> None:
        passes = 0
        while not self.stopping.wait(self.every):
            passes += 1
            if passes % FORGET_EVERY == 0:
                lanes.forget()
            self.keep_once(observing=passes % OBSERVE_EVERY == 1)

    def keep_once(self, *, observing: bool = True) -> int | None:
        try:
            released = keep(self.sender.broker, observing=observing)
        except Exception as e:  # the database or the broker is down: the next pass carries on
            lanes.forget()
            self.outage.failed(e)
            return None
        finally:
            close_connection()
        if not self.shared:
            self.outage.ok()
        return released
