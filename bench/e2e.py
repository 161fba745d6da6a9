"""e2e: concurrent HTTP clients POST N jobs (one text each) to the API while the workers run them, all on
RabbitMQ and PostgreSQL, all on this machine's cores. Throughput = N / (first POST sent -> last job
finished, as the database recorded it)."""

from __future__ import annotations

import time

from bench import client, jobs
from bench.infra import Infra
from bench.noise import Meter, settle
from bench.settings import Settings
from bench.stack import Stack, StackRounds, worker_cpu, worker_memory
from bench.stats import latency_ms, median, summary
from harness.processes import cpu_seconds, memory_mb


def one_round(settings: Settings, infra: Infra, stack: Stack, bodies: list[bytes]) -> dict:
    infra.truncate_jobs()
    settle(settings.settle)
    before = cpu_by_tier(stack)
    with Meter() as meter:
        load = client.load(stack.port, "/inference", bodies, settings.clients)
        accepted = load.count(202)
        if not accepted:
            raise RuntimeError(f"e2e: no POST was accepted (statuses {sorted(set(load.statuses))})")
        jobs.wait_finished(accepted, timeout=120 + accepted / 10, alive=stack.alive)
        spent = {tier: cpu_by_tier(stack)[tier] - seconds for tier, seconds in before.items()}
    line = jobs.timeline()
    span = (max(line.finished) - jobs.utc(load.first_sent)).total_seconds()
    return {
        "throughput": accepted / span,
        "accepted": accepted,
        "refused": len(load.statuses) - accepted,
        "failed": line.failed,
        "seconds": round(span, 3),
        # the clients' POSTs alone: when it is most of `seconds`, their latency sets the pace, not the workers
        "posting_seconds": round(load.elapsed, 3),
        "post_ms": latency_ms(load.seconds),
        "job_ms": latency_ms([(f - c).total_seconds() for c, f in zip(line.created, line.finished, strict=True)]),
        "cores": meter.cores,
        # CPU a job by tier; the servers' (PostgreSQL, RabbitMQ) from the cores they kept busy meanwhile
        "cpu_ms_per_job": {
            **{tier: round(1000 * seconds / accepted, 3) for tier, seconds in spent.items()},
            "servers": round(1000 * meter.cores["servers"] * meter.wall / accepted, 3),
        },
    }


def cpu_by_tier(stack: Stack) -> dict[str, float]:
    """CPU seconds used so far by the API, the worker processes and this harness (`clients`: its HTTP clients)."""
    api, workers = cpu_seconds(stack.api().pid), worker_cpu(stack.workers())
    return {"api": api, "workers": workers, "clients": time.process_time()}


class Session(StackRounds):
    """Each round: N POSTs from the clients while the stack's workers run them."""

    seed = 51

    def describe(self) -> str:
        return f"{self.settings.sizes.e2e_n} POSTs from {self.settings.clients} clients"

    def one_round(self, bodies: list[bytes]) -> dict:
        return one_round(self.settings, self.infra, self.stack, bodies)

    def result(self) -> dict:
        rounds, settings = self.rounds, self.settings
        memory = {"api": memory_mb(self.stack.api().pid), "workers": worker_memory(self.stack.workers())}
        self.infra.truncate_jobs()
        chosen = max(rounds, key=lambda r: r["throughput"])
        per_round = [r["cpu_ms_per_job"] for r in rounds]
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
            "seconds": chosen["seconds"],
            "posting_seconds": chosen["posting_seconds"],
            "cores_busy": chosen["cores"]["total"],
            # CPU a job by tier: the median of the rounds, and each round's
            "cpu_ms_per_job": {tier: round(median([r[tier] for r in per_round]), 3) for tier in per_round[0]},
            "rounds_cpu_ms_per_job": per_round,
            "rss_mb": memory,
            "detail": rounds,
        }
