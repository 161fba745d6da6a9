"""The sending side: what the API, the sweeper and the embedded start use to put jobs on the queue.

`Sender.enqueue` is the first send of a job; `Sender.resend` the one way to send a job again, used by
the sweeper, the embedded start and an idempotent replay. `Sender.deliver_webhooks` sends the webhook
messages of jobs that just finished (their delivery rows were written with their outcome).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import dramatiq
import pika.exceptions
from dramatiq.common import dq_name
from dramatiq.errors import BrokerError

from actors import hints, inference, webhooks
from actors.broker import DEFAULT_HEARTBEAT, make_broker, ping, queue_depths
from core.errors import Unavailable
from db import Job
from db.webhooks import claim_unsent, unsend

logger = logging.getLogger(__name__)


@dataclass
class Sender:
    broker: dramatiq.Broker
    actor: dramatiq.Actor
    webhooks: dramatiq.Actor | None = None
    batcher: Any = None  # a worker's `actors.batching.Batcher`; None in a process that only sends

    def deliver_webhooks(self, job_ids: Iterable) -> int:
        """Send the messages of these jobs' pending, unsent webhook deliveries; never raises (what cannot
        be sent now is sent by the sweeper). Returns how many were sent."""
        ids = list(job_ids)
        if self.webhooks is None:  # a sender built without the webhooks actor: the sweeper sends them
            return 0
        try:
            return self.send_deliveries(claim_unsent(ids))
        except Exception as e:  # the job's outcome is saved: a delivery is never worth failing it
            logger.warning(
                "webhooks: could not send deliveries of %d job(s) (%s); the sweeper will", len(ids), type(e).__name__
            )
            logger.debug("webhooks: sending deliveries failed: %s", e)
            return 0

    def send_deliveries(self, delivery_ids: list) -> int:
        """Send delivery messages; the ones the broker refuses are left for the next sweep."""
        for index, delivery_id in enumerate(delivery_ids):
            try:
                self.webhooks.send(str(delivery_id))
            except Exception as e:  # whatever the broker client raised: never leave a row marked sent, unsent
                logger.warning(
                    "webhooks: broker unavailable (%s); %d delivery(ies) left for the sweeper",
                    type(e).__name__,
                    len(delivery_ids) - index,
                )
                logger.debug("webhooks: the broker refused a delivery: %s", e)
                unsend(delivery_ids[index:])
                return index
        return len(delivery_ids)

    def send(self, *job_ids, hint: list | None = None) -> None:
        """Publish one message for these jobs; with RabbitMQ, returns only once the broker confirmed it.
        `hint`: a lone job's fields, for a worker to run it ahead of its claim (`actors.hints`)."""
        options = {} if hint is None else {hints.OPTION: hint}
        try:
            self.actor.send_with_options(args=tuple(str(job_id) for job_id in job_ids), **options)
        except (BrokerError, pika.exceptions.AMQPError, OSError) as e:
            raise Unavailable(f"the message broker is unavailable ({type(e).__name__})") from e

    def enqueue(self, *job_ids, hint: list | None = None) -> None:
        """Send queued jobs (one message for all of them); if the broker does not take it, the jobs are
        marked never enqueued (so nothing stays queued with no message) and `Unavailable` is raised."""
        try:
            self.send(*job_ids, hint=hint)
        except Unavailable:
            for job_id in job_ids:
                Job.not_enqueued(job_id)
            raise

    def resend(self, job: Job, *, bulk_owner: str | None = None) -> bool:
        """Send a job again: an unfinished one as it is, one never enqueued back to queued first. A batch's
        line (`bulk_owner`: the owner its batch request names) goes back to the bulk lane. False when there
        is nothing to send (it finished meanwhile). Raises `Unavailable` when the broker is down."""
        if job.never_enqueued:
            if not Job.requeue(job.id):
                return False
            self.enqueue(job.id)
        elif job.finished:
            return False
        elif bulk_owner is not None:
            from actors import bulk  # the sweeper's and the embedded start's: the API never sends a batch's line

            try:
                bulk.send(self.broker, bulk_owner, [job.id])
            except (BrokerError, pika.exceptions.AMQPError, OSError) as e:
                raise Unavailable(f"the message broker is unavailable ({type(e).__name__})") from e
        else:
            self.send(job.id)
        return True

    def holding(self, queue: str | None = None) -> tuple[int, int | None]:
        """Messages the broker holds ready for a queue (the inference queue by default) and its delay queue,
        and the queue's consumers (None where unknown: the StubBroker). Messages workers have taken
        (prefetched, or delayed for a retry) are in neither count: AMQP does not tell them. Raises
        `Unavailable` when the broker is down."""
        queue = queue or self.actor.queue_name
        try:
            depths = queue_depths(self.broker)
        except (BrokerError, pika.exceptions.AMQPError, OSError) as e:
            raise Unavailable(f"the message broker is unavailable ({type(e).__name__})") from e
        ready = sum(depths.get(name, (0, None))[0] for name in (queue, dq_name(queue)))
        return ready, depths.get(queue, (0, 0))[1]

    def ping(self) -> None:
        try:
            ping(self.broker)
        except (pika.exceptions.AMQPError, OSError) as e:
            raise Unavailable(f"the message broker is unavailable ({type(e).__name__})") from e

    def queue_depths(self) -> dict[str, tuple[int, int | None]]:
        """Messages ready and consumers per queue (see `actors.broker.queue_depths`)."""
        return queue_depths(self.broker)


def open_sender(
    broker_url: str, *, send_timeout: float = 5.0, queue_type: str = "classic", heartbeat: int = DEFAULT_HEARTBEAT
) -> Sender:
    """A broker that only sends (no worker middleware, no models), for the API and the sweeper. It publishes
    to the queues as they exist; `queue_type` declares those that do not yet (`actors.rabbitmq.publisher`)."""
    broker = make_broker(
        broker_url, send_timeout=send_timeout, sends_only=True, queue_type=queue_type, heartbeat=heartbeat
    )
    return Sender(broker, inference.declare(broker), webhooks.declare(broker))


def sender_for(config) -> Sender:
    """`open_sender` with every broker setting of `config` (a `core.config.Config`): the API's and the
    sweeper's, so neither unpacks them."""
    return open_sender(
        config.broker_url,
        send_timeout=config.broker_send_timeout,
        queue_type=config.queue_type,
        heartbeat=config.amqp_heartbeat,
    )
