"""A sending process's threads share one RabbitMQ connection (actors/rabbitmq/publisher.py), on the real RabbitMQ:
every message published once and confirmed, whichever thread sent it, and a broken connection replaced."""

import threading

import pika
import pytest

from actors.inference import QUEUE
from actors.sending import open_sender

pytestmark = pytest.mark.integration


def ready(url: str) -> int:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        return connection.channel().queue_declare(QUEUE, passive=True).method.message_count
    finally:
        connection.close()


@pytest.fixture
def sender(rabbitmq_url):
    sender = open_sender(rabbitmq_url)
    sender.broker.declare_queue(QUEUE, ensure=True)
    sender.broker.flush(QUEUE)
    yield sender
    sender.broker.flush(QUEUE)
    sender.broker.close()


def send_from_threads(sender, threads: int, each: int) -> list[BaseException]:
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def work(index: int) -> None:
        start.wait()
        for n in range(each):
            try:
                sender.send(f"job-{index}-{n}")
            except BaseException as e:  # collected: the test asserts there are none
                errors.append(e)

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    return errors


def test_sixteen_threads_publish_over_one_connection(sender, rabbitmq_url):
    assert send_from_threads(sender, threads=16, each=25) == []
    assert len(sender.broker.connections) == 1  # Dramatiq's own broker would hold 16, one per thread
    assert ready(rabbitmq_url) == 16 * 25


def test_a_broken_shared_connection_is_replaced_and_nothing_is_lost(sender, rabbitmq_url):
    assert send_from_threads(sender, threads=4, each=5) == []
    sender.broker.connection.close()  # as when RabbitMQ drops it: the next publish finds it closed
    assert send_from_threads(sender, threads=4, each=5) == []
    assert [c.is_open for c in sender.broker.connections] == [True]
    assert ready(rabbitmq_url) == 2 * 4 * 5
