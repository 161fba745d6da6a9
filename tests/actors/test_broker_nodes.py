"""`make_broker` on a replicated RabbitMQ: every node of `BROKER_URL` reaches pika, each connection is
bounded (heartbeats, connect and handshake timeouts, one attempt a node) unless the node's URL says
otherwise, and the queue type is the one asked for. None of this connects: pika connects on first use."""

from __future__ import annotations

import pytest

from actors.broker import _probe, make_broker, nodes
from actors.rabbitmq.queues import DELIVERY_LIMIT, QueueTypes
from actors.sending import open_sender

CLUSTER = "amqp://u:p@rabbit-a:5672/vh; amqp://u:p@rabbit-b:5673/vh;amqp://u:p@rabbit-c:5674/vh?heartbeat=3;"


def test_a_broker_url_lists_its_nodes_separated_by_semicolons_blanks_dropped():
    assert nodes(CLUSTER) == [
        "amqp://u:p@rabbit-a:5672/vh",
        "amqp://u:p@rabbit-b:5673/vh",
        "amqp://u:p@rabbit-c:5674/vh?heartbeat=3",
    ]
    assert nodes("amqp://one/") == ["amqp://one/"]


@pytest.mark.parametrize("sends_only", [False, True])
def test_every_node_reaches_pika_with_bounded_connections_and_heartbeats(sends_only):
    broker = make_broker(CLUSTER, heartbeat=7, send_timeout=4, sends_only=sends_only)
    assert [(p.host, p.port, p.virtual_host) for p in broker.parameters] == [
        ("rabbit-a", 5672, "vh"),
        ("rabbit-b", 5673, "vh"),
        ("rabbit-c", 5674, "vh"),
    ]
    assert [p.heartbeat for p in broker.parameters] == [7, 7, 3]  # the node's own `?heartbeat=` wins
    for parameters in broker.parameters:
        assert parameters.blocked_connection_timeout == 4
        assert parameters.socket_timeout <= 5 and parameters.stack_timeout <= 10
        assert parameters.connection_attempts == 1  # the next node is the retry
    # data a silent peer leaves unacknowledged fails the socket: a sender within its send bound, a worker
    # within two heartbeats
    unacked = [p.tcp_options["TCP_USER_TIMEOUT"] for p in broker.parameters]
    assert unacked == ([4000] * 3 if sends_only else [14_000] * 3)
    if sends_only:  # a sender's reconnection tries all three nodes within one send's bound
        assert sum(p.stack_timeout for p in broker.parameters) <= 4


def test_the_readiness_probe_tries_every_node_with_short_timeouts():
    probes = _probe(make_broker(CLUSTER), timeout=2)
    assert [p.host for p in probes] == ["rabbit-a", "rabbit-b", "rabbit-c"]
    assert all(p.socket_timeout == 2 and p.connection_attempts == 1 for p in probes)


def test_quorum_queues_carry_their_type_and_a_delivery_limit_and_no_priority():
    broker = make_broker("amqp://u:p@rabbit-a/", queue_type="quorum")
    arguments = broker._build_queue_arguments("inference")
    assert arguments["x-queue-type"] == "quorum" and arguments["x-delivery-limit"] == DELIVERY_LIMIT
    assert "x-max-priority" not in arguments
    assert arguments["x-dead-letter-routing-key"] == "inference.XQ"
    assert "x-queue-type" not in make_broker("amqp://u:p@rabbit-a/")._build_queue_arguments("inference")


def test_a_quorum_broker_refuses_a_priority_rabbitmq_would_refuse_and_an_unknown_type():
    with pytest.raises(ValueError, match="x-max-priority"):
        QueueTypes(url="amqp://u:p@rabbit-a/", queue_type="quorum", max_priority=5)
    with pytest.raises(ValueError, match="queue_type"):
        make_broker("amqp://u:p@rabbit-a/", queue_type="stream")


def test_a_sender_declares_the_queues_it_creates_as_it_is_told():
    sender = open_sender("amqp://u:p@rabbit-a/", queue_type="quorum", heartbeat=5)
    assert sender.broker.queue_type == "quorum" and sender.broker.parameters[0].heartbeat == 5
