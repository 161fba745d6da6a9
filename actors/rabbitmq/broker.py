"""`CoalescingRabbitmqBroker`: Dramatiq's RabbitMQ broker with our consumer, a prefetch its dispatcher sets,
and a channel that can always be dropped.

Dramatiq's `channel` getter stores a new channel for the thread, then turns on publisher confirms, then adds
it to `channels`; when the connection closes in between (a broker going down), the channel is stored but not
added, and the deleter's `channels.remove` raises `KeyError` from inside `enqueue`'s reconnect loop. That
escapes every caller's broker-error handling (a webhook delivery would stay marked sent, and only the
sweeper's quiet period would bring it back). Here the deleter adds the channel first
(docs/internals.md#the-broker-the-channel-deleter-and-the-consumer-hook).
"""

from __future__ import annotations

from dramatiq.brokers.rabbitmq import RabbitmqBroker

from actors.rabbitmq.consumer import CoalescingConsumer
from actors.rabbitmq.queues import QueueTypes


class CoalescingRabbitmqBroker(QueueTypes):
    """Dramatiq's RabbitMQ broker (its `consumer_class` hook) with `CoalescingConsumer`, its queues of the
    type it is given (`queue_type`, `actors.rabbitmq.queues`)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.dispatchers = {}  # queue name -> what runs its messages without a worker thread (`Dispatch`)

    @property
    def consumer_class(self):
        return CoalescingConsumer

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 5000):
        """Dramatiq's prefetch is twice the worker threads; a dispatched queue's messages hold no thread, so
        its dispatcher says how many to hold: at most a message for each job it holds, lowered on the channel
        while messages carry several jobs (`CoalescingConsumer._follow_prefetch`)."""
        if (dispatch := self.dispatchers.get(queue_name)) is not None:
            prefetch = dispatch.jobs_held
        return super().consume(queue_name, prefetch, timeout)

    @property
    def channel(self):
        return RabbitmqBroker.channel.fget(self)

    @channel.deleter
    def channel(self):
        channel = getattr(self.state, "channel", None)
        if channel is not None:
            self.channels.add(channel)  # a no-op unless confirm_delivery() failed before the getter added it
        RabbitmqBroker.channel.fdel(self)
