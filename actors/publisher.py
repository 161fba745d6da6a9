"""A RabbitMQ broker for processes that only send (the API, the sweeper): one connection for all threads.

Dramatiq's broker keeps a connection and a channel per thread (`state`, a `threading.local`). The API's
request threads take turns publishing (whichever leads a group commit sends its message), so each of
its 48 threads opened a connection of its own on its first publish: up to 48 connections an API process
on RabbitMQ, each with its memory and heartbeats there, and a connection's opening paid on 48 first
requests. Here every thread uses one connection and one channel, one publish at a time (a lock; the
group commit already sends one message at a time), and Dramatiq's own reconnecting (`enqueue` drops a
broken connection and opens another) runs under the same lock.
"""

from __future__ import annotations

import threading

from actors.consumer import CoalescingRabbitmqBroker


class _Shared:
    """Where Dramatiq keeps the connection and the channel: one object for every thread."""


class SharedConnectionBroker(CoalescingRabbitmqBroker):
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
