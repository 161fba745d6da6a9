"""Our own database and RabbitMQ vhost on the machine's servers: created when missing, emptied around
each mode, cleaned at the end. The shared `test` database and `/` vhost are never touched."""

from __future__ import annotations

from urllib.parse import urlparse

import pika
import pika.exceptions
from dramatiq.common import dq_name, xq_name

import db
from actors.inference import QUEUE
from bench.settings import Settings
from db import migrate
from harness.servers import ServerError, postgres_database, rabbitmq_vhost, reachable

SEED_TABLE = "bench_seed_result"  # the old design's results table
SEED_QUEUE = "bench.seed"  # the old design's queue
FLOOR_TABLE = "bench_floor_job"  # the floor's jobs (`bench.floor`)
FLOOR_QUEUE = "bench.floor"  # the floor's queue
TABLES = f"webhook_delivery, job, migratehistory, {SEED_TABLE}, {FLOOR_TABLE}"  # ours, dropped at start and end


InfraError = ServerError  # a server is missing or we cannot set up our database or vhost on it


class Infra:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.database_url = self.broker_url = ""
        self.queues = (QUEUE, dq_name(QUEUE), xq_name(QUEUE))
        self.connected = False
        self._lock = None  # the connection holding this run's advisory lock on our database

    def setup(self) -> None:
        for name, url in (("PostgreSQL", self.settings.postgres_url), ("RabbitMQ", self.settings.rabbitmq_url)):
            if not reachable(url):
                where = urlparse(url)
                raise InfraError(f"{name} is not reachable at {where.hostname}:{where.port}")
        self.database_url = postgres_database(self.settings.postgres_url, self.settings.database)
        self._take_lock()
        self.broker_url = rabbitmq_vhost(self.settings.rabbitmq_url, self.settings.vhost)
        db.connect(self.database_url, max_connections=4)
        self.connected = True
        self.reset_schema()
        self.purge()

    def _take_lock(self) -> None:
        """One run at a time on our database: a second one would empty and drop the first one's tables
        (seen as `relation "job" does not exist` in the middle of a mode)."""
        import psycopg2

        connection = psycopg2.connect(self.database_url)
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(hashtext('inference-api bench'))")
            if not cursor.fetchone()[0]:
                connection.close()
                raise InfraError(
                    f"another benchmark run is using database {self.settings.database!r}: wait for it to end, "
                    "or give this one its own (--database and --vhost)"
                )
        self._lock = connection

    def reset_schema(self) -> None:
        """The job table exactly as this checkout's migrations build it, empty."""
        with db.database.connection_context():
            db.database.execute_sql(f"DROP TABLE IF EXISTS {TABLES}")
        migrate.apply()

    def truncate_jobs(self) -> None:
        with db.database.connection_context():
            db.database.execute_sql("TRUNCATE job CASCADE")  # webhook_delivery too

    def checkpoint(self) -> None:
        """Write every change so far to disk now (PostgreSQL's `CHECKPOINT`), between two modes: the writes of a
        heavy mode (a batch of 50,000 lines) would otherwise be flushed while the next modes run, slowing them.
        Without the privilege (`pg_checkpoint`), nothing is done."""
        import peewee

        try:
            with db.database.connection_context():
                db.database.execute_sql("CHECKPOINT")
        except peewee.DatabaseError:
            pass

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
                for name in (*self.queues, SEED_QUEUE, FLOOR_QUEUE):
                    channel.queue_delete(name)
        finally:
            with db.database.connection_context():
                db.database.execute_sql(f"DROP TABLE IF EXISTS {TABLES}")
            db.database.close_all()
            self.connected = False
            self.release()

    def release(self) -> None:
        """Let the next run in (closing the connection ends its advisory lock)."""
        if self._lock is not None:
            self._lock.close()
            self._lock = None


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
