"""The job as clients see it: the API's answers and the webhooks' payloads are built here, so both show
the same object."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from db.jobs import Job
from db.lifecycle import Status
from db.webhooks import WebhookDelivery


def timestamp(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="milliseconds") + "Z"


def job_view(
    job: Job, *, inputs: bool = False, output: bool = True, deliveries: Iterable[WebhookDelivery] | None = None
) -> dict[str, Any]:
    """The job, with its `inputs` (and `parameters`) if asked, its `output` when succeeded unless told not
    to (listings), and its webhook's deliveries when given. Erased jobs have neither inputs nor output."""
    view: dict[str, Any] = {
        "id": str(job.id),
        "status": job.status,
        "model": job.model,
        "task": job.task,
        "created_at": timestamp(job.created_at),
        "started_at": timestamp(job.started_at),
        "finished_at": timestamp(job.finished_at),
        "attempts": job.attempts,
        "timings": {"queue_ms": job.queue_ms, "inference_ms": job.inference_ms},
    }
    if job.deleted_at is not None:
        view["deleted_at"] = timestamp(job.deleted_at)  # by the client: inputs and output are gone
    if job.purged_at is not None:
        view["purged_at"] = timestamp(job.purged_at)  # after RESULT_TTL: inputs and output are gone
    if inputs and not job.erased:
        view["inputs"] = job.inputs
        view["parameters"] = job.parameters
    if job.status == Status.SUCCEEDED and output and not job.erased:
        view["output"] = job.output
    if job.error:
        view["error"] = job.error
    if job.webhook:
        view["webhook"] = {"url": job.webhook, "events": job.events}
        if deliveries is not None:
            view["webhook"]["deliveries"] = [delivery_view(d) for d in deliveries]
    return view


def delivery_view(delivery: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": f"msg_{delivery.id.hex}",
        "event": delivery.event,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "delivered_at": timestamp(delivery.delivered_at),
    }
