"""The job as clients see it: GET /inference/{id}, the listing and the answers of POST and cancel.

The webhooks' payloads (`actors.delivery`) show the same object; `tests/web/test_views.py` holds the two
to the same output while the payload is still built on the workers' side of the dependency arrows.
A deleted or purged job is answered `410 Gone` (`gone`), never shown as a 200: its inputs and output
are gone, and its row stays only to say so (and to list it, with `deleted_at` or `purged_at`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from db import Job, Status
from db.models import WebhookDelivery
from db.webhooks import of_job


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


def full_view(job: Job) -> dict[str, Any]:
    """The job with its webhook's deliveries (one more query, only for a job that has a webhook)."""
    return job_view(job, deliveries=of_job(job) if job.webhook else None)


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


def gone(job: Job) -> str | None:
    """Why a job answers 410 Gone (None: it does not): deleted by its owner, or purged after RESULT_TTL."""
    if job.deleted_at is not None:
        return f"job {job.id} was deleted at {timestamp(job.deleted_at)}: its inputs and output are gone"
    if job.purged_at is not None:
        return (
            f"job {job.id} was purged at {timestamp(job.purged_at)}: its inputs and output are kept "
            "only for RESULT_TTL after it finishes"
        )
    return None
