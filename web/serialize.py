"""The job as the API shows it (built in `db.views`, shared with the webhooks' payloads)."""

from __future__ import annotations

from typing import Any

from db import Job
from db.views import job_view as _job_view
from db.views import timestamp
from db.webhooks import of_job

__all__ = ["job_view", "timestamp"]


def job_view(job: Job, *, inputs: bool = False, output: bool = True) -> dict[str, Any]:
    """The job with its webhook's deliveries (one more query, only for a job that has a webhook)."""
    return _job_view(job, inputs=inputs, output=output, deliveries=of_job(job) if job.webhook else None)
