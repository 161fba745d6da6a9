"""ingest: accepted POSTs per second against `inference-api serve` (API only; no workers, so the messages
pile up in our queue and are purged after), beside the Falcon hello-world of `bench.hello` on the same
waitress settings, both measured with the same client. Rounds alternate between the two."""

from __future__ import annotations

import json
import sys

from bench import client
from bench.infra import Infra
from bench.noise import Meter, settle
from bench.settings import Settings
from bench.stack import Stack
from bench.stats import latency_ms, summary
from bench.texts import texts
from harness.processes import Service, memory_mb, wait_http
from harness.servers import free_port


def hello_service(settings: Settings, port: int) -> Service:
    args = [sys.executable, "-m", "bench.hello", "--port", str(port), "--threads", str(settings.web_threads)]
    return Service("hello", args, {}, settings.log_dir / "hello.log")


def measure(port: int, bodies: list[bytes], clients: int) -> dict:
    with Meter() as meter:
        load = client.load(port, "/inference", bodies, clients)
    accepted = load.count(202)
    return {
        "throughput": accepted / load.elapsed,
        "accepted": accepted,
        "refused": len(load.statuses) - accepted,
        "post_ms": latency_ms(load.seconds),
        "cores": meter.cores,
    }


class Session:
    """Each round: the stack's workers stopped (nothing consumes: we measure accepting, not running), N POSTs
    to the API, then the same N to the hello-world, kept running between rounds."""

    def __init__(self, settings: Settings, infra: Infra, stack: Stack, progress):
        self.settings, self.infra, self.stack, self.progress = settings, infra, stack, progress
        self.port = free_port()
        self.bodies = [
            json.dumps({"model": settings.model, "inputs": t}).encode() for t in texts(settings.sizes.ingest_n, seed=61)
        ]
        self.api_rounds: list[dict] = []
        self.hello_rounds: list[dict] = []
        self.hello = hello_service(settings, self.port).start()
        wait_http(self.hello, self.port)

    def round(self, index: int) -> None:
        settings, infra, clients = self.settings, self.infra, self.settings.ingest_concurrency
        self.stack.stop_workers()
        self.stack.api()
        self.progress(
            f"{settings.sizes.ingest_n} POSTs from {clients} clients to the API (no workers), then to the hello-world"
        )
        try:
            infra.truncate_jobs()
            settle(settings.settle)
            self.api_rounds.append(measure(self.stack.port, self.bodies, clients))
            infra.purge()
            settle(settings.settle)
            self.hello_rounds.append(measure(self.port, self.bodies, clients))
        finally:
            infra.purge()
            infra.truncate_jobs()

    def result(self) -> dict:
        api_rounds, hello_rounds = self.api_rounds, self.hello_rounds
        memory = {"api": memory_mb(self.stack.api().pid), "hello": memory_mb(self.hello.pid)}
        chosen = max(api_rounds, key=lambda r: r["throughput"])
        chosen_hello = max(hello_rounds, key=lambda r: r["throughput"])
        return {
            **summary(api_rounds),
            "unit": "accepted POSTs/s",
            "refused": sum(r["refused"] for r in api_rounds),
            "post_ms": chosen["post_ms"],
            "hello": {**summary(hello_rounds), "post_ms": chosen_hello["post_ms"]},
            "clients": self.settings.ingest_concurrency,
            "web_threads": self.settings.web_threads,
            "rss_mb": memory,
        }

    def close(self) -> None:
        self.hello.stop()
