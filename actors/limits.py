"""The one time bound on a message's work, the same in the embedded mode and on RabbitMQ.

`batch_timeout` (seconds, `BATCH_TIMEOUT`) bounds a batch: the batcher checks it between ONNX runs and
hands the jobs it has not reached back as `BatchTimeout`, and their messages are retried. Every message's
jobs go through the batcher in both modes (from the embedded mode's worker threads, from the RabbitMQ
consumer's dispatch path), so this is the bound of a message's work in both.

Dramatiq's `TimeLimit` can only apply where a worker thread runs the actor and waits on the batcher (the
embedded mode); on RabbitMQ no thread runs the message (`actors.rabbitmq.dispatch`). So that it never
cuts short what the batcher would finish within its bound, the inference actor's `time_limit` is derived
from `batch_timeout`: the batch ahead of the message's, its own, and its save. It only stops a thread
waiting on a batcher that no longer answers (docs/internals.md#time-limits-in-both-modes).
"""

from __future__ import annotations

TIME_LIMIT_BATCHES = 3  # a message's jobs wait for the batch ahead of theirs, run in their own, then are saved


def actor_time_limit_ms(batch_timeout: float) -> int:
    """The inference actor's Dramatiq `time_limit` (milliseconds) for a batcher bound by `batch_timeout`."""
    return round(TIME_LIMIT_BATCHES * batch_timeout * 1000)
