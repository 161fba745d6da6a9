"""worker: the queue pre-filled with N jobs (rows inserted, messages sent with the project's own
`actors.setup(...).send_inference`), then `dramatiq actors.worker` started, until all N are saved.

Measured from the database: from the first job's `started_at` to the last job's `finished_at`, so the
workers' boot (imports, forking) is left out. Each round boots the workers anew."""

from __future__ import annotations

import time

from actors.sending import open_sender
from bench import jobs, stack
from bench.infra import Infra
from bench.noise import Meter, settle
from bench.settings import Settings
from bench.stats import best, latency_ms, summary
from bench.texts import texts


def fill(infra: Infra, model: str, pool: list[str]) -> float:
    """Insert one job per text and send its message (broker-confirmed); returns the seconds it took."""
    started = time.perf_counter()
    ids = jobs.insert(pool, model)
    actors = open_sender(infra.broker_url)
    try:
        for job_id in ids:
            actors.send(job_id)
    finally:
        actors.broker.close()
    return time.perf_counter() - started


def one_round(settings: Settings, infra: Infra, pool: list[str], name: str) -> dict:
    infra.truncate_jobs()
    infra.purge()
    fill_seconds = fill(infra, settings.model, pool)
    settle(settings.settle)
    service = stack.workers(settings, infra, name)
    ready_at = None  # wall clock when every worker process had booted (models preloaded)
    cpu_at_ready = done_at_ready = None
    with service, Meter() as meter:
        deadline = time.monotonic() + 120 + len(pool) / 10
        finished = 0
        while finished < len(pool):
            if ready_at is None and service.log.read_text(errors="replace").count(stack.WORKER_READY) >= (
                settings.processes
            ):
                ready_at = time.time()
                cpu_at_ready, done_at_ready = stack.worker_cpu(service), jobs.finished_count()
            if time.monotonic() > deadline:
                raise TimeoutError(f"worker: {finished} of {len(pool)} jobs finished in time:\n{service.tail()}")
            service.alive()
            # Until every process is ready, often (the instant matters); then seldom: each count is a query
            # that competes with the workers it measures for the same cores.
            time.sleep(0.05 if ready_at is None else 0.25)
            finished = jobs.finished_count()
        memory = stack.worker_memory(service)
        cpu = stack.worker_cpu(service) - cpu_at_ready if cpu_at_ready is not None else None
        cores = meter.stop()
    line = jobs.timeline()
    first, last = min(line.started), max(line.finished)
    span = (last - first).total_seconds()
    result = {
        "throughput": line.count / span,
        "jobs": line.count,
        "failed": line.failed,
        "seconds": round(span, 3),
        "fill_seconds": round(fill_seconds, 3),
        "inference_ms": latency_ms([ms / 1000 for ms in line.inference_ms]) if line.inference_ms else None,
        "rss_mb": memory,
        "cores": cores,
    }
    # the worker processes' CPU for each job, all included; none when too short to count (/proc counts 10 ms ticks)
    if cpu and len(pool) > done_at_ready:
        result["cpu_ms_per_job"] = round(1000 * cpu / (len(pool) - done_at_ready), 3)
    if ready_at is not None:
        ready = jobs.utc(ready_at)
        after = sum(1 for f in line.finished if f > ready)
        result["started_before_ready_s"] = round((ready - first).total_seconds(), 3)
        if after >= line.count / 2 and last > ready:
            result["throughput_after_ready"] = round(after / (last - ready).total_seconds(), 1)
    return result


class Session:
    """Each round: the stack's workers stopped (they would drain the queue as it fills), N jobs queued,
    then fresh workers booted on them."""

    def __init__(self, settings: Settings, infra: Infra, stack, progress):
        self.settings, self.infra, self.stack, self.progress = settings, infra, stack, progress
        self.rounds: list[dict] = []

    def round(self, index: int) -> None:
        sizes, settings = self.settings.sizes, self.settings
        self.stack.stop_workers()
        self.progress(
            f"{sizes.worker_n} jobs queued, then dramatiq --processes {settings.processes} "
            f"--threads {settings.worker_threads}"
        )
        pool = texts(sizes.worker_n, seed=31 + index)
        self.rounds.append(one_round(settings, self.infra, pool, f"worker-{index + 1}"))

    def result(self) -> dict:
        rounds = self.rounds
        self.infra.truncate_jobs()
        chosen = max(rounds, key=lambda r: r["throughput"])
        after_ready = [r["throughput_after_ready"] for r in rounds if "throughput_after_ready" in r]
        return {
            **summary(rounds),
            "unit": "jobs/s (one text each)",
            # the first jobs start while the last worker process is still loading its model: counted from the
            # moment every process is ready instead, the steady state the ratios compare (round by round)
            "throughput_after_ready": best(after_ready) if after_ready else None,
            "rounds_steady": [round(r.get("throughput_after_ready") or r["throughput"], 1) for r in rounds],
            "processes": self.settings.processes,
            "threads": self.settings.worker_threads,
            "jobs": chosen["jobs"],
            "failed": sum(r["failed"] for r in rounds),
            "inference_ms": chosen["inference_ms"],
            "rss_mb": chosen["rss_mb"],
            "cpu_ms_per_job": min((r["cpu_ms_per_job"] for r in rounds if "cpu_ms_per_job" in r), default=None),
            "rounds_cpu_ms_per_job": [r.get("cpu_ms_per_job") for r in rounds],
            "detail": rounds,
        }

    def close(self) -> None:
        pass
