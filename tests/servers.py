"""The real servers for integration tests: reachable or not, and our own database and vhost on them.

A test that needs a server skips when it is absent, except under CI=true, where it fails.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from urllib.parse import urlparse

import pytest

from bench.infra import reachable  # one TCP probe for the harness and the tests

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
POSTGRES_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
RABBITMQ_URL = os.environ.get("TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")
TEST_DATABASE = os.environ.get("TEST_DATABASE", "inference_api_test")
TEST_VHOST = os.environ.get("TEST_VHOST", "inference_api_test")


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
    import psycopg2

    connection = psycopg2.connect(POSTGRES_ADMIN_URL)
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cursor.fetchone() is None:
                cursor.execute(f'CREATE DATABASE "{name}"')
    finally:
        connection.close()
    return urlparse(POSTGRES_ADMIN_URL)._replace(path=f"/{name}").geturl()


def rabbitmq_url(vhost: str = TEST_VHOST) -> str:
    """A vhost of our own when rabbitmqctl is at hand (it is on CI), else the default vhost."""
    require("RabbitMQ", RABBITMQ_URL)
    ctl = shutil.which("rabbitmqctl")
    if ctl is None:
        return RABBITMQ_URL
    user = urlparse(RABBITMQ_URL).username or "guest"
    subprocess.run([ctl, "add_vhost", vhost], capture_output=True, check=False)  # exists already: fine
    subprocess.run([ctl, "set_permissions", "-p", vhost, user, ".*", ".*", ".*"], capture_output=True, check=True)
    return urlparse(RABBITMQ_URL)._replace(path=f"/{vhost}").geturl()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
