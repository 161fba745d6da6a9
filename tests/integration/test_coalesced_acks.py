"""Acks coalesced per batch (actors/rabbitmq/consumer.py) on the real RabbitMQ: every message settled exactly once,
whatever order the threads finish in, failures dead-lettered, nothing redelivered."""

import random
import threading
import time

import dramatiq
import pytest
from dramatiq.common import xq_name

from actors.broker import make_broker
from actors.rabbitmq.consumer import CoalescingConsumer
from tests.servers import queue_counts

pytestmark = pytest.mark.integration


def test_messages_finished_out_of_order_are_each_settled_once(rabbitmq_url, monkeypatch):
    flushes = []
    flush = CoalescingConsumer._flush
    monkeypatch.setattr(CoalescingConsumer, "_flush", lambda self: (flushes.append(1), flush(self)))
    broker = make_broker(rabbitmq_url)
    seen: list[int] = []
    lock = threading.Lock()
    queue = "coalesced_acks_test"

    def work(n: int) -> None:
        time.sleep(random.random() / 50)  # threads finish in any order
        with lock:
            seen.append(n)
        if n % 17 == 0:
            raise ValueError("dead-letter me")

    actor = dramatiq.actor(work, broker=broker, actor_name="coalesced_acks_test", queue_name=queue, max_retries=0)
    broker.declare_queue(queue, ensure=True)
    for name in (queue, xq_name(queue)):
        broker.channel.queue_purge(name)
    for n in range(300):
        actor.send(n)
    worker = dramatiq.Worker(broker, worker_threads=16, worker_timeout=100)
    worker.start()
    try:
        broker.join(queue, timeout=60_000)
    finally:
        worker.stop()
    broker.close()
    assert sorted(seen) == list(range(300))  # each once: no redelivery after the worker stopped
    assert queue_counts(rabbitmq_url, queue) == (0, 0)  # nothing left unacknowledged (it would be ready again)
    assert queue_counts(rabbitmq_url, xq_name(queue))[0] == len(range(0, 300, 17))
    assert 0 < len(flushes) < 300  # messages finished together were settled together
