"""Quorum queues on the real RabbitMQ (3.10 here; one node is enough to declare them): the queue, its
delay and dead-letter queues declared as quorum queues take, hold and hand out a message; a classic
declaration of the same name is refused (a queue's type cannot change in place); a process that only
sends publishes to the queues as they exist, whatever it was told."""

from __future__ import annotations

import uuid

import dramatiq
import pika
import pika.exceptions
import pytest
from dramatiq.common import dq_name, xq_name

from actors.broker import make_broker

pytestmark = pytest.mark.integration


@pytest.fixture
def queue_name(rabbitmq_url):
    name = f"dist-quorum-{uuid.uuid4().hex[:8]}"
    yield name
    connection = pika.BlockingConnection(pika.URLParameters(rabbitmq_url))
    try:
        channel = connection.channel()
        for queue in (name, dq_name(name), xq_name(name)):
            channel.queue_delete(queue)
    finally:
        connection.close()


def send_one(broker: dramatiq.Broker, queue_name: str, text: str) -> None:
    actor = dramatiq.actor(lambda text: None, broker=broker, actor_name="echo", queue_name=queue_name)
    actor.send(text)  # confirmed: returns once the queue has it


def take_one(url: str, queue_name: str) -> dict:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        method, _, body = channel.basic_get(queue_name)
        assert method is not None, "no message"
        channel.basic_ack(method.delivery_tag)
        return dramatiq.Message.decode(body).asdict()
    finally:
        connection.close()


def test_quorum_queues_are_declared_and_a_message_is_published_consumed_and_acked(rabbitmq_url, queue_name):
    broker = make_broker(rabbitmq_url, queue_type="quorum")
    try:
        broker.declare_queue(queue_name, ensure=True)
        send_one(broker, queue_name, "hello")
        assert broker.get_queue_message_counts(queue_name) == (1, 0, 0)  # redeclared with the same arguments
    finally:
        broker.close()
    assert take_one(rabbitmq_url, queue_name)["args"] == ("hello",)


def test_a_classic_declaration_of_a_quorum_queue_is_refused(rabbitmq_url, queue_name):
    quorum = make_broker(rabbitmq_url, queue_type="quorum")
    classic = make_broker(rabbitmq_url, queue_type="classic")
    try:
        quorum.declare_queue(queue_name, ensure=True)
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as refused:
            classic._declare_queue(queue_name)
        assert refused.value.reply_code == 406  # PRECONDITION_FAILED: inequivalent arguments
    finally:
        quorum.close()
        classic.close()


def test_a_sender_publishes_to_the_quorum_queues_the_workers_declared_whatever_it_was_told(rabbitmq_url, queue_name):
    workers = make_broker(rabbitmq_url, queue_type="quorum")
    sender = make_broker(rabbitmq_url, queue_type="classic", sends_only=True)
    try:
        workers.declare_queue(queue_name, ensure=True)
        send_one(sender, queue_name, "from the api")
    finally:
        workers.close()
        sender.close()
    assert take_one(rabbitmq_url, queue_name)["args"] == ("from the api",)


def test_a_quorum_queue_dead_letters_a_rejected_message_to_its_dead_letter_queue(rabbitmq_url, queue_name):
    broker = make_broker(rabbitmq_url, queue_type="quorum")
    try:
        broker.declare_queue(queue_name, ensure=True)
        send_one(broker, queue_name, "poison")
        connection = pika.BlockingConnection(pika.URLParameters(rabbitmq_url))
        try:
            channel = connection.channel()
            method, _, _ = channel.basic_get(queue_name)
            channel.basic_nack(method.delivery_tag, requeue=False)  # what Dramatiq's nack does
        finally:
            connection.close()
        assert take_one(rabbitmq_url, xq_name(queue_name))["args"] == ("poison",)
    finally:
        broker.close()


def test_rabbitmq_refuses_a_priority_on_a_quorum_queue_which_is_why_none_is_declared(rabbitmq_url, queue_name):
    connection = pika.BlockingConnection(pika.URLParameters(rabbitmq_url))
    try:
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as refused:
            arguments = {"x-queue-type": "quorum", "x-max-priority": 5}
            connection.channel().queue_declare(queue_name, durable=True, arguments=arguments)
        assert refused.value.reply_code == 406 and "x-max-priority" in refused.value.reply_text
    finally:
        connection.close()


def test_a_sender_declares_a_missing_queue_as_its_own_type_and_then_publishes(rabbitmq_url, queue_name):
    sender = make_broker(rabbitmq_url, queue_type="quorum", sends_only=True)
    classic = make_broker(rabbitmq_url, queue_type="classic")
    try:
        send_one(sender, queue_name, "first")  # the passive declaration finds nothing: declared as quorum
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as refused:
            classic._declare_queue(queue_name)
        assert refused.value.reply_code == 406
    finally:
        sender.close()
        classic.close()
    assert take_one(rabbitmq_url, queue_name)["args"] == ("first",)
