"""Webhook deliveries are recorded in the transaction that finishes their job (db/jobs/moves.py, db/webhooks.py)."""

import datetime as dt

import pytest

from db import Failure, Job, Status, WebhookDelivery
from db.base import utcnow
from db.webhooks import Delivery, attempt, claim_unsent, lost, outcome

URL = "https://example.org/hook"


def hooked(events="succeeded,failed,canceled", **fields) -> Job:
    return Job.create(model="m", task="feature-extraction", inputs=["x"], webhook=URL, webhook_events=events, **fields)


def deliveries(job: Job) -> list[tuple[str, str]]:
    return [(d.event, d.status) for d in WebhookDelivery.select().where(WebhookDelivery.job == job.id)]


def test_each_way_a_job_finishes_records_one_pending_delivery(database):
    succeeded, failed, canceled, batch = hooked(), hooked(), hooked(), hooked()
    Job.claim(succeeded.id).finish(Status.SUCCEEDED, output=[{"x": 1}])
    Job.fail(failed.id, Failure.LOST, "lost")
    Job.cancel(canceled.id)
    Job.finish_many([(Job.claim(batch.id), {"status": Status.SUCCEEDED, "output": [{"x": 2}]})])
    assert deliveries(succeeded) == deliveries(batch) == [("succeeded", Delivery.PENDING)]
    assert deliveries(failed) == [("failed", Delivery.PENDING)]
    assert deliveries(canceled) == [("canceled", Delivery.PENDING)]
    assert not Job.cancel(canceled.id)  # a second move changes nothing and records nothing
    assert len(deliveries(canceled)) == 1


def test_a_job_without_a_webhook_or_the_event_records_nothing(database):
    plain = Job.create(model="m", task="feature-extraction", inputs=["x"])
    only_failures = hooked(events="failed")
    Job.cancel(plain.id)
    Job.cancel(only_failures.id)
    assert WebhookDelivery.select().count() == 0


def test_a_delivery_is_written_or_rolled_back_with_its_job(database):
    job = hooked()
    with pytest.raises(RuntimeError), database.atomic():
        Job.cancel(job.id)
        raise RuntimeError("the transaction fails after the move")
    assert Job.get_by_id(job.id).status == Status.QUEUED
    assert deliveries(job) == []


def test_unsent_deliveries_are_claimed_once(database):
    job = hooked()
    Job.cancel(job.id)
    assert len(claim_unsent([job.id])) == 1
    assert claim_unsent([job.id]) == []


def test_a_delivery_with_no_sign_of_life_for_the_quiet_time_counts_as_lost(database):
    job = hooked()
    Job.cancel(job.id)
    (delivery_id,) = claim_unsent([job.id])
    quiet = dt.timedelta(minutes=10)
    assert lost(quiet) == []  # sent just now: its message may be in the queue
    WebhookDelivery.update(sent_at=utcnow() - quiet * 2, created_at=utcnow() - quiet * 2).execute()
    assert lost(quiet) == [delivery_id]
    assert lost(quiet) == []  # marked sent again
    attempt(delivery_id)
    outcome(delivery_id, status=Delivery.DELIVERED, status_code=200)
    WebhookDelivery.update(sent_at=utcnow() - quiet * 2, attempted_at=utcnow() - quiet * 2).execute()
    assert lost(quiet) == []  # delivered: never again
