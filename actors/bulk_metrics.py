"""The bulk lane's metrics, set by the batch keeper on each pass: its depth (requests waiting for their job
and released jobs not yet started), its throughput (bulk jobs finished) and its age (the oldest batch still
running)."""

from __future__ import annotations

import datetime as dt

from prometheus_client import Counter, Gauge

from db.bulk import Batch, BatchStatus
from db.bulk import lane as lanes

QUEUED = Gauge("inference_api_bulk_jobs_queued", "Bulk requests not yet started: unreleased or queued.")
FINISHED = Counter("inference_api_bulk_jobs_finished", "Bulk jobs finished (any final status).")
OLDEST = Gauge("inference_api_bulk_oldest_job_age_seconds", "Age of the oldest batch still in progress.")

_finished: dict[str, int] = {}  # batch id -> finished jobs counted so far


def observe(now: dt.datetime) -> None:
    batch_ids = lanes.active_ids()
    waiting = sum(lanes.unreleased_count(batch_id) for batch_id in batch_ids)
    QUEUED.set(waiting + lanes.in_flight())
    oldest = Batch.select(Batch.created_at).where(Batch.status == BatchStatus.IN_PROGRESS).order_by(Batch.created_at)
    first = oldest.first()
    OLDEST.set((now - first.created_at).total_seconds() if first else 0)
    for batch_id in batch_ids:
        count = lanes.finished_count(batch_id)
        if count > _finished.get(batch_id, 0):
            FINISHED.inc(count - _finished.get(batch_id, 0))
        _finished[batch_id] = count
    for gone in set(_finished) - set(batch_ids):
        del _finished[gone]
