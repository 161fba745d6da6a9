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


def run(settings: Settings, infra: Infra, stack: Stack, progress) -> dict:
    sizes = settings.sizes
    stack.stop_workers()  # nothing consumes: we measure accepting, not running
    api = stack.api()
    port = free_port()
    pool = texts(sizes.ingest_n, seed=61)
    bodies = [json.dumps({"model": settings.model, "inputs": text}).encode() for text in pool]
    api_rounds, hello_rounds = [], []
    clients = settings.ingest_concurrency
    with hello_service(settings, port) as hello:
        wait_http(hello, port)
        try:
            for round_ in range(sizes.ingest_rounds):
                progress(
                    f"round {round_ + 1}/{sizes.ingest_rounds}: {sizes.ingest_n} POSTs from {clients} "
                    f"clients to the API (no workers), then to the hello-world"
                )
                infra.truncate_jobs()
                settle(settings.settle)
                api_rounds.append(measure(stack.port, bodies, clients))
                infra.purge()
                settle(settings.settle)
                hello_rounds.append(measure(port, bodies, clients))
            memory = {"api": memory_mb(api.pid), "hello": memory_mb(hello.pid)}
        finally:
            infra.purge()
            infra.truncate_jobs()
    chosen = max(api_rounds, key=lambda r: r["throughput"])
    chosen_hello = max(hello_rounds, key=lambda r: r["throughput"])
    return {
        **summary(api_rounds),
        "unit": "accepted POSTs/s",
        "refused": sum(r["refused"] for r in api_rounds),
        "post_ms": chosen["post_ms"],
        "hello": {
            **summary(hello_rounds),
            "post_ms": chosen_hello["post_ms"],
        },
        "clients": clients,
        "web_threads": settings.web_threads,
        "rss_mb": memory,
    }
