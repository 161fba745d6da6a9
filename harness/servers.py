"""The machine's PostgreSQL and RabbitMQ: reachable or not, and a database or vhost of our own on them, so
the shared `test` database and `/` vhost are never disturbed."""

from __future__ import annotations

import shutil
import socket
import subprocess
from urllib.parse import quote, urlparse


class ServerError(RuntimeError):
    """A server is missing, or our database or vhost cannot be set up on it."""


def reachable(url: str, timeout: float = 1.0) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname, parsed.port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def postgres_database(admin_url: str, name: str) -> str:
    """The URL of database `name` on the server of `admin_url`, created when missing."""
    import psycopg2

    connection = psycopg2.connect(admin_url)
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cursor.fetchone() is None:
                cursor.execute(f'CREATE DATABASE "{name}"')
    finally:
        connection.close()
    return urlparse(admin_url)._replace(path=f"/{name}").geturl()


def rabbitmq_vhost(admin_url: str, vhost: str) -> str:
    """The URL of `vhost` on the broker of `admin_url`, created (with permissions for its user) when missing."""
    ctl = shutil.which("rabbitmqctl")
    if ctl is None:
        raise ServerError("rabbitmqctl is not on PATH: it is needed to create our own vhost")
    user = urlparse(admin_url).username or "guest"
    subprocess.run([ctl, "add_vhost", vhost], capture_output=True, check=False)  # exists already: fine
    done = subprocess.run([ctl, "set_permissions", "-p", vhost, user, ".*", ".*", ".*"], capture_output=True, text=True)
    if done.returncode != 0:
        raise ServerError(f"rabbitmqctl set_permissions on {vhost}: {done.stderr.strip()}")
    return urlparse(admin_url)._replace(path=f"/{quote(vhost, safe='')}").geturl()
