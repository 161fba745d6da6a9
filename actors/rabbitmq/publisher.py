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
"""

from __future__ import annotations

import threading

from actors.rabbitmq.broker import CoalescingRabbitmqBroker


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
