"""The worker side assembled: a broker with the worker middleware and the batching inference actor.

Used by the worker entry (`actors.worker`, for the `dramatiq` CLI) and by the embedded mode, each of which
builds its `WorkerSettings` once from the configuration.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from dramatiq.middleware import Retries

from actors import bulk, inference, webhooks
from actors.batching import Batcher
from actors.broker import DEFAULT_HEARTBEAT, make_broker
from actors.delivery import Deliverer
from actors.metrics import DramatiqMetrics
from actors.middleware import DatabaseConnection, PreloadModels, ReportLoadedModels, RetriesExhausted
from actors.rabbitmq.broker import CoalescingRabbitmqBroker
from actors.rabbitmq.dispatch import BulkDispatch, Dispatch
from actors.registry import Runtimes
from actors.sending import Sender

# A batch holds up to this many ONNX runs' worth of jobs: sorted by tokens, its runs pad less the more
# jobs they are sorted among (docs/architecture.md#batching), and its claim and save are shared by that many more.
RUNS_PER_BATCH = 4


@dataclass(frozen=True)
class WorkerSettings:
    """What a worker's broker and batcher are built from. With `heartbeat` (seconds), each worker process
    records the models it has loaded in the database that often; `preload` names the models each worker
    process loads at boot. Without a webhook secret the webhooks actor is declared but cannot deliver (the
    API refuses webhooks then: none are ever recorded)."""

    broker_url: str
    preload: tuple[str, ...] = ()
    heartbeat: float | None = None
    lease_seconds: float = 30.0
    batch_timeout: float = 120.0
    send_timeout: float = 5.0
    webhook_secret: str = ""
    webhook_allow_private: bool = False
    webhook_timeout: float = 5.0
    queue_type: str = "classic"
    amqp_heartbeat: int = DEFAULT_HEARTBEAT
    bulk_nice: int | None = 19  # the bulk lane's threads' CPU priority (None: the process')

    @classmethod
    def from_config(cls, config, runtimes: Runtimes) -> WorkerSettings:
        """The settings of `config` (a `core.config.Config`); the models to preload as `runtimes` names them."""
        return cls(
            broker_url=config.broker_url,
            preload=tuple(runtimes.preload_names(config.preload_models)),
            heartbeat=config.heartbeat_seconds,
            lease_seconds=config.lease_seconds,
            batch_timeout=config.batch_timeout,
            send_timeout=config.broker_send_timeout,
            webhook_secret=config.webhook_secret,
            webhook_allow_private=config.webhook_allow_private,
            webhook_timeout=config.webhook_timeout,
            queue_type=config.queue_type,
            amqp_heartbeat=config.amqp_heartbeat,
            bulk_nice=config.bulk_nice,
        )


def worker_sender(settings: WorkerSettings | str, runtimes: Runtimes, **overrides) -> Sender:
    """The broker and actors a worker consumes with (and can send through). `settings` may be a broker URL
    alone, with any other setting given by keyword (tests): `worker_sender("stub://", runtimes, preload=[m])`."""
    if isinstance(settings, str):
        settings = WorkerSettings(broker_url=settings)
    settings = dataclasses.replace(settings, **overrides)
    specs = list(runtimes.catalog)
    batcher = Batcher(
        runtimes,
        max_jobs=RUNS_PER_BATCH * max(spec.max_batch_size for spec in specs),
        max_wait_ms=min(spec.max_wait_ms for spec in specs),
        lease_seconds=settings.lease_seconds,
        batch_timeout=settings.batch_timeout,
        bulk_nice=settings.bulk_nice,
    )
    middleware = [DramatiqMetrics(), DatabaseConnection()]
    if settings.heartbeat:
        middleware.append(ReportLoadedModels(runtimes, every=settings.heartbeat))
    if settings.preload:
        middleware.append(PreloadModels(runtimes, list(settings.preload)))
    broker = make_broker(
        settings.broker_url,
        middleware=middleware,
        send_timeout=settings.send_timeout,
        queue_type=settings.queue_type,
        heartbeat=settings.amqp_heartbeat,
    )
    secret = settings.webhook_secret
    deliver = (
        Deliverer(secret, allow_private=settings.webhook_allow_private, timeout=settings.webhook_timeout)
        if secret
        else None
    )
    sender = Sender(broker, inference.declare(broker, batcher), webhooks.declare(broker, deliver), batcher=batcher)
    bulk.declare(broker, batcher)  # the bulk lane: its jobs go to the same batcher's bulk lane
    batcher.on_saved = sender.deliver_webhooks
    broker.add_middleware(RetriesExhausted(sender), before=Retries)
    if isinstance(broker, CoalescingRabbitmqBroker):  # RabbitMQ: the consumer hands messages to the batcher
        for dispatch in (
            Dispatch(batcher),
            BulkDispatch(bulk.BulkSubmitter(batcher), queue_name=bulk.QUEUE, actor_name=bulk.ACTOR),
        ):
            broker.add_middleware(dispatch)
            broker.dispatchers[dispatch.queue_name] = dispatch
    return sender
