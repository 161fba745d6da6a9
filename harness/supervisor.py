"""A supervisor for a process manager's children, as Kubernetes runs the worker: it restarts the command
whenever it exits, and kills it when it has had no live worker process for `liveness` seconds (`boot_grace`
before the first one), as the liveness probe `inference-api worker-alive` would. Dramatiq's main process
can hang for good when a worker process crashes while it signals that it is ready.

Which children are live worker processes is for the caller to say (`beating`: the pids whose heartbeat is
fresh): the main process has other children too (Dramatiq's metrics server)."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

from harness.processes import Service, children


class Supervisor(threading.Thread):
    liveness = 8.0
    boot_grace = 30.0

    def __init__(self, args: list[str], env: dict, log: Path, beating: Callable[[], set[int]]):
        super().__init__(daemon=True)
        self.args, self.env, self.log, self.beating = args, {**env, "PYTHONUNBUFFERED": "1"}, log, beating
        self.service: Service | None = None
        self.stopping = threading.Event()
        self.restarts = 0

    @property
    def process(self) -> subprocess.Popen | None:
        return self.service.process if self.service else None

    def run(self) -> None:
        while not self.stopping.is_set():
            self.service = Service("worker", self.args, self.env, self.log, append=True).start()
            alive_at, booted = time.monotonic(), False
            while self.service.process.poll() is None and not self.stopping.is_set():
                time.sleep(0.5)
                if self.children():
                    alive_at, booted = time.monotonic(), True
                elif time.monotonic() - alive_at > (self.liveness if booted else self.boot_grace):
                    self.service.process.kill()  # the liveness probe's verdict
                    self.service.process.wait()
            if not self.stopping.is_set():
                self.restarts += 1
                time.sleep(1)

    def children(self) -> list[int]:
        """The worker processes of the current main process that are alive (not zombies) and beat recently."""
        if self.service is None or self.service.process is None:
            return []
        beating = self.beating()
        return [pid for pid in children(self.service.pid) if pid in beating]

    def stop(self, timeout: float = 30.0) -> None:
        self.stopping.set()
        if self.service is not None:
            self.service.stop(timeout)
