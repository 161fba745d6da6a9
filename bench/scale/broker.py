"""The broker path: messages published with confirms and consumed with acks through the project's own
broker (`actors.broker.make_broker`: confirmed publishes, the coalescing consumer), on a classic or a
quorum queue in our vhost; messages/s and the cores RabbitMQ's Erlang VM spent on them."""

from __future__ import annotations

import threading

import pika
from dramatiq import Message
from dramatiq.common import dq_name, xq_name

from actors.broker import make_broker
from bench.scale.cpu import Window, named

ACTOR = "scale"


def queue_broker(url: str, queue_type: str):
    """The project's broker, its queues declared as `queue_type` (a quorum queue is asked for by argument)."""
    broker = make_broker(url)
    if queue_type != "classic":
        built = broker._build_queue_arguments  # Dramatiq's: dead-lettering to the .XQ
        broker._build_queue_arguments = lambda name: {**built(name), "x-queue-type": queue_type}
    return broker


def run(url: str, queue_type: str, *, messages: int, publishers: int, prefetch: int = 256) -> dict:
    queue = f"bench.scale.{queue_type}"
    delete_queues(url, queue)
    broker = queue_broker(url, queue_type)
    broker.declare_queue(queue)
    body = {"job_id": "00000000-0000-0000-0000-000000000000"}
    consumed, published = [0], [0] * publishers
    done = threading.Event()

    def publish(index: int) -> None:
        for _ in range(index, messages, publishers):
            broker.enqueue(Message(queue_name=queue, actor_name=ACTOR, args=(), kwargs=body, options={}))
            published[index] += 1

    def consume() -> None:
        consumer = broker.consume(queue, prefetch=prefetch, timeout=100)
        try:
            for message in consumer:
                if message is not None:
                    consumer.ack(message)
                    consumed[0] += 1
                if consumed[0] >= messages or done.is_set():
                    break
        finally:
            consumer.close()

    threads = [threading.Thread(target=publish, args=(i,), daemon=True) for i in range(publishers)]
    reader = threading.Thread(target=consume, daemon=True)
    try:
        with Window({"rabbitmq": named("beam.smp")}) as window:
            reader.start()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(600)
            reader.join(max(60.0, messages / 100))
            done.set()
    finally:
        broker.close()
        delete_queues(url, queue)
    rate = consumed[0] / window.seconds
    return {
        "queue_type": queue_type,
        "messages": consumed[0],
        "published": sum(published),
        "publishers": publishers,
        "seconds": round(window.seconds, 2),
        "messages_per_s": round(rate, 1),
        "rabbitmq_cores": window.cores["rabbitmq"],  # the whole server's VM: other vhosts' work included
        "messages_per_s_per_core": round(rate / max(window.cores["rabbitmq"], 1e-9), 1),
    }


def delete_queues(url: str, queue: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        for name in (queue, dq_name(queue), xq_name(queue)):
            channel.queue_delete(name)
    finally:
        connection.close()
