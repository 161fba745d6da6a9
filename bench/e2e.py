"""e2e: concurrent HTTP clients POST N jobs (one text each) to the API while the workers run them, all on
RabbitMQ and PostgreSQL, all on this machine's cores. Throughput = N / (first POST sent -> last job
finished, as the database recorded it)."""

from __future__ import annotations

from bench import client, jobs
from bench.infra import Infra
from bench.noise import Meter, settle
from bench.settings import Settings
from bench.stack import Stack, worker_memory
from bench.stats import latency_ms, summary
from bench.texts import request_bodies
from harness.processes import memory_mb


def one_round(settings: Settings, infra: Infra, stack: Stack, bodies: list[bytes]) -> dict:
    infra.truncate_jobs()
    settle(settings.settle)
    with Meter() as meter:
        load = client.load(stack.port, "/inference", bodies, settings.clients)
        accepted = load.count(202)
        if not accepted:
            raise RuntimeError(f"e2e: no POST was accepted (statuses {sorted(set(load.statuses))})")
        jobs.wait_finished(accepted, timeout=120 + accepted / 10, alive=stack.alive)
    line = jobs.timeline()
    span = (max(line.finished) - jobs.utc(load.first_sent)).total_seconds()
    return {
        "throughput": accepted / span,
        "accepted": accepted,
        "refused": len(load.statuses) - accepted,
        "failed": line.failed,
        "seconds": round(span, 3),
        "post_ms": latency_ms(load.seconds),
        "job_ms": latency_ms([(f - c).total_seconds() for c, f in zip(line.created, line.finished, strict=True)]),
        "cores": meter.cores,
    }


def run(settings: Settings, infra: Infra, stack: Stack, progress) -> dict:
    sizes = settings.sizes
    progress("starting the API and the workers" if stack._workers is None else "API and workers up")
    api = stack.api()
    workers = stack.workers()
    rounds = []
    for round_ in range(sizes.e2e_rounds):
        progress(f"round {round_ + 1}/{sizes.e2e_rounds}: {sizes.e2e_n} POSTs from {settings.clients} clients")
        bodies = request_bodies(settings.model, sizes.e2e_n, seed=51 + round_)
        rounds.append(one_round(settings, infra, stack, bodies))
    memory = {"api": memory_mb(api.pid), "workers": worker_memory(workers)}
    infra.truncate_jobs()
    chosen = max(rounds, key=lambda r: r["throughput"])
    return {
        **summary(rounds),
        "unit": "jobs/s (one text each)",
        "clients": settings.clients,
        "processes": settings.processes,
        "threads": settings.worker_threads,
        "web_threads": settings.web_threads,
        "refused": sum(r["refused"] for r in rounds),
        "failed": sum(r["failed"] for r in rounds),
        "post_ms": chosen["post_ms"],
        "job_ms": chosen["job_ms"],
        "rss_mb": memory,
        "detail": rounds,
    }
