"""The webhooks actor: takes a delivery id and posts its job, signed, to the job's webhook.

Declared on the sending side too (the API, the sweeper and the workers send its messages when a job
finishes); only a worker gives it a `deliver` function. Retried with exponential backoff on its own queue,
so slow receivers never hold inference work up; the number of attempts is bounded by the delivery row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import dramatiq

QUEUE = "webhooks"
ACTOR = "deliver_webhook"
OPTIONS = {
    "max_retries": 10,  # the attempt count kept in the delivery row decides first (MAX_ATTEMPTS)
    "min_backoff": 2_000,  # 2 s, 4 s, 8 s, ... (with jitter) up to 5 minutes between attempts:
    "max_backoff": 300_000,  # all 11 attempts within 12 to 24 minutes
    "time_limit": 30_000,  # an attempt ends well before: WEBHOOK_TIMEOUT (at most 25 s) bounds it in all
}
MAX_ATTEMPTS = OPTIONS["max_retries"] + 1
# A pending delivery with no attempt for this long has lost its message: the sweeper sends it again.
QUIET = dt.timedelta(milliseconds=2 * (OPTIONS["max_backoff"] + OPTIONS["time_limit"]))


def declare(broker: dramatiq.Broker, deliver: Callable[[str], None] | None = None, **options) -> dramatiq.Actor:
    """Register the actor on `broker`; `deliver` is None where it is only sent (the API, the sweeper)."""

    def deliver_webhook(delivery_id: str) -> None:
        if deliver is None:
            raise RuntimeError("this process only sends webhook messages")
        deliver(delivery_id)

    return dramatiq.actor(deliver_webhook, broker=broker, actor_name=ACTOR, queue_name=QUEUE, **{**OPTIONS, **options})
