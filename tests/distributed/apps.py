"""The project's processes on the test bed, started as the Procfile starts them (`inference-api serve`, a
supervised `dramatiq actors.worker`, `inference-api sweep`), each on its test host: inside the bed's network
namespace for its role when the bed has one (the web then listens on the namespace's address), else on
loopback. Each is given every server's address as seen from its own host."""

from __future__ import annotations

import os
import subprocess
import time
import urllib.request
from pathlib import Path

from actors.liveness import alive
from harness.processes import Service, command
from harness.servers import free_port
from harness.supervisor import Supervisor


class Apps:
    def __init__(
        self, bed, database: str, vhost: str, workdir: Path, models_dir: Path, *, multi_host: bool = False, **settings
    ):
        self.bed, self.workdir, self.multi_host = bed, workdir, multi_host
        self.port = free_port()
        self.host = bed.address("web")
        self.base = f"http://{self.host}:{self.port}"
        self.settings = {
            "MODELS_DIR": str(models_dir),
            "PORT": str(self.port),
            "HOST": self.host,
            "ALLOW_OPEN": "1",  # the web listens on its test host's own address, reached only by the bed
            "SWEEP_AFTER": "20",
            "SWEEP_EVERY": "5",
            "LEASE_SECONDS": "15",
            "LOG_LEVEL": "WARNING",
            "QUEUE_TYPE": "quorum",
            "PYTHONUNBUFFERED": "1",
            **settings,
        }
        self.database, self.vhost = database, vhost
        self.web: Service | None = None
        self.sweeper: Service | None = None
        self.worker: Supervisor | None = None

    def env(self, role: str) -> dict[str, str]:
        urls = {
            "DATABASE_URL": self.bed.database_url(self.database, role, self.multi_host),
            "BROKER_URL": self.bed.broker_url(self.vhost, role),
        }
        return os.environ | urls | self.settings

    def start(self, processes: int = 2, threads: int = 8) -> Apps:
        self.workdir.mkdir(parents=True, exist_ok=True)
        subprocess.run([command("inference-api"), "migrate"], env=self.env("web"), check=True, capture_output=True)
        self.web = Service(
            "web",
            [*self.bed.prefix("web"), command("inference-api"), "serve"],
            self.env("web"),
            self.workdir / "web.log",
        ).start()
        sweep = [command("inference-api"), "sweep", "--every", self.settings["SWEEP_EVERY"]]
        self.sweeper = Service(
            "sweeper", self.bed.prefix("workers") + sweep, self.env("workers"), self.workdir / "sweeper.log"
        ).start()
        heartbeats = self.workdir / "heartbeats"
        worker = [command("dramatiq"), "actors.worker", "--processes", str(processes), "--threads", str(threads)]
        worker += ["--worker-fork-timeout", "1000", "--worker-shutdown-timeout", "5000"]
        env = self.env("workers") | {"WORKER_HEARTBEAT_DIR": str(heartbeats)}
        self.worker = Supervisor(
            self.bed.prefix("workers") + worker,
            env,
            self.workdir / "worker.log",
            lambda: set(alive(heartbeats, Supervisor.liveness)),
        )
        self._wait_web()
        self.worker.start()
        return self

    def _wait_web(self) -> None:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            self.web.alive()
            try:
                with urllib.request.urlopen(f"{self.base}/healthz", timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise TimeoutError(f"web did not answer at {self.base}:\n{self.web.tail()}")

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop(30)
        for service in (self.web, self.sweeper):
            if service is not None:
                service.stop(15)
