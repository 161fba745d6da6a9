"""`SharedConnectionBroker`: a RabbitMQ broker for processes that only send (the API, the sweeper), with
one connection for all threads.

Dramatiq's broker keeps a connection and a channel per thread (`state`, a `threading.local`). The API's
request threads take turns publishing (whichever leads a group commit sends its message), so each of its
threads would open a connection of its own on its first publish: as many connections an API process as it
has threads, each with its memory and heartbeats on RabbitMQ, and a connection's opening paid on as many
first requests. Here every thread uses one connection and one channel, one publish at a time (a lock; the
group commit already sends one message at a time), and Dramatiq's own reconnecting (`enqueue` drops a
broken connection and opens another) runs under the same lock. It replaces Dramatiq's `state` and wraps its `connection`
property (docs/internals.md#the-publisher-one-connection-for-every-thread).

It derives from `CoalescingRabbitmqBroker` for the channel deleter's fix; the consumer that class brings
is never built here, since a process that only sends consumes nothing.

It declares a queue that exists already passively, whatever its type and arguments: the workers own the
queues' declaration (`QUEUE_TYPE`), and a sender configured otherwise, or in the middle of a migration from
classic to quorum queues, then publishes to the queues as they are instead of failing on a
`PRECONDITION_FAILED`. A queue that does not exist yet it declares as its own `queue_type` says.
"""

from __future__ import annotations

import threading

import pika.exceptions
from dramatiq.common import dq_name, xq_name

from actors.rabbitmq.broker import CoalescingRabbitmqBroker

NOT_FOUND = 404  # AMQP's reply code to a passive declaration of a queue that does not exist


class _Shared:
    """Where Dramatiq keeps the connection and the channel: one object for every thread."""


class SharedConnectionBroker(CoalescingRabbitmqBroker):
    """Every thread publishes on one connection and one channel, one publish at a time."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.state = _Shared()
        self._using = threading.RLock()  # reentrant: enqueue drops and reopens the connection inside it

    def enqueue(self, message, *, delay=None):
        with self._using:
            return super().enqueue(message, delay=delay)

    def declare_queue(self, queue_name: str, *, ensure: bool = False) -> None:
        with self._using:
            super().declare_queue(queue_name, ensure=ensure)

    def _declare_queue(self, queue_name):
        return self._existing(queue_name) or super()._declare_queue(queue_name)

    def _declare_dq_queue(self, queue_name):
        return self._existing(dq_name(queue_name)) or super()._declare_dq_queue(queue_name)

    def _declare_xq_queue(self, queue_name):
        return self._existing(xq_name(queue_name)) or super()._declare_xq_queue(queue_name)

    def _existing(self, name: str):
        """The passive declaration of the queue `name` when it exists, whatever its arguments; else None (the
        broker closed the channel on its 404: dropped, so the next use opens another)."""
        try:
            return self.channel.queue_declare(queue=name, passive=True)
        except pika.exceptions.ChannelClosedByBroker as e:
            if e.reply_code != NOT_FOUND:
                raise
            del self.channel
            return None

    def get_queue_message_counts(self, queue_name: str) -> tuple[int, int, int]:
        with self._using:
            return super().get_queue_message_counts(queue_name)

    @property
    def connection(self):
        with self._using:
            return CoalescingRabbitmqBroker.connection.fget(self)

    @connection.deleter
    def connection(self):
        with self._using:
            CoalescingRabbitmqBroker.connection.fdel(self)

    def close(self) -> None:
        with self._using:
            super().close()
