"""Webhook deliveries: what to send, what was tried, and what the relay must send again.

A delivery row is written in the transaction that finishes its job (`record_deliveries`, called by the
job's moves).
Its message is sent after the commit; `claim_unsent` marks rows as sent so that only one process sends
each, and `lost` finds pending rows with no sign of life for longer than any retry waits, whose message
must have been lost (a crash between commit and send, a broker that dropped it): the sweeper sends those
again. Delivery is at least once: receivers dedupe on `webhook-id`, the delivery's id.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable

import peewee

from core.owners import OPEN
from db.base import BaseModel, utcnow
from db.jobs import Job


class Delivery:
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # retries ran out


DELIVERY_STATUSES = (Delivery.PENDING, Delivery.DELIVERED, Delivery.FAILED)


class WebhookDelivery(BaseModel):
    """One event of a job to deliver to its webhook: written in the transaction that finishes the job,
    so a finished job's delivery is never lost; its message is sent after the commit (and sent again by
    the sweeper when it was lost)."""

    id = peewee.UUIDField(primary_key=True, default=uuid.uuid4)  # also the `webhook-id`: receivers dedupe on it
    job = peewee.ForeignKeyField(Job, on_delete="CASCADE", backref="deliveries")
    event = peewee.CharField(max_length=16)  # the terminal status reached
    url = peewee.TextField()
    owner = peewee.CharField(max_length=32, default=OPEN)
    status = peewee.CharField(max_length=16, default=Delivery.PENDING, index=True)  # pending, delivered, failed
    attempts = peewee.IntegerField(default=0)
    last_status_code = peewee.IntegerField(null=True)
    last_error = peewee.TextField(null=True)
    created_at = peewee.DateTimeField(default=utcnow)
    sent_at = peewee.DateTimeField(null=True)  # when its message was last sent
    attempted_at = peewee.DateTimeField(null=True)  # when it was last tried
    delivered_at = peewee.DateTimeField(null=True)

    class Meta:
        table_name = "webhook_delivery"
        indexes = ((("job", "event"), True),)


def record_deliveries(finished: Iterable[tuple[Job, str]]) -> int:
    """Inside the transaction that finished these jobs (each with the status it reached): a pending delivery
    for each whose webhook asked for that status. A job without a webhook costs nothing (no query)."""
    rows = [
        {"job": job.id, "event": status, "url": job.webhook, "owner": job.owner, "created_at": utcnow()}
        for job, status in finished
        if job.webhook and status in job.events
    ]
    if rows:
        WebhookDelivery.insert_many(rows).on_conflict_ignore().execute()
    return len(rows)


def claim_unsent(job_ids: Iterable) -> list:
    """The ids of the pending deliveries of `job_ids` whose message was never sent, marked sent now."""
    ids = list(job_ids)
    if not ids:
        return []
    query = (
        WebhookDelivery.update(sent_at=utcnow())
        .where(
            WebhookDelivery.job.in_(ids)
            & (WebhookDelivery.status == Delivery.PENDING)
            & WebhookDelivery.sent_at.is_null()
        )
        .returning(WebhookDelivery.id)
    )
    return [row.id for row in query.execute()]


def unsend(delivery_ids: Iterable) -> None:
    """Their message could not be sent: leave them to the next sender (the sweeper)."""
    WebhookDelivery.update(sent_at=None).where(WebhookDelivery.id.in_(list(delivery_ids))).execute()


def lost(quiet_for: dt.timedelta, *, limit: int = 500) -> list:
    """Pending deliveries never sent, or neither sent nor tried for `quiet_for`, oldest first: their
    message is gone. Marked sent now, so concurrent sweepers do not both send them."""
    last_sign = peewee.fn.COALESCE(WebhookDelivery.attempted_at, WebhookDelivery.sent_at, WebhookDelivery.created_at)
    before = utcnow() - quiet_for
    stale = (
        WebhookDelivery.select(WebhookDelivery.id)
        .where(
            (WebhookDelivery.status == Delivery.PENDING)
            & (WebhookDelivery.sent_at.is_null() | (last_sign < before))
            & (WebhookDelivery.created_at < utcnow() - dt.timedelta(seconds=5))  # the finisher sends those
        )
        .order_by(WebhookDelivery.created_at)
        .limit(limit)
    )
    ids = [row.id for row in stale]
    if not ids:
        return []
    query = (
        WebhookDelivery.update(sent_at=utcnow())
        .where(WebhookDelivery.id.in_(ids) & (WebhookDelivery.status == Delivery.PENDING))
        .returning(WebhookDelivery.id)
    )
    return [row.id for row in query.execute()]


def attempt(delivery_id) -> WebhookDelivery | None:
    """Count an attempt of a pending delivery and return it (None: delivered or given up already)."""
    moved = (
        WebhookDelivery.update(attempts=WebhookDelivery.attempts + 1, attempted_at=utcnow())
        .where((WebhookDelivery.id == delivery_id) & (WebhookDelivery.status == Delivery.PENDING))
        .execute()
    )
    return WebhookDelivery.get_or_none(WebhookDelivery.id == delivery_id) if moved else None


def outcome(delivery_id, *, status: str, status_code: int | None = None, error: str | None = None) -> None:
    """Record what an attempt got: delivered, still pending (to retry) or failed for good."""
    fields = {"status": status, "last_status_code": status_code, "last_error": error}
    if status == Delivery.DELIVERED:
        fields["delivered_at"] = utcnow()
    WebhookDelivery.update(**fields).where(
        (WebhookDelivery.id == delivery_id) & (WebhookDelivery.status == Delivery.PENDING)
    ).execute()


def of_job(job: Job) -> list[WebhookDelivery]:
    return list(WebhookDelivery.select().where(WebhookDelivery.job == job.id).order_by(WebhookDelivery.created_at))
