"""The inference actor: thin and idempotent. It takes a job id, never the job's data."""

from __future__ import annotations

import logging
import time

import dramatiq

from db import Job, Status

logger = logging.getLogger(__name__)

QUEUE = "inference"
ACTOR = "inference"
OPTIONS = {
    "max_retries": 5,  # transient faults (database, broker) only; model errors fail the job at once
    "min_backoff": 1_000,
    "max_backoff": 30_000,
    "time_limit": 300_000,  # well below RabbitMQ's consumer_timeout (30 min)
}


def declare(broker: dramatiq.Broker, runtimes=None) -> dramatiq.Actor:
    """Register the actor on `broker`. `runtimes` is None in the API process, which only sends."""

    def inference(job_id: str) -> None:
        if runtimes is None:
            raise RuntimeError("this process only sends inference messages; it has no models loaded")
        job = Job.claim(job_id)
        if job is None:
            logger.info("job %s is finished, canceled or unknown: skipped", job_id)
            return
        started = time.perf_counter()
        try:
            model = runtimes.get(job.model)
            output = model(job.inputs, task=job.task, **job.parameters)
        except Exception as e:  # the model or the input: retrying would fail the same way
            logger.warning("job %s failed: %s", job_id, e)
            job.finish(Status.FAILED, error=f"{type(e).__name__}: {e}")
            return
        job.finish(Status.SUCCEEDED, output=output, inference_ms=round((time.perf_counter() - started) * 1000, 3))

    return dramatiq.actor(inference, broker=broker, actor_name=ACTOR, queue_name=QUEUE, **OPTIONS)
