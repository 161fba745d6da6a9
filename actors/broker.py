"""Broker setup, always explicit: `make_broker(url)` builds a broker and returns it.

It never touches Dramatiq's global broker (only the worker entry, `actors.worker`, installs one) and
never falls back to Dramatiq's lazy default (which would silently connect to a RabbitMQ on localhost).
"""

from __future__ import annotations

import dramatiq
import pika
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import Middleware, Retries, ShutdownNotifications, TimeLimit

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
        broker = RabbitmqBroker(url=url, confirm_delivery=True, middleware=base_middleware())
    for m in middleware:
        broker.add_middleware(m)
    return broker


def ping(broker: dramatiq.Broker, *, timeout: float = 2.0) -> None:
    """Raise unless the broker accepts a connection (a fresh one: the check must not hang on a stale one)."""
    if not isinstance(broker, RabbitmqBroker):
        return
    parameters = broker.parameters[0] if isinstance(broker.parameters, list) else broker.parameters
    probe = pika.ConnectionParameters(
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
    pika.BlockingConnection(probe).close()
