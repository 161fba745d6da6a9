"""The inference actor: thin and idempotent. It takes a job id, never the job's data, and returns once
the job's outcome is saved (the message is acked after that: Dramatiq's late acks)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import dramatiq

if TYPE_CHECKING:  # the sending side (the API) never loads the batcher, nor the worker's metrics
    from actors.batching import Batcher

QUEUE = "inference"
ACTOR = "inference"
OPTIONS = {
    "max_retries": 5,  # transient faults (database, broker) only; model errors fail the job at once
    "min_backoff": 1_000,
    "max_backoff": 30_000,
    "time_limit": 300_000,  # well below RabbitMQ's consumer_timeout (30 min)
}


def declare(broker: dramatiq.Broker, batcher: Batcher | None = None) -> dramatiq.Actor:
    """Register the actor on `broker`. `batcher` is None in the API process, which only sends."""

    def inference(job_id: str) -> None:
        if batcher is None:
            raise RuntimeError("this process only sends inference messages; it has no models loaded")
        batcher.submit(job_id).result()  # finished, canceled and unknown jobs resolve at once: skipped

    return dramatiq.actor(inference, broker=broker, actor_name=ACTOR, queue_name=QUEUE, **OPTIONS)
