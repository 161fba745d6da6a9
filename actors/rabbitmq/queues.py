"""How the queues are declared: Dramatiq's classic queues, or quorum queues (`QUEUE_TYPE=quorum`), the
replicated type a RabbitMQ cluster needs so that a node's loss loses no message.

Dramatiq declares three queues per actor queue: the queue, its delay queue (`.DQ`, both with
`_build_queue_arguments`: dead letters to `.XQ`, `x-max-priority` when `max_priority` is set) and its
dead-letter queue (`.XQ`, `_declare_xq_queue`: a message TTL). As quorum queues, each also carries
`x-queue-type: quorum`; the queue and its delay queue an `x-delivery-limit` (a message delivered that many
times without being settled, say one that kills every worker that takes it, is dead-lettered instead of
looping for ever); and no `x-max-priority`, which RabbitMQ refuses on a quorum queue
(docs/reliability.md#quorum-queues).
"""

from __future__ import annotations

from dramatiq.brokers.rabbitmq import DEAD_MESSAGE_TTL, RabbitmqBroker
from dramatiq.common import xq_name

QUEUE_TYPES = ("classic", "quorum")
# Deliveries of one message before a quorum queue dead-letters it: RabbitMQ 4's default, well above the
# starts a poison job gets (`actors.batching.MAX_STARTS`) and the redeliveries a few worker restarts cause.
DELIVERY_LIMIT = 20


class QueueTypes(RabbitmqBroker):
    """Dramatiq's RabbitMQ broker, declaring its queues as `queue_type` says."""

    def __init__(self, *args, queue_type: str = "classic", **kwargs):
        if queue_type not in QUEUE_TYPES:
            raise ValueError(f"queue_type must be one of {QUEUE_TYPES}, got {queue_type!r}")
        super().__init__(*args, **kwargs)
        if queue_type == "quorum" and self.max_priority:
            raise ValueError("quorum queues take no x-max-priority: leave max_priority unset")
        self.queue_type = queue_type

    def _build_queue_arguments(self, queue_name):
        arguments = super()._build_queue_arguments(queue_name)
        if self.queue_type == "quorum":
            arguments.update({"x-queue-type": "quorum", "x-delivery-limit": DELIVERY_LIMIT})
        return arguments

    def _declare_xq_queue(self, queue_name):
        if self.queue_type != "quorum":
            return super()._declare_xq_queue(queue_name)
        arguments = {"x-message-ttl": DEAD_MESSAGE_TTL, "x-queue-type": "quorum"}
        return self.channel.queue_declare(queue=xq_name(queue_name), durable=True, arguments=arguments)
