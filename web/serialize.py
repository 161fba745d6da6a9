"""The job as the API shows it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from db import Job, Status


def timestamp(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="milliseconds") + "Z"


def job_view(job: Job) -> dict[str, Any]:
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
    if job.status == Status.SUCCEEDED:
        view["output"] = job.output
    if job.error:
        view["error"] = job.error
    return view
