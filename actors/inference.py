"""The inference actor: thin and idempotent. It takes job ids (one, or the jobs the API accepted
together), never the jobs' data, and returns once their outcomes are saved (the message is acked after
that: Dramatiq's late acks). On RabbitMQ the worker's consumer gives the messages to the batcher itself,
with the same hooks and acks and no thread parked per message (`actors.rabbitmq.dispatch`); this function
runs them where Dramatiq's worker threads do (the embedded mode's StubBroker). In both, the batcher's
`batch_timeout` bounds a message's work, and the actor's time limit is derived from it (`actors.limits`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import dramatiq

if TYPE_CHECKING:  # the sending side (the API) never loads the batcher, nor the worker's metrics
    from actors.batching import Batcher

WAIT_STEP = 0.5  # seconds; a thread blocked in one long wait could not be interrupted by the time limit
QUEUE = "inference"
ACTOR = "inference"
OPTIONS = {
    "max_retries": 5,  # transient faults (database, broker) only; model errors fail the job at once
    "min_backoff": 1_000,
    "max_backoff": 30_000,
}  # time_limit: derived from the batcher's bound (`actors.limits`), where a batcher runs the actor


def declare(broker: dramatiq.Broker, batcher: Batcher | None = None) -> dramatiq.Actor:
    """Register the actor on `broker`. `batcher` is None in the API process, which only sends."""

    def inference(*job_ids: str) -> None:
        """One message carries one job id, or the ids of the jobs the API accepted together."""
        if batcher is None:
            raise RuntimeError("this process only sends inference messages; it has no models loaded")
        futures = batcher.submit_many(job_ids)  # finished, canceled and unknown jobs resolve at once: skipped
        for future in futures:
            while True:  # short waits: Dramatiq's time limit (an exception raised in this thread) lands between them
                try:
                    future.result(timeout=WAIT_STEP)
                    break
                except TimeoutError:
                    continue

    options = dict(OPTIONS)
    if batcher is not None:
        from actors.limits import actor_time_limit_ms  # the sending side (the API) needs no time limit

        options["time_limit"] = actor_time_limit_ms(batcher.batch_timeout)
    return dramatiq.actor(inference, broker=broker, actor_name=ACTOR, queue_name=QUEUE, **options)
