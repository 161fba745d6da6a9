"""Broker setup, always explicit: `make_broker(url)` builds a broker and returns it.

It never touches Dramatiq's global broker (only the worker entry, `actors.worker`, installs one) and
never falls back to Dramatiq's lazy default (which would silently connect to a RabbitMQ on localhost).
"""

from __future__ import annotations

import dramatiq
import pika
import pika.exceptions
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.common import dq_name, xq_name
from dramatiq.middleware import Middleware, Retries, ShutdownNotifications, TimeLimit

from actors.consumer import CoalescingRabbitmqBroker
from core.config import EMBEDDED_BROKER


def base_middleware() -> list[Middleware]:
    """Dramatiq's defaults less those no actor of ours uses (AgeLimit, Callbacks, Pipelines): each one is a
    hook called around every message."""
    return [TimeLimit(), ShutdownNotifications(), Retries()]


def make_broker(url: str, *, middleware: list[Middleware] = ()) -> dramatiq.Broker:
    """`stub://` gives the in-process StubBroker; `amqp://` a RabbitMQ broker with publisher confirms."""
    if url == EMBEDDED_BROKER:
        broker = StubBroker(middleware=base_middleware())
    else:
        broker = CoalescingRabbitmqBroker(url=url, confirm_delivery=True, middleware=base_middleware())
    for m in middleware:
        broker.add_middleware(m)
    return broker


def ping(broker: dramatiq.Broker, *, timeout: float = 2.0) -> None:
    """Raise unless the broker accepts a connection (a fresh one: the check must not hang on a stale one)."""
    if not isinstance(broker, RabbitmqBroker):
        return
    pika.BlockingConnection(_probe(broker, timeout)).close()


def queue_depths(broker: dramatiq.Broker, *, timeout: float = 2.0) -> dict[str, tuple[int, int | None]]:
    """Messages ready and consumers of each queue the broker declared, with its delay and dead-letter queues.

    RabbitMQ: a passive `queue.declare` per queue on one short connection (AMQP gives ready messages and
    consumers; unacknowledged ones only through the management API). StubBroker: its queue sizes, no
    consumer count. A queue not created yet is left out."""
    queues = sorted(broker.get_declared_queues())
    names = [name for queue in queues for name in (queue, dq_name(queue), xq_name(queue))]
    if not isinstance(broker, RabbitmqBroker):
        return {name: (broker.queues[name].qsize(), None) for name in names if name in broker.queues}
    depths = {}
    connection = pika.BlockingConnection(_probe(broker, timeout))
    try:
        channel = connection.channel()
        for name in names:
            try:
                declared = channel.queue_declare(name, passive=True).method
            except pika.exceptions.ChannelClosedByBroker:  # 404: not declared yet; the channel is closed
                channel = connection.channel()
                continue
            depths[name] = (declared.message_count, declared.consumer_count)
    finally:
        connection.close()
    return depths


def _probe(broker: RabbitmqBroker, timeout: float) -> pika.ConnectionParameters:
    """The broker's connection parameters, with short timeouts and one attempt."""
    parameters = broker.parameters[0] if isinstance(broker.parameters, list) else broker.parameters
    return pika.ConnectionParameters(
        host=parameters.host,
        port=parameters.port,
        virtual_host=parameters.virtual_host,
        credentials=parameters.credentials,
        ssl_options=parameters.ssl_options,
        connection_attempts=1,
        socket_timeout=timeout,
        blocked_connection_timeout=timeout,
        stack_timeout=timeout,
    )
