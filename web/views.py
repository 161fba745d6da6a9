"""The job as clients see it: GET /inference/{id}, the listing and the answers of POST and cancel.

The job itself is rendered by `db.views.job_view`, which the webhooks' payloads (`actors.delivery`, on the
workers' side of the dependency arrows) show too: one rendering below both, so the two cannot differ.
A deleted or purged job is answered `410 Gone` (`gone`), never shown as a 200: its inputs and output
are gone, and its row stays only to say so (and to list it, with `deleted_at` or `purged_at`).
"""

from __future__ import annotations

from typing import Any

from db import Job
from db.views import job_view, timestamp
from db.webhooks import of_job


def full_view(job: Job) -> dict[str, Any]:
    """The job with its webhook's deliveries (one more query, only for a job that has a webhook)."""
    return job_view(job, deliveries=of_job(job) if job.webhook else None)


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
