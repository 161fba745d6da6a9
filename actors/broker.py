"""Broker setup, always explicit: `make_broker(url)` builds a broker and returns it.

It never touches Dramatiq's global broker (only the worker entry, `actors.worker`, installs one) and
never falls back to Dramatiq's lazy default (which would silently connect to a RabbitMQ on localhost).
"""

from __future__ import annotations

import threading
import time
from urllib.parse import parse_qs, urlsplit

import dramatiq
import pika
import pika.exceptions
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.common import dq_name, xq_name
from dramatiq.errors import BrokerError
from dramatiq.middleware import Middleware, MiddlewareError, Retries, ShutdownNotifications, TimeLimit

from actors.rabbitmq.broker import CoalescingRabbitmqBroker
from actors.rabbitmq.publisher import SharedConnectionBroker
from core.config import EMBEDDED_BROKER

DEFAULT_HEARTBEAT = 10  # seconds (`Config.amqp_heartbeat`)
# Each connection's bounds, where a node's URL sets none: the TCP connect (`socket_timeout`), the whole
# AMQP handshake (`stack_timeout`), one attempt a node (the next node is the retry), a short pause between.
CONNECTION_BOUNDS = {"socket_timeout": 5.0, "stack_timeout": 10.0, "connection_attempts": 1, "retry_delay": 1.0}


def base_middleware() -> list[Middleware]:
    """Dramatiq's defaults less those no actor of ours uses (AgeLimit, Callbacks, Pipelines): each one is a
    hook called around every message."""
    return [TimeLimit(), ShutdownNotifications(), Retries()]


class PublishTimeout(BrokerError, MiddlewareError):
    """A publish did not complete within its bound (a broker that blocks publishers: a memory or disk alarm).
    A `MiddlewareError`, so Dramatiq lets it out of the middleware hook instead of logging it."""


class PublishDeadline(Middleware):
    """Bound one send, Dramatiq's own retries included: RabbitmqBroker.enqueue tries up to 6 connections, and
    on a broker that blocks publishers each waits out pika's `blocked_connection_timeout`. Before each
    attempt after the first, give up once `seconds` have passed since the first."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self._local = threading.local()

    def before_enqueue(self, broker, message, delay):
        key, now = (message.message_id, id(message)), time.monotonic()
        if getattr(self._local, "key", None) != key:
            self._local.key, self._local.started = key, now  # a new send
        elif now - self._local.started >= self.seconds:
            self._local.key = None
            raise PublishTimeout(f"the broker did not take the message within {self.seconds:g} s")

    def after_enqueue(self, broker, message, delay):
        self._local.key = None


def make_broker(
    url: str,
    *,
    middleware: list[Middleware] = (),
    send_timeout: float = 5.0,
    sends_only: bool = False,
    queue_type: str = "classic",
    heartbeat: int = DEFAULT_HEARTBEAT,
) -> dramatiq.Broker:
    """`stub://` gives the in-process StubBroker; `amqp://` a RabbitMQ broker with publisher confirms, whose
    publishes give up after about `send_timeout` seconds when the broker blocks publishers (an alarm).
    Several nodes separated by `;` are tried in turn on every (re)connection; each connection is bounded
    (`bounded`). `queue_type`: how the queues are declared (`actors.rabbitmq.queues`). `sends_only` (a
    process that consumes nothing): one connection for all its threads (`actors.rabbitmq.publisher`)."""
    if url == EMBEDDED_BROKER:
        broker = StubBroker(middleware=base_middleware())
    else:
        kind = SharedConnectionBroker if sends_only else CoalescingRabbitmqBroker
        urls = nodes(url)
        broker = kind(url=urls, confirm_delivery=True, middleware=base_middleware(), queue_type=queue_type)
        # a write unacknowledged this long fails the socket: a publish waiting on its confirmation over a silent
        # link errors within the send's own bound (a sender), or within two heartbeats (a worker's acks)
        unacked = send_timeout if sends_only else 2 * heartbeat
        # a sender's (re)connection tries every node within one send's bound, not each node for its own
        connect = max(1.0, send_timeout / len(urls)) if sends_only else None
        for node, parameters in zip(urls, broker.parameters, strict=True):
            bounded(node, parameters, heartbeat=heartbeat, blocked=send_timeout, unacked=unacked, connect=connect)
        broker.add_middleware(PublishDeadline(send_timeout))
    for m in middleware:
        broker.add_middleware(m)
    return broker


def nodes(url: str) -> list[str]:
    """The RabbitMQ nodes of a `BROKER_URL`: URLs separated by `;` (Dramatiq's convention), blanks dropped."""
    return [node.strip() for node in url.split(";") if node.strip()]


def bounded(
    url: str,
    parameters: pika.ConnectionParameters,
    *,
    heartbeat: int,
    blocked: float,
    unacked: float = 20.0,
    connect: float | None = None,
) -> None:
    """Bound every wait of a connection on a silent or blocked node, unless the node's URL sets its own
    (pika reads `?heartbeat=...` and the like): AMQP heartbeats (a silent peer dropped within about two),
    the TCP connect and the AMQP handshake, one attempt per node before the next node is tried, a broker
    that blocks publishers, and data the peer leaves unacknowledged (`TCP_USER_TIMEOUT`, `unacked` seconds:
    a publish waiting for its confirmation over a silent link fails then, where a heartbeat would take up
    to two of its check intervals). `connect`: the TCP connect and the handshake to this node, in seconds,
    where tighter than the defaults."""
    named = set(parse_qs(urlsplit(url).query))
    bounds = {**CONNECTION_BOUNDS, "heartbeat": heartbeat}
    if connect is not None:
        bounds.update(socket_timeout=connect, stack_timeout=connect)
    for name, value in bounds.items():
        if name not in named:
            setattr(parameters, name, value)
    parameters.blocked_connection_timeout = blocked
    if "tcp_options" not in named:
        parameters.tcp_options = {**(parameters.tcp_options or {}), "TCP_USER_TIMEOUT": int(unacked * 1000)}


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


def _probe(broker: RabbitmqBroker, timeout: float) -> list[pika.ConnectionParameters]:
    """The broker's connection parameters, each node with short timeouts and one attempt: the first node
    that answers is used."""
    every = broker.parameters if isinstance(broker.parameters, list) else [broker.parameters]
    return [
        pika.ConnectionParameters(
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
        for parameters in every
    ]
