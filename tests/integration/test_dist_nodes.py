"""A `BROKER_URL` naming several RabbitMQ nodes, on the real RabbitMQ: a node that does not answer is
passed over, by the publisher, the readiness probe and the queue-depth probe alike."""

from __future__ import annotations

import pytest

from actors.broker import ping
from actors.inference import QUEUE
from actors.sending import open_sender

pytestmark = pytest.mark.integration


def test_a_dead_first_node_is_passed_over_for_the_next_one(rabbitmq_url):
    dead = rabbitmq_url.replace(":5672/", ":1/")
    assert dead != rabbitmq_url
    sender = open_sender(f"{dead};{rabbitmq_url}")
    try:
        ping(sender.broker)  # raises unless some node accepts a connection
        sender.broker.declare_queue(QUEUE, ensure=True)
        sender.broker.flush(QUEUE)
        sender.send("00000000-0000-0000-0000-000000000000")  # confirmed by the node that answered
        assert sender.holding()[0] == 1  # counted there too
    finally:
        sender.broker.flush(QUEUE)
        sender.broker.close()
