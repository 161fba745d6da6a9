"""Webhook delivery (actors/webhooks.py, actors/delivery.py): a real Dramatiq worker on a StubBroker posts
to a real HTTP receiver that checks every signature; a first answer of 500 is retried with backoff."""

import contextlib
import datetime as dt

import dramatiq
import pytest
from prometheus_client import REGISTRY

from actors import webhooks
from actors.delivery import Deliverer
from actors.sending import open_sender
from actors.setup import worker_sender
from actors.sweeper import sweep
from core.owners import owner_id, webhook_secret
from db import Failure, Job, Status
from db.base import utcnow
from db.webhooks import Delivery, WebhookDelivery
from tests.doubles import FakeModel, FakeRuntimes
from tests.webhook_receiver import new_secret, receiver

SECRET = new_secret()


@pytest.fixture
def fast_retries(monkeypatch):
    monkeypatch.setitem(webhooks.OPTIONS, "min_backoff", 50)  # the test waits 50 to 100 ms, not 2 to 4 s


def hooked_job(url: str, events: str = "succeeded,failed,canceled", **fields) -> Job:
    return Job.create(
        model="all-MiniLM-L6-v2", task="feature-extraction", inputs=["hi"], webhook=url, webhook_events=events, **fields
    )


def delivery_of(job: Job) -> WebhookDelivery:
    return WebhookDelivery.get(WebhookDelivery.job == job.id)


def test_a_finished_job_is_delivered_signed_and_retried_after_a_500(database, stub_worker, fast_retries):
    with receiver(SECRET, answers=[500, 204]) as hooks:
        actors = worker_sender("stub://", FakeRuntimes(FakeModel()), webhook_secret=SECRET, webhook_allow_private=True)
        stub_worker(actors.broker)
        job = hooked_job(hooks.url)
        actors.send(job.id)
        first, second = hooks.wait_for(2)
        actors.broker.join(webhooks.QUEUE, timeout=10_000)
    assert [call.answered for call in hooks.calls] == [500, 204]
    assert first.payload is not None and second.payload is not None  # both verify with the secret
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == f"msg_{delivery_of(job).id.hex}"
    assert second.payload["type"] == "inference.succeeded"
    assert second.payload["data"]["id"] == str(job.id)
    assert second.payload["data"]["output"] == [{"embedding": [2.0]}]
    delivery = delivery_of(job)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (Delivery.DELIVERED, 2, 204)
    assert delivery.delivered_at is not None


def test_only_the_events_asked_for_are_delivered(database, stub_worker):
    with receiver(SECRET) as hooks:
        actors = worker_sender("stub://", FakeRuntimes(FakeModel()), webhook_secret=SECRET, webhook_allow_private=True)
        stub_worker(actors.broker)
        quiet, loud = hooked_job(hooks.url, events="failed"), hooked_job(hooks.url, events="succeeded")
        actors.send(quiet.id)
        actors.send(loud.id)
        actors.broker.join(actors.actor.queue_name, timeout=10_000)
        actors.broker.join(webhooks.QUEUE, timeout=10_000)
    assert [call.payload["data"]["id"] for call in hooks.calls] == [str(loud.id)]
    assert WebhookDelivery.select().where(WebhookDelivery.job == quiet.id).count() == 0


def test_a_receiver_that_keeps_failing_is_given_up_after_the_last_attempt(database):
    with receiver(SECRET, answers=[503]) as hooks:
        job = hooked_job(hooks.url, status=Status.QUEUED)
        Job.cancel(job.id)
        deliver = Deliverer(SECRET, allow_private=True, max_attempts=2)
        with pytest.raises(dramatiq.Retry):
            deliver(str(delivery_of(job).id))
        deliver(str(delivery_of(job).id))  # the last attempt: recorded, not retried
        deliver(str(delivery_of(job).id))  # a duplicate message: nothing sent
    assert len(hooks.calls) == 2
    delivery = delivery_of(job)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (Delivery.FAILED, 2, 503)
    assert delivery.last_error == "answered 503"


def test_a_private_address_is_refused_at_delivery_time_without_retrying(database):
    with receiver(SECRET) as hooks:
        job = hooked_job(hooks.url.replace("http://", "https://"))
        Job.cancel(job.id)
        Deliverer(SECRET, allow_private=False)(str(delivery_of(job).id))
    assert hooks.calls == []
    delivery = delivery_of(job)
    assert delivery.status == Delivery.FAILED and "private, loopback" in delivery.last_error


def test_a_receiver_that_does_not_answer_counts_as_a_failed_attempt(database):
    job = hooked_job("http://127.0.0.1:9/nobody-listens")
    Job.cancel(job.id)
    with pytest.raises(dramatiq.Retry):
        Deliverer(SECRET, allow_private=True)(str(delivery_of(job).id))
    delivery = delivery_of(job)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (Delivery.PENDING, 1, None)
    assert delivery.last_error.startswith("ConnectError")


def test_a_job_failed_as_lost_by_the_sweeper_sends_its_webhook(database):
    actors = open_sender("stub://")
    job = hooked_job("https://example.org/hook", created_at=utcnow().replace(year=2000), sweeps=3)
    assert sweep(actors, queued_after=webhooks.QUIET).failed == 1
    assert Job.get_by_id(job.id).failure == Failure.LOST
    assert actors.broker.queues[webhooks.QUEUE].qsize() == 1
    assert delivery_of(job).sent_at is not None


def test_the_sweeper_sends_again_a_delivery_whose_message_was_lost(database):
    actors = open_sender("stub://")
    job = hooked_job("https://example.org/hook")
    Job.cancel(job.id)  # a delivery recorded, its message never sent (the process died after the commit)
    WebhookDelivery.update(created_at=utcnow() - webhooks.QUIET).execute()
    assert sweep(actors, queued_after=webhooks.QUIET).webhooks == 1
    assert actors.broker.queues[webhooks.QUEUE].qsize() == 1
    assert sweep(actors, queued_after=webhooks.QUIET).webhooks == 0  # sent: not again before QUIET passes


def test_a_tenants_webhooks_are_signed_with_its_own_secret(database):
    owner = owner_id("key-of-tenant-a")
    with receiver(webhook_secret(SECRET, owner)) as own, receiver(SECRET) as server_wide:
        for hooks in (own, server_wide):
            job = hooked_job(hooks.url, owner=owner)
            Job.cancel(job.id)
            with contextlib.suppress(dramatiq.Retry):  # the server-wide receiver answers 401: retried
                Deliverer(SECRET, allow_private=True)(str(delivery_of(job).id))
    assert own.calls[0].payload is not None  # verifies with the tenant's secret
    assert server_wide.calls[0].payload is None  # and not with WEBHOOK_SECRET itself


def test_a_host_that_does_not_resolve_at_delivery_time_is_retried_not_given_up(database):
    job = hooked_job("https://no-such-host.invalid/hook")
    Job.cancel(job.id)
    with pytest.raises(dramatiq.Retry):
        Deliverer(SECRET, allow_private=False)(str(delivery_of(job).id))
    delivery = delivery_of(job)
    assert (delivery.status, delivery.attempts) == (Delivery.PENDING, 1)
    assert "does not resolve" in delivery.last_error


def test_delivery_attempts_are_counted_by_outcome(database):
    def count(outcome):
        return REGISTRY.get_sample_value("inference_api_webhook_attempts_total", {"outcome": outcome}) or 0.0

    before = {name: count(name) for name in ("delivered", "retried")}
    with receiver(SECRET, answers=[500, 204]) as hooks:
        job = hooked_job(hooks.url)
        Job.cancel(job.id)
        deliver = Deliverer(SECRET, allow_private=True)
        with pytest.raises(dramatiq.Retry):
            deliver(str(delivery_of(job).id))
        deliver(str(delivery_of(job).id))
    assert count("retried") == before["retried"] + 1
    assert count("delivered") == before["delivered"] + 1


def test_a_delivery_whose_send_raised_anything_is_left_unsent_for_the_next_sweep(database, monkeypatch):
    actors = open_sender("stub://")
    job = hooked_job("https://example.org/hook")
    Job.cancel(job.id)  # a delivery recorded, its message not sent yet

    def broken(*args, **kwargs):
        raise KeyError("not a broker error: what Dramatiq's reconnect loop once raised")

    monkeypatch.setattr(actors.webhooks, "send", broken)
    assert actors.deliver_webhooks([job.id]) == 0
    assert delivery_of(job).sent_at is None  # not marked sent: the sweeper's next pass sends it, no long wait
    monkeypatch.undo()
    WebhookDelivery.update(created_at=utcnow() - dt.timedelta(seconds=10)).execute()
    assert sweep(actors, queued_after=webhooks.QUIET).webhooks == 1


def test_delivery_logs_above_debug_name_neither_the_receiver_nor_its_error(database, caplog):
    """A webhook's address is the tenant's data: a refusal or a give-up says so at warning, the host and the
    error's text only at debug."""
    caplog.set_level("DEBUG", logger="actors.delivery")
    refused = hooked_job("https://127.0.0.1:9/refused-host")
    given_up = hooked_job("http://127.0.0.1:9/given-up-host")
    for job in (refused, given_up):
        Job.cancel(job.id)
    Deliverer(SECRET, allow_private=False)(str(delivery_of(refused).id))
    Deliverer(SECRET, allow_private=True, max_attempts=1)(str(delivery_of(given_up).id))
    assert {delivery_of(job).status for job in (refused, given_up)} == {Delivery.FAILED}
    loud = " ".join(r.getMessage() for r in caplog.records if r.levelno > 10)
    quiet = " ".join(r.getMessage() for r in caplog.records if r.levelno <= 10)
    assert "refused" in loud and "failed after 1 attempts" in loud
    assert "127.0.0.1" not in loud and "ConnectError" not in loud
    assert "127.0.0.1" in quiet and "ConnectError" in quiet
