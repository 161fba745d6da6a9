"""Workers: broker setup, the actors, the model catalog and the ONNX runtime. Imports `db`.

`setup(broker_url)` is all a sender needs; workers also pass the loaded-model registry.
The `dramatiq` CLI runs `actors.worker`, which builds everything from the environment.
"""

from __future__ import annotations

from dataclasses import dataclass

import dramatiq
import pika.exceptions
from dramatiq.errors import BrokerError
from dramatiq.middleware import Retries

from actors import inference
from actors.batching import Batcher
from actors.broker import make_broker, ping
from actors.middleware import DatabaseConnection, PreloadModels, RetriesExhausted
from inference_api.errors import Unavailable


@dataclass
class Actors:
    broker: dramatiq.Broker
    inference: dramatiq.Actor

    def send_inference(self, job_id) -> None:
        """Enqueue a job; with RabbitMQ, returns only once the broker confirmed the message."""
        try:
            self.inference.send(str(job_id))
        except (BrokerError, pika.exceptions.AMQPError, OSError) as e:
            raise Unavailable(f"the message broker is unavailable ({type(e).__name__})") from e

    def ping(self) -> None:
        try:
            ping(self.broker)
        except (pika.exceptions.AMQPError, OSError) as e:
            raise Unavailable(f"the message broker is unavailable ({type(e).__name__})") from e


def setup(broker_url: str, *, runtimes=None, preload: list[str] = ()) -> Actors:
    """The broker and the actors. Senders pass only the URL; workers also pass their model registry."""
    middleware = [DatabaseConnection()]
    batcher = None
    if runtimes is not None:
        specs = list(runtimes.catalog)
        batcher = Batcher(
            runtimes,
            max_jobs=max(spec.max_batch_size for spec in specs),
            max_wait_ms=min(spec.max_wait_ms for spec in specs),
        )
        if preload:
            middleware.append(PreloadModels(runtimes, list(preload)))
    broker = make_broker(broker_url, middleware=middleware)
    broker.add_middleware(RetriesExhausted(), before=Retries)
    return Actors(broker=broker, inference=inference.declare(broker, batcher))
