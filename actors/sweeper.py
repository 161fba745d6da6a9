"""The sweeper: jobs left queued or running too long (a lost message, a worker that died while the broker
kept no copy) are sent again, a bounded number of times, then failed with the reason.

Sending again is always safe: the actor is idempotent, so a job whose first message was only slow runs
once. It runs as `inference-api sweep` (a Kubernetes CronJob, or `--every N`) and, in the embedded mode,
as a thread. It also relays webhook deliveries whose message was lost (at least once delivery).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass

from actors import webhooks
from actors.inference import OPTIONS
from actors.metrics import SWEEP_LOST, SWEEP_RESENDS
from core.errors import Unavailable
from db import Failure, Job, database
from db.models import utcnow
from db.webhooks import lost as lost_deliveries

logger = logging.getLogger(__name__)

# A running job cannot legitimately run longer than the actor's time limit, retries and backoff included.
RUNNING_GRACE = dt.timedelta(milliseconds=OPTIONS["time_limit"] + OPTIONS["max_backoff"]) * 2


@dataclass
class SweepReport:
    resent: int = 0
    failed: int = 0
    webhooks: int = 0

    def __str__(self) -> str:
        return (
            f"sweep: {self.resent} job(s) sent again, {self.failed} failed as lost, "
            f"{self.webhooks} webhook delivery(ies) sent again"
        )


def sweep(sender, *, queued_after: dt.timedelta, max_sweeps: int = 3) -> SweepReport:
    now = utcnow()
    report = SweepReport()
    for job in Job.stale(queued_before=now - queued_after, running_before=now - RUNNING_GRACE):
        if job.sweeps >= max_sweeps:
            reason = f"lost: sent {job.sweeps + 1} times and never finished (last seen {job.status})"
            failed = Job.fail(job.id, Failure.LOST, reason)
            report.failed += failed
            if failed:
                SWEEP_LOST.inc()
                if getattr(sender, "webhooks", None) is not None:
                    sender.deliver_webhooks([job.id])
            continue
        job.mark_swept()  # count first, then send: a crash in between loses a re-send, never the bound
        try:
            sender.resend(job)
        except Unavailable:
            logger.warning("sweep: broker unavailable; %s will be sent on the next sweep", job.id)
            break
        report.resent += 1
        SWEEP_RESENDS.inc()
    if getattr(sender, "webhooks", None) is not None:
        report.webhooks = sender.send_deliveries(lost_deliveries(webhooks.QUIET))
    if report.resent or report.failed or report.webhooks:
        logger.info("%s", report)
    return report


class Sweeper(threading.Thread):
    """Sweep every `every` seconds until stopped (embedded mode; production uses the CronJob)."""

    def __init__(self, sender, *, every: float, queued_after: dt.timedelta, max_sweeps: int):
        super().__init__(name="sweeper", daemon=True)
        self.sender, self.every, self.queued_after, self.max_sweeps = sender, every, queued_after, max_sweeps
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(self.every):
            try:
                sweep(self.sender, queued_after=self.queued_after, max_sweeps=self.max_sweeps)
            except Exception as e:  # the database may be down: try again next time
                logger.warning("sweep failed: %s", e)
            finally:
                if not database.is_closed():
                    database.close()
