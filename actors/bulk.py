"""The bulk lane's actor: a batch's jobs go to their own queue (`inference.bulk`), which a worker takes only
in the room interactive work leaves.

Its messages carry the owner (the API key behind the batch) first, then job ids: the worker's batcher puts
them in its bulk lane under that owner (`actors.lanes`), which its own loop runs at a lower CPU priority
(`actors.loops`). On RabbitMQ the lane's consumer holds two batches of jobs (`BulkSubmitter.max_jobs`, which
sets its dispatcher's prefetch); on the embedded StubBroker the actor's priority lets Dramatiq's worker
threads take interactive messages first.
The actor is declared by the worker (with its batcher) and, on first use, by any process that sends
(`bulk_actor`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import dramatiq
from dramatiq.errors import ActorNotFound

from actors.inference import OPTIONS, WAIT_STEP
from actors.lanes import BULK
from db import Job

if TYPE_CHECKING:
    from actors.batching import Batcher

QUEUE = "inference.bulk"
ACTOR = "inference_bulk"
PRIORITY = 100  # Dramatiq runs lower numbers first; the inference actor has 0
JOBS_PER_MESSAGE = 32


class BulkSubmitter:
    """What the bulk queue's dispatcher gives its messages to: the batcher's bulk lane. It holds as many jobs
    as the interactive lane does (a batch running, the next one ready: the bulk loop never waits on RabbitMQ
    between batches); the rest of a batch stays in RabbitMQ for the other workers."""

    def __init__(self, batcher: Batcher):
        self.batcher = batcher
        self.max_jobs = batcher.max_jobs

    def submit_many(self, args):
        owner, *job_ids = args
        return self.batcher.submit_many(job_ids, lane=BULK, owner=owner)


def declare(broker: dramatiq.Broker, batcher: Batcher | None = None) -> dramatiq.Actor:
    """Register the bulk actor on `broker`; `batcher` is None where the process only sends."""

    def inference_bulk(owner: str, *job_ids: str) -> None:
        if batcher is None:
            raise RuntimeError("this process only sends inference messages; it has no models loaded")
        for future in batcher.submit_many(job_ids, lane=BULK, owner=owner):
            while True:  # short waits: Dramatiq's time limit lands between them
                try:
                    future.result(timeout=WAIT_STEP)
                    break
                except TimeoutError:
                    continue

    options = dict(OPTIONS, priority=PRIORITY)
    if batcher is not None:
        from actors.limits import actor_time_limit_ms

        options["time_limit"] = actor_time_limit_ms(batcher.batch_timeout)
    return dramatiq.actor(inference_bulk, broker=broker, actor_name=ACTOR, queue_name=QUEUE, **options)


def bulk_actor(broker: dramatiq.Broker) -> dramatiq.Actor:
    """The broker's bulk actor, declared (to send only) if the worker setup did not."""
    try:
        return broker.get_actor(ACTOR)
    except ActorNotFound:
        return declare(broker)


def send(broker: dramatiq.Broker, owner: str, job_ids: list) -> None:
    """Send `job_ids` on the bulk lane, `JOBS_PER_MESSAGE` a message (broker-confirmed on RabbitMQ).

    When the broker does not take a message, its jobs and the ones after it are marked never enqueued, as
    the API marks a job whose message was refused (no job stays queued with no message for it), and the
    error is raised: the batch keeper sends them again (`actors.batch_keeper.resend`)."""
    actor = bulk_actor(broker)
    for start in range(0, len(job_ids), JOBS_PER_MESSAGE):
        try:
            actor.send(owner, *(str(job_id) for job_id in job_ids[start : start + JOBS_PER_MESSAGE]))
        except Exception:  # whatever the broker client raised: the rest were not sent
            for job_id in job_ids[start:]:
                Job.not_enqueued(job_id)
            raise
