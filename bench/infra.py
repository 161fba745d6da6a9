"""Our own database and RabbitMQ vhost on the machine's servers: created when missing, emptied around
each mode, cleaned at the end. The shared `test` database and `/` vhost are never touched."""

from __future__ import annotations

import shutil
import socket
import subprocess
from urllib.parse import quote, urlparse

import pika
import pika.exceptions
from dramatiq.common import dq_name, xq_name

import db
from actors.inference import QUEUE
from bench.settings import Settings
from db import migrate

SEED_TABLE = "bench_seed_result"  # the old design's results table
SEED_QUEUE = "bench.seed"  # the old design's queue


class InfraError(RuntimeError):
    """A server is missing or we cannot set up our database or vhost on it."""


def reachable(url: str, timeout: float = 1.0) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname, parsed.port), timeout=timeout):
            return True
    except OSError:
        return False


class Infra:
    def __init__(self, settings: Settings):
        self.settings = settings
        admin_pg, admin_mq = urlparse(settings.postgres_url), urlparse(settings.rabbitmq_url)
        self.database_url = admin_pg._replace(path=f"/{settings.database}").geturl()
        self.broker_url = admin_mq._replace(path=f"/{quote(settings.vhost, safe='')}").geturl()
        self.queues = (QUEUE, dq_name(QUEUE), xq_name(QUEUE))
        self.connected = False

    def setup(self) -> None:
        for name, url in (("PostgreSQL", self.settings.postgres_url), ("RabbitMQ", self.settings.rabbitmq_url)):
            if not reachable(url):
                where = urlparse(url)
                raise InfraError(f"{name} is not reachable at {where.hostname}:{where.port}")
        self._create_database()
        self._create_vhost()
        db.connect(self.database_url, max_connections=4)
        self.connected = True
        self.reset_schema()
        self.purge()

    def reset_schema(self) -> None:
        """The job table exactly as this checkout's migrations build it, empty."""
        with db.database.connection_context():
            db.database.execute_sql(f"DROP TABLE IF EXISTS webhook_delivery, job, migratehistory, {SEED_TABLE}")
        migrate.apply()

    def truncate_jobs(self) -> None:
        with db.database.connection_context():
            db.database.execute_sql("TRUNCATE job CASCADE")  # webhook_delivery too

    def purge(self, queues: tuple[str, ...] | None = None) -> int:
        """Empty our queues (those that exist); returns how many messages were dropped."""
        dropped = 0
        with self.channel() as channel:
            for name in queues or self.queues:
                try:
                    dropped += channel.queue_purge(name).method.message_count
                except pika.exceptions.ChannelClosedByBroker as e:
                    if e.reply_code != 404:
                        raise
                    channel = channel.connection.channel()
        return dropped

    def channel(self):
        return _Channel(self.broker_url)

    def cleanup(self) -> None:
        """Leave nothing behind: our queues deleted and our tables dropped."""
        if not self.connected:
            return
        try:
            with self.channel() as channel:
                for name in (*self.queues, SEED_QUEUE):
                    channel.queue_delete(name)
        finally:
            with db.database.connection_context():
                db.database.execute_sql(f"DROP TABLE IF EXISTS webhook_delivery, job, migratehistory, {SEED_TABLE}")
            db.database.close_all()
            self.connected = False

    def _create_database(self) -> None:
        import psycopg2

        connection = psycopg2.connect(self.settings.postgres_url)
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.settings.database,))
                if cursor.fetchone() is None:
                    cursor.execute(f'CREATE DATABASE "{self.settings.database}"')
        finally:
            connection.close()

    def _create_vhost(self) -> None:
        ctl = shutil.which("rabbitmqctl")
        if ctl is None:
            raise InfraError("rabbitmqctl is not on PATH: it is needed to create the bench's own vhost")
        user = urlparse(self.settings.rabbitmq_url).username or "guest"
        vhost = self.settings.vhost
        subprocess.run([ctl, "add_vhost", vhost], capture_output=True, check=False)  # exists already: fine
        done = subprocess.run(
            [ctl, "set_permissions", "-p", vhost, user, ".*", ".*", ".*"], capture_output=True, text=True
        )
        if done.returncode != 0:
            raise InfraError(f"rabbitmqctl set_permissions on {vhost}: {done.stderr.strip()}")


class _Channel:
    """A short-lived pika channel on our vhost, as a context manager."""

    def __init__(self, url: str):
        self.url = url

    def __enter__(self):
        self.connection = pika.BlockingConnection(pika.URLParameters(self.url))
        return self.connection.channel()

    def __exit__(self, *exc):
        if self.connection.is_open:
            self.connection.close()
