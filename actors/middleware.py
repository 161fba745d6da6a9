"""Dramatiq middleware for the cross-cutting work around each message and each worker."""

from __future__ import annotations

import logging

from dramatiq.middleware import Middleware

from actors import bulk, metrics
from actors.connection import close_connection
from actors.fleet import Heartbeat
from actors.inference import ACTOR
from db import Failure, Job

logger = logging.getLogger(__name__)


class DatabaseConnection(Middleware):
    """Return a message's database connection to the pool when the message is done.

    Connections open on first use: the inference actor leaves the queries to its process' batcher
    thread, so its worker threads hold none while they wait."""

    def after_process_message(self, broker, message, *, result=None, exception=None):
        close_connection()

    after_skip_message = after_process_message


class PreloadModels(Middleware):
    """Load the listed models once per worker process, after fork, before taking messages."""

    def __init__(self, runtimes, names: list[str]):
        self.runtimes = runtimes
        self.names = names

    def after_worker_boot(self, broker, worker):
        for name in self.names:
            try:
                self.runtimes.preload([name])
            except Exception as e:  # a model that cannot load fails its jobs with the reason; keep serving others
                logger.error("could not preload model %s: %s", name, e)


class ReportLoadedModels(Middleware):
    """Run a `Heartbeat` in each worker process, after fork: the database says which models it has
    loaded while it lives. A clean shutdown deletes its row; a killed process' row expires."""

    def __init__(self, runtimes, *, every: float):
        self.runtimes = runtimes
        self.every = every
        self.heartbeat: Heartbeat | None = None

    def after_worker_boot(self, broker, worker):
        self.heartbeat = Heartbeat(self.runtimes, every=self.every)
        self.heartbeat.start()

    def before_worker_shutdown(self, broker, worker):
        if self.heartbeat is not None:
            self.heartbeat.stop()
            self.heartbeat = None


class RetriesExhausted(Middleware):
    """When Dramatiq gives a message up (retries exhausted), its jobs fail with the reason at once: never
    silence. It watches both lanes' actors: the interactive one (job ids) and the bulk one (the owner, then
    job ids).

    Installed before `Retries`, so its after-hook runs once `Retries` has decided (Dramatiq runs after-hooks
    in reverse order). If even this write fails (the database is still down), the job stays queued or
    running and the sweeper sends it again or fails it later. The failed job's webhook is sent through
    `sender`. The log names the kind of fault above debug; the error's text (a driver's, which may quote a
    statement's values) only at debug.
    """

    def __init__(self, sender=None):
        self.sender = sender

    def after_process_message(self, broker, message, *, result=None, exception=None):
        if exception is None or not message.failed or not message.args:
            return
        job_ids = jobs_of(message)
        if not job_ids:
            return
        attempts = message.options.get("retries", 0)  # Retries has counted this attempt too
        reason = f"gave up after {attempts} attempts: {short_reason(exception)}"
        listed = ", ".join(job_ids)
        logger.warning("jobs %s: %s (%s)", listed, reason, type(exception).__name__)
        logger.debug("jobs %s: the last attempt's error: %s", listed, exception)
        try:
            failed = [job_id for job_id in job_ids if Job.fail(job_id, Failure.RETRIES_EXHAUSTED, reason)]
            for job_id in failed:
                metrics.gave_up(Job.get_by_id(job_id), Failure.RETRIES_EXHAUSTED)
            if failed and self.sender is not None:
                self.sender.deliver_webhooks(failed)
        except Exception as e:
            logger.error("jobs %s: could not record the failure (%s); the sweeper will", listed, type(e).__name__)
            logger.debug("jobs %s: recording the failure failed: %s", listed, e)
        finally:
            close_connection()


def jobs_of(message) -> list[str]:
    """The job ids a message of either lane carries (none for another actor's message)."""
    if message.actor_name == ACTOR:
        return [str(job_id) for job_id in message.args]  # one job, or the jobs the API accepted together
    if message.actor_name == bulk.ACTOR:
        return [str(job_id) for job_id in message.args[1:]]  # after the owner
    return []


def short_reason(error: BaseException) -> str:
    """What a client may read in a job's `error`: the kind of fault, never a driver's text (hosts, ports,
    users, statements); the detail goes to the log."""
    import peewee
    import pika.exceptions
    from dramatiq.errors import BrokerError
    from dramatiq.middleware.time_limit import TimeLimitExceeded

    from actors.runs import BatchTimeout
    from core.errors import ModelUnavailable

    if isinstance(error, (peewee.DatabaseError, peewee.InterfaceError)) or type(error).__module__.startswith(
        ("psycopg2", "sqlite3")
    ):
        return "the database was unavailable"
    if isinstance(error, (BrokerError, pika.exceptions.AMQPError)):
        return "the message broker was unavailable"
    if isinstance(error, TimeLimitExceeded):
        return "the time limit was exceeded"
    if isinstance(error, BatchTimeout):
        return "its batch ran past its time bound"
    if isinstance(error, ModelUnavailable):
        return "the model could not be loaded on a worker"
    if isinstance(error, OSError):
        return "a connection failed"
    return f"an unexpected error ({type(error).__name__})"
