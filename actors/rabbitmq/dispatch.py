"""The inference queue's messages go from the RabbitMQ consumer straight to the batcher, with no worker
thread each.

Dramatiq hands every message to a worker thread, which runs the middleware, calls the actor and (ours
gives the jobs to the batcher) waits until the jobs are saved, then has the message acked. That is a parked
thread and two thread wake-ups per message for a thread that only waits. Here the consumer
(`actors.rabbitmq.consumer`) gives each inference message to `Dispatch` on its own thread: the jobs go to
the batcher at once, and the message is acked from the batcher's thread once they are saved (a failed one
is settled on a thread of its own: its retry or its failure may have to wait out an outage).

What `Worker.process_message` does for a message, this does too (docs/internals.md#dispatch-and-dramatiqs-worker):

- the middleware's process-message hooks run around it (metrics, `Retries` with its backoff,
  `RetriesExhausted`), as `Broker.emit_before`/`emit_after` run them (`actors.rabbitmq.hooks`);
- a message a before-hook fails is not run and is dead-lettered; `SkipMessage` from a before-hook skips it:
  the `after_skip_message` hooks run and it is acked (nacked if a hook also failed it);
- an error is stuffed into the message for the after-hooks, and logged as Dramatiq logs it: a rate limit
  at debug, an exception the actor `throws` at info, a `Retry` not at all, anything else as an error;
- a transient error retries the message, retries exhausted dead-letter it, and it is acked only once its
  jobs are saved (late acks).

Left out are the middleware that mark the thread running a message (Dramatiq's `TimeLimit` and
`ShutdownNotifications`, our `DatabaseConnection`), since no thread runs it. The time bound is the same in
both modes all the same: the batcher bounds a batch by `batch_timeout`, checked between ONNX runs, and hands
the jobs it did not reach back as `BatchTimeout` (retried); the actor's Dramatiq time limit, which applies
where a worker thread waits on the batcher (the embedded mode), is derived from that bound and set past it
(`actors.limits`). The batcher holds its own database connections, whose statements the statement timeout
bounds. A rate limit cannot occur here, as no actor code runs on this path, but is logged as Dramatiq
logs it should a hook raise one.

At shutdown the consumer waits up to `drain_seconds` for the messages it dispatched to settle before its
connection closes; RabbitMQ redelivers any it could not (a finished job is skipped: the actor is
idempotent). The embedded mode's StubBroker has no such consumer: its worker threads call the actor.
"""

from __future__ import annotations

import logging
import queue
import threading
import time

from dramatiq import Middleware
from dramatiq.errors import BrokerConnectionError
from dramatiq.middleware import ShutdownNotifications, SkipMessage, TimeLimit

from actors import hints
from actors.inference import ACTOR, QUEUE
from actors.middleware import DatabaseConnection
from actors.rabbitmq.hooks import emit_after, emit_before, log_failure

logger = logging.getLogger(__name__)

THREAD_BOUND = (TimeLimit, ShutdownNotifications, DatabaseConnection)
PREFETCH_BATCHES = 2  # jobs held at once, in batches: one running, one filling (the last one saved meanwhile)
JOBS_PER_MESSAGE_WEIGHT = 1 / 16  # of each new message in the running mean of jobs a message carries
DRAIN_SECONDS = 20.0  # below the Procfile's --worker-shutdown-timeout (25 s) and Kubernetes' grace period


class _Running:
    """A dispatched message: settled when the last of its jobs resolves."""

    __slots__ = ("consumer", "error", "hooks", "message", "remaining")

    def __init__(self, consumer, message, hooks, remaining: int):
        self.consumer, self.message, self.hooks = consumer, message, hooks
        self.remaining = remaining
        self.error: BaseException | None = None


class Dispatch(Middleware):
    """Runs the messages of `queue_name` for `actor_name` through `batcher` (`actors.batching.Batcher`)."""

    def __init__(self, batcher, *, queue_name: str = QUEUE, actor_name: str = ACTOR, drain_seconds=DRAIN_SECONDS):
        self.batcher = batcher
        self.jobs_held = PREFETCH_BATCHES * batcher.max_jobs
        self._jobs_per_message = 1.0  # a running mean, kept on the consumer's thread
        self.queue_name = queue_name
        self.actor_name = actor_name
        self.drain_seconds = drain_seconds
        self._lock = threading.Condition()
        self._running = 0
        self._seen = 0
        self._hooks: list[Middleware] = []
        self._failed: queue.SimpleQueue[_Running] = queue.SimpleQueue()
        self._settler: threading.Thread | None = None

    @property
    def prefetch(self) -> int:
        """How many messages to hold for about `jobs_held` jobs. RabbitMQ's prefetch counts messages, and a
        message carries the jobs of a group commit: one under a trickle, dozens under a burst. Counted in
        messages, a worker process would take in bursts thousands of jobs it could not start for seconds, which
        other processes could have run; the consumer follows this figure as it changes
        (`actors.rabbitmq.consumer`)."""
        return max(1, min(self.jobs_held, round(self.jobs_held / self._jobs_per_message)))

    def takes(self, message) -> bool:
        """A message of the actor, due now (Dramatiq's consumer keeps those with an `eta` for later)."""
        return message.actor_name == self.actor_name and "eta" not in message.options

    def __call__(self, consumer, message) -> None:
        """On the consumer's thread: hand the message's jobs to the batcher."""
        broker = consumer.broker
        hooks = self._message_hooks(broker)
        self._jobs_per_message += (len(message.args) - self._jobs_per_message) * JOBS_PER_MESSAGE_WEIGHT
        with self._lock:
            self._running += 1
        try:
            emit_before(broker, hooks, message)
            futures = [] if message.failed else self._submit(message)
        except SkipMessage as e:  # as Dramatiq: the after_skip_message hooks, then the ack (cheap: inline)
            running = _Running(consumer, message, hooks, 0)
            running.error = e
            self._settle(running)
            return
        except BaseException as e:
            running = _Running(consumer, message, hooks, 0)
            running.error = e
            self._settle_later(running)
            return
        running = _Running(consumer, message, hooks, len(futures))
        if not futures:
            self._settle(running)
        for future in futures:
            future.add_done_callback(lambda done, running=running: self._resolved(running, done))

    def _submit(self, message) -> list:
        """The message's jobs to the batcher, with the hint a lone job's first delivery carries (`actors.hints`)."""
        return self.batcher.submit_many(message.args, hint=hints.of(message))

    def _resolved(self, running: _Running, future) -> None:
        """On the batcher's threads, as each job's outcome is saved (or its batch failed)."""
        with self._lock:
            if running.error is None and (error := future.exception()) is not None:
                running.error = error
            running.remaining -= 1
            last = running.remaining == 0
        if last and running.error is None:
            self._settle(running)  # the hooks and the ack only queue work: cheap on the batcher's thread
        elif last:
            self._settle_later(running)

    def _settle_later(self, running: _Running) -> None:
        """A failed message is settled on a thread of its own: its retry is a publish and giving it up is a
        database write, either of which can wait out an outage, which the batcher must not."""
        with self._lock:
            if self._settler is None:  # started on first need: in the worker process, after fork
                self._settler = threading.Thread(target=self._settle_loop, name="dispatch-settler", daemon=True)
                self._settler.start()
        self._failed.put(running)

    def _settle_loop(self) -> None:
        while True:
            self._settle(self._failed.get())

    def _settle(self, running: _Running) -> None:
        """What Dramatiq's worker thread does once the actor returns or raises (`Worker.process_message`,
        then `post_process_message`): the after-hooks, then the ack, or the nack of a failed message."""
        message, consumer = running.message, running.consumer
        broker = consumer.broker
        try:
            self._after_hooks(running)
            settle, signal = (consumer.nack, "nack") if message.failed else (consumer.ack, "ack")
            broker.emit_before(signal, message)
            settle(message)
            broker.emit_after(signal, message)
        except BrokerConnectionError as e:  # the consumer lost its connection: RabbitMQ redelivers the message
            logger.info("message %s not settled (%s); it will be delivered again", message.message_id, e)
        except Exception:
            logger.exception("message %s not settled; it will be delivered again", message.message_id)
        finally:
            message.clear_exception()
            with self._lock:
                self._running -= 1
                if not self._running:
                    self._lock.notify_all()

    @staticmethod
    def _after_hooks(running: _Running) -> None:
        """The after-hooks `Worker.process_message` runs for how the message ended: skipped, done or raised."""
        message, error, broker = running.message, running.error, running.consumer.broker
        if isinstance(error, SkipMessage):
            if message.failed:
                message.stuff_exception(error)
            logger.warning("Message %s was skipped.", message)
            emit_after(broker, running.hooks, "skip_message", message)
        elif error is None:
            emit_after(broker, running.hooks, "process_message", message, result=None)
        else:
            message.stuff_exception(error)
            log_failure(broker, message, error)
            try:
                raise error
            except BaseException:  # the hooks run while it is being handled: `Retries` keeps its traceback
                emit_after(broker, running.hooks, "process_message", message, exception=error)

    def before_consumer_thread_shutdown(self, broker, thread):
        """Let the messages in the batcher settle before the consumer's connection closes (its close sends
        their acks)."""
        if getattr(thread, "queue_name", None) != self.queue_name:
            return
        if left_over := self.wait_settled(self.drain_seconds):
            logger.warning("%d message(s) still running at shutdown; RabbitMQ will deliver them again", left_over)

    def wait_settled(self, timeout: float) -> int:
        """Wait up to `timeout` seconds for every dispatched message to be settled; how many are not."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._running and (left := deadline - time.monotonic()) > 0:
                self._lock.wait(left)
            return self._running

    def _message_hooks(self, broker) -> list[Middleware]:
        """The broker's middleware less the thread-bound ones (middleware are only ever added)."""
        if self._seen != len(broker.middleware):
            self._seen = len(broker.middleware)
            self._hooks = [m for m in broker.middleware if not isinstance(m, THREAD_BOUND)]
        return self._hooks


class BulkDispatch(Dispatch):
    """The bulk queue's `Dispatch`. A type of its own: Dramatiq warns, at every start, of two middleware of
    one type (it cannot know that each serves its own queue). A batch's lines carry no hints."""

    def _submit(self, message) -> list:
        return self.batcher.submit_many(message.args)
