"""`CoalescingConsumer`: Dramatiq's RabbitMQ consumer acknowledging the messages finished together with as
few frames as it can, and holding as many messages as its dispatcher asks.

Dramatiq's consumer schedules one callback, and sends one `basic.ack`, per message. A batch finishes dozens
of messages at once: here the worker threads queue their acks and the first one schedules a single flush on
the connection's thread, which sends one `basic.ack(multiple=True)` for every tag below the lowest message
still being worked on (all of them are finished: delivery tags grow per channel) and single acks for the
rest. RabbitMQ and pika then handle one frame per batch instead of one per message. Nacks (messages
Dramatiq gives up on) go first, each on its own, so a multiple ack never covers a message still to nack.

A queue can have a dispatcher (`actors.rabbitmq.dispatch`): the consumer hands it the messages it takes, on
its own thread, instead of queueing them for Dramatiq's worker threads; the dispatcher settles them, and
says how many messages the consumer should hold (its prefetch), which follows how many jobs they carry.

It subclasses Dramatiq's private `_RabbitmqConsumer` and uses its `known_tags`, `channel`, `connection`,
`logger` and `__next__` (docs/internals.md#the-consumer-coalesced-acks-and-a-prefetch-that-follows-jobs).
"""

from __future__ import annotations

import threading

import pika.exceptions
from dramatiq.brokers.rabbitmq import _RabbitmqConsumer
from dramatiq.errors import ConnectionClosed

BROKER_ERRORS = (pika.exceptions.AMQPConnectionError, pika.exceptions.AMQPChannelError)  # ConnectionClosed to Dramatiq


class CoalescingConsumer(_RabbitmqConsumer):
    """Built by `CoalescingRabbitmqBroker.consume` (Dramatiq's `consumer_class` hook)."""

    def __init__(self, broker, queue_name, prefetch, timeout):
        super().__init__(broker, queue_name, prefetch, timeout)
        self.prefetch = prefetch
        self._lock = threading.Lock()
        self._acks: list[int] = []
        self._nacks: list[int] = []
        self.dispatch = broker.dispatchers.get(queue_name)

    def __next__(self):
        """The next message for Dramatiq's worker threads, or None: the messages a dispatcher takes
        (`actors.rabbitmq.dispatch`) it runs and settles itself, and Dramatiq's consumer loop carries on."""
        message = super().__next__()
        if message is not None and self.dispatch is not None and self.dispatch.takes(message):
            self.dispatch(self, message)
            self._follow_prefetch(self.dispatch.prefetch)
            return None
        return message

    def _follow_prefetch(self, wanted: int) -> None:
        """Hold `wanted` messages at most, once that is a quarter off the limit in force: one round trip each
        time. RabbitMQ applies a consumer's own prefetch only as it starts consuming, so the limit that
        changes is the channel's (`global_qos`), below the consumer's; lowered, RabbitMQ delivers no more
        until enough of the messages held are acked."""
        if abs(wanted - self.prefetch) * 4 <= self.prefetch:
            return
        try:
            self.channel.basic_qos(prefetch_count=wanted, global_qos=True)
        except BROKER_ERRORS as e:
            raise ConnectionClosed(e) from None
        self.prefetch = wanted

    def ack(self, message) -> None:
        self._queue(message, self._acks)

    def nack(self, message) -> None:
        self._queue(message, self._nacks)

    def _queue(self, message, into: list[int]) -> None:
        with self._lock:
            try:
                self.known_tags.remove(message._tag)
            except KeyError:
                self.logger.warning("Failed to settle message: not in known tags.")
                return
            into.append(message._tag)
            if len(self._acks) + len(self._nacks) > 1:
                return  # a flush is scheduled and has not run yet: it takes this one too
        try:
            self.connection.add_callback_threadsafe(self._flush)
        except BROKER_ERRORS as e:
            raise ConnectionClosed(e) from None

    def _flush(self) -> None:
        """On the connection's thread (the consumer's), where deliveries are read too: a tag not yet in
        `known_tags` is newer than every tag queued here."""
        with self._lock:
            acks, nacks = sorted(self._acks), self._nacks
            self._acks, self._nacks = [], []
            held = min(self.known_tags, default=None)  # the oldest message still being worked on
        for tag in nacks:
            self.channel.basic_nack(tag, requeue=False)
        below = [tag for tag in acks if held is None or tag < held]
        if below:
            self.channel.basic_ack(below[-1], multiple=True)
        for tag in acks[len(below) :]:
            self.channel.basic_ack(tag)
