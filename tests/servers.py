"""The real servers for integration tests: reachable or not, and our own database and vhost on them.

A test that needs a server skips when it is absent, except under CI=true, where it fails.
"""

from __future__ import annotations

import os
from urllib.parse import urlparse

import pytest

from harness.servers import ServerError, free_port, postgres_database, rabbitmq_vhost, reachable

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
POSTGRES_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
RABBITMQ_URL = os.environ.get("TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")
TEST_DATABASE = os.environ.get("TEST_DATABASE", "inference_api_test")
TEST_VHOST = os.environ.get("TEST_VHOST", "inference_api_test")

__all__ = ["IN_CI", "free_port", "postgres_url", "rabbitmq_url", "reachable", "require"]


def require(name: str, url: str) -> None:
    if reachable(url):
        return
    message = f"{name} is not reachable at {urlparse(url).netloc}"
    if IN_CI:
        pytest.fail(f"{message} (CI=true: integration tests must run, not skip)")
    pytest.skip(message)


def postgres_url(name: str = TEST_DATABASE) -> str:
    """A database of our own on the real server (created once), so the shared `test` stays clean."""
    require("PostgreSQL", POSTGRES_ADMIN_URL)
    return postgres_database(POSTGRES_ADMIN_URL, name)


def rabbitmq_url(vhost: str = TEST_VHOST) -> str:
    """A vhost of our own when rabbitmqctl is at hand (it is on CI), else the default vhost."""
    require("RabbitMQ", RABBITMQ_URL)
    try:
        return rabbitmq_vhost(RABBITMQ_URL, vhost)
    except ServerError:
        if IN_CI:
            raise
        return RABBITMQ_URL


def queue_counts(url: str, queue: str) -> tuple[int, int]:
    """Messages ready and consumers of a queue, as RabbitMQ sees them (unacknowledged ones are neither)."""
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        method = connection.channel().queue_declare(queue, passive=True).method
        return method.message_count, method.consumer_count
    finally:
        connection.close()
