"""The worker side assembled: a broker with the worker middleware and the batching inference actor.

Used by the worker entry (`actors.worker`, for the `dramatiq` CLI) and by the embedded mode.
"""

from __future__ import annotations

from dramatiq.middleware import Retries

from actors import inference, webhooks
from actors.batching import Batcher
from actors.broker import make_broker
from actors.consumer import CoalescingRabbitmqBroker
from actors.delivery import Deliverer
from actors.dispatch import Dispatch
from actors.metrics import DramatiqMetrics
from actors.middleware import DatabaseConnection, PreloadModels, ReportLoadedModels, RetriesExhausted
from actors.registry import Runtimes
from actors.sending import Sender

# A batch holds up to this many ONNX runs' worth of jobs: sorted by tokens, its runs pad less the more
# jobs they are sorted among (README, Batching), and its claim and save are shared by that many more.
RUNS_PER_BATCH = 4


def worker_sender(
    broker_url: str,
    runtimes: Runtimes,
    *,
    preload: list[str] = (),
    heartbeat: float | None = None,
    lease_seconds: float = 30.0,
    batch_timeout: float = 120.0,
    send_timeout: float = 5.0,
    webhook_secret: str = "",
    webhook_allow_private: bool = False,
) -> Sender:
    """The broker and actors a worker consumes with (and can send through). With `heartbeat` (seconds),
    each worker process records the models it has loaded in the database that often. Without a webhook
    secret the webhooks actor is declared but cannot deliver (the API refuses webhooks then: none are
    ever recorded)."""
    specs = list(runtimes.catalog)
    batcher = Batcher(
        runtimes,
        max_jobs=RUNS_PER_BATCH * max(spec.max_batch_size for spec in specs),
        max_wait_ms=min(spec.max_wait_ms for spec in specs),
        lease_seconds=lease_seconds,
        batch_timeout=batch_timeout,
    )
    middleware = [DramatiqMetrics(), DatabaseConnection()]
    if heartbeat:
        middleware.append(ReportLoadedModels(runtimes, every=heartbeat))
    if preload:
        middleware.append(PreloadModels(runtimes, list(preload)))
    broker = make_broker(broker_url, middleware=middleware, send_timeout=send_timeout)
    deliver = Deliverer(webhook_secret, allow_private=webhook_allow_private) if webhook_secret else None
    sender = Sender(broker, inference.declare(broker, batcher), webhooks.declare(broker, deliver))
    batcher.on_saved = sender.deliver_webhooks
    broker.add_middleware(RetriesExhausted(sender), before=Retries)
    if isinstance(broker, CoalescingRabbitmqBroker):  # RabbitMQ: the consumer hands messages to the batcher
        dispatch = Dispatch(batcher)
        broker.add_middleware(dispatch)
        broker.dispatchers[dispatch.queue_name] = dispatch
    return sender
