"""The sweeper: jobs left queued too long (a lost message) or running with an expired lease (a worker that
died, or lost its database, while the broker kept no copy) are sent again, a bounded number of times,
then failed with the reason.

The rules (docs/reliability.md#the-sweeper says the same, with the argument):

- A running job is sent again only once its lease expired (its worker renews the lease while it works on
  it); each such re-send counts, and after `max_sweeps` of them the job is failed as lost.
- A queued job is judged by jobs, not by counting messages (a message carries a group of jobs, and the
  messages workers have prefetched are not counted by the broker). It is lost only when it has been queued
  longer than `queued_after` (since it was created or last sent again) and no message for it can still
  exist: the queue and its delay queue hold no ready message, and no worker can hold one unclaimed (the
  queue has no consumer, or no job runs under a live lease: a worker that took a message claims its jobs
  within milliseconds, so a worker holding unclaimed messages is one busy with a batch). Then it is sent
  again, and each such re-send counts toward `max_sweeps`.
- A batch's line (a job of the bulk lane) is judged by the bulk queue and sent again there, under the key
  its batch request names; the other jobs by the inference queue.

Sending again is always safe: the actor is idempotent and saves are fenced by the claim, so a job whose
first message was only slow runs once. It runs as `inference-api sweep` (a Kubernetes CronJob, or
`--every N` under a supervisor) and, in the embedded mode, as a thread; a loop survives outages of the
database or the broker and logs once each. It also sends again webhook deliveries whose message was lost
(delivery is at least once). Beside it, looping, runs the batch keeper (`actors.batch_keeper`).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass

from actors import bulk, inference, webhooks
from actors.batch_keeper import BatchKeeper
from actors.connection import close_connection
from actors.metrics import SWEEP_LOST, SWEEP_RESENDS
from core.outage import Outage
from db import Failure, Job, Status
from db.base import utcnow
from db.bulk.lane import owners_of as bulk_owners
from db.webhooks import lost as lost_deliveries

logger = logging.getLogger(__name__)


@dataclass
class SweepReport:
    resent: int = 0
    failed: int = 0
    waiting: int | None = None  # messages the broker held ready for the queue and its delay queue, when asked
    quiet: bool | None = None  # whether no message for a queued job could exist (asked only with stale ones)
    webhooks: int = 0

    def __str__(self) -> str:
        return (
            f"sweep: {self.resent} job(s) sent again, {self.failed} failed as lost, "
            f"{self.webhooks} webhook delivery(ies) sent again"
        )


def sweep(sender, *, queued_after: dt.timedelta, max_sweeps: int = 3) -> SweepReport:
    """One pass. Raises when the database or the broker is down (`Unavailable` for the broker); what it
    did not send is sent by the next pass. A batch's line (a job of the bulk lane) is judged by the bulk
    queue and sent again there, under its owner; the other jobs by the inference queue."""
    now = utcnow()
    report = SweepReport()
    stale = Job.stale(queued_before=now - queued_after, now=now)
    owners = bulk_owners([job.id for job in stale])  # job id -> its batch's owner, for a batch's lines
    quiet = {}  # queue -> whether no message for its queued jobs can exist
    if any(job.status == Status.QUEUED for job in stale):
        quiet = judge(sender, {queue_of(job, owners) for job in stale if job.status == Status.QUEUED}, now, report)
        stale = Job.stale(queued_before=now - queued_after, now=now)  # read again: claimed meanwhile, left out
        owners = bulk_owners([job.id for job in stale])
    for job in stale:
        if job.status == Status.QUEUED and not quiet.get(queue_of(job, owners), False):
            continue  # its message can still be in the queue or in a worker's hands: a backlog, not a loss
        if job.sweeps >= max_sweeps:
            reason = f"lost: sent {job.sweeps + 1} times and never finished (last seen {job.status})"
            failed = Job.fail(job.id, Failure.LOST, reason)
            report.failed += failed
            if failed:
                SWEEP_LOST.inc()
                sender.deliver_webhooks([job.id])  # nothing to do for a sender without the webhooks actor
            continue
        job.mark_swept()  # first mark, then send: a crash loses a send
        sender.resend(job, bulk_owner=owners.get(str(job.id)))
        report.resent += 1
        SWEEP_RESENDS.inc()
    if sender.webhooks is not None:
        report.webhooks = sender.send_deliveries(lost_deliveries(webhooks.QUIET))
    if report.resent or report.failed or report.webhooks:
        logger.info("%s", report)
    return report


def queue_of(job: Job, owners: dict[str, str]) -> str:
    return bulk.QUEUE if str(job.id) in owners else inference.QUEUE


def judge(sender, queues: set[str], now: dt.datetime, report: SweepReport) -> dict[str, bool]:
    """Whether no message for a queued job can still exist, per queue: the queue and its delay queue hold
    no ready message, and no worker can hold one unclaimed (the queue has no consumer, or no job runs
    under a live lease). `report` gets the ready messages of those queues and whether all are quiet."""
    quiet, report.waiting = {}, 0
    leased = None
    for queue in sorted(queues):
        if queue == bulk.QUEUE:
            bulk.bulk_actor(sender.broker)  # declared, so its queue is counted in a process that only sends
            waiting, consumers = sender.holding(queue)
        else:
            waiting, consumers = sender.holding()
        if waiting == 0 and consumers != 0 and leased is None:
            leased = Job.leased(now)
        quiet[queue] = waiting == 0 and (consumers == 0 or not leased)
        report.waiting += waiting
    report.quiet = all(quiet.values())
    return quiet


class Sweeper(threading.Thread):
    """Sweep every `every` seconds until stopped: `inference-api sweep --every N` runs it in the foreground,
    the embedded mode as a thread. A failed sweep (the database or the broker is down) is logged once per
    outage, and the loop carries on."""

    def __init__(self, sender, *, every: float, queued_after: dt.timedelta, max_sweeps: int, echo: bool = False):
        super().__init__(name="sweeper", daemon=True)
        self.sender, self.every, self.queued_after, self.max_sweeps = sender, every, queued_after, max_sweeps
        self.echo = echo  # print each report (the command's output)
        self.stopping = threading.Event()
        self.outage = Outage(logger, "sweep")
        self.keeper = BatchKeeper(sender, stopping=self.stopping, outage=self.outage)  # every second, beside the sweeps

    def run(self) -> None:
        if not self.keeper.is_alive():
            self.keeper.start()
        while not self.stopping.wait(self.every):
            self.sweep_once()

    def sweep_once(self) -> SweepReport | None:
        try:
            report = sweep(self.sender, queued_after=self.queued_after, max_sweeps=self.max_sweeps)
        except Exception as e:  # the database or the broker is down: try again next time
            self.outage.failed(e)
            return None
        finally:
            close_connection()
        self.outage.ok()
        if self.echo and (report.resent or report.failed):
            print(report, flush=True)
        return report

    def stop(self) -> None:
        self.stopping.set()
