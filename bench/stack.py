"""The project's own processes, started as the Procfile runs them: `inference-api serve` (the API only)
and `dramatiq actors.worker`, on our database and vhost."""

from __future__ import annotations

import sys
from pathlib import Path

from bench.infra import Infra
from bench.settings import Settings
from bench.texts import request_bodies
from harness.processes import Service, cpu_seconds, memory_mb, wait_http
from harness.servers import free_port

WORKER_READY = "Worker process is ready for action."  # dramatiq logs it per process, after worker boot


def environment(settings: Settings, infra: Infra) -> dict[str, str]:
    return {
        "DATABASE_URL": infra.database_url,
        "BROKER_URL": infra.broker_url,
        "MODELS_DIR": str(settings.models_dir),
        "PRELOAD_MODELS": settings.model,
        "WEB_THREADS": str(settings.web_threads),
        "ORT_THREADS": "1",
        "LOG_LEVEL": "INFO",
        "MAX_BACKLOG": "1000000",  # ingest piles messages up with no worker: measure accepting, not refusing
    }


def workers(settings: Settings, infra: Infra, log_name: str) -> Service:
    """The dramatiq CLI over actors.worker (not started yet)."""
    args = [sys.executable, "-m", "dramatiq", "actors.worker"]
    args += ["--processes", str(settings.processes), "--threads", str(settings.worker_threads)]
    return Service("workers", args, environment(settings, infra), settings.log_dir / f"{log_name}.log")


def api(settings: Settings, infra: Infra, port: int, log_name: str) -> Service:
    """`inference-api serve` with BROKER_URL set: the API only (not started yet)."""
    args = [sys.executable, "-m", "inference_api", "serve", "--port", str(port)]
    return Service("api", args, environment(settings, infra), settings.log_dir / f"{log_name}.log")


def worker_memory(service: Service) -> list[dict[str, float]]:
    """RSS of each dramatiq worker process: the CLI's children that run models (the parent only supervises;
    its other child, Dramatiq's metrics server, runs none)."""
    return [memory_mb(pid) for pid in service.children() if _runs_models(pid)]


def worker_cpu(service: Service) -> float:
    """CPU seconds the dramatiq worker processes have used so far."""
    return sum(cpu_seconds(pid) for pid in service.children() if _runs_models(pid))


def _runs_models(pid: int) -> bool:
    try:
        return "onnxruntime" in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


class Stack:
    """The API and the workers, started on first need and shared by the HTTP modes; `close()` stops both."""

    def __init__(self, settings: Settings, infra: Infra):
        self.settings, self.infra = settings, infra
        self.port = free_port()
        self._api: Service | None = None
        self._workers: Service | None = None

    def api(self) -> Service:
        if self._api is None:
            self._api = api(self.settings, self.infra, self.port, "stack-api").start()
            wait_http(self._api, self.port)
        self._api.alive()
        return self._api

    def workers(self) -> Service:
        if self._workers is None:
            self._workers = workers(self.settings, self.infra, "stack-workers").start()
            self._workers.wait_for_log(WORKER_READY, self.settings.processes)
        self._workers.alive()
        return self._workers

    def alive(self) -> None:
        for service in (self._api, self._workers):
            if service is not None:
                service.alive()

    def stop_workers(self) -> None:
        if self._workers is not None:
            self._workers.stop()
            self._workers = None

    def close(self) -> None:
        try:
            self.stop_workers()
        finally:
            if self._api is not None:
                self._api.stop()
                self._api = None


class StackRounds:
    """A mode whose rounds run against the stack (the API and the workers up): each round sends `e2e_n`
    request bodies through the subclass' `one_round`, and `result` makes the mode's figure of its rounds."""

    seed = 0  # each mode its own texts: round `index` is drawn with `seed + index`

    def __init__(self, settings: Settings, infra: Infra, stack: Stack, progress):
        self.settings, self.infra, self.stack, self.progress = settings, infra, stack, progress
        self.rounds: list[dict] = []

    def describe(self) -> str:
        raise NotImplementedError

    def one_round(self, bodies: list[bytes]) -> dict:
        raise NotImplementedError

    def round(self, index: int) -> None:
        stack = self.stack
        self.progress("starting the API and the workers" if stack._workers is None else "API and workers up")
        stack.api()
        stack.workers()
        self.progress(self.describe())
        bodies = request_bodies(self.settings.model, self.settings.sizes.e2e_n, seed=self.seed + index)
        self.rounds.append(self.one_round(bodies))

    def close(self) -> None:
        pass
