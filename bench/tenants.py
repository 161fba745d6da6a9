"""Two tenants, A and B: two API keys with explicit limits in a keys file, and an `inference-api serve` of
their own that reads it (the stack's API has no keys: the other modes measure it open). The stack's workers
serve both; the fairness mode also runs `inference-api sweep`, whose batch keeper releases batches' lines.

Both keys get the same limits (`LIMITS`, why in bench/README.md): requests a second well under what the
workers do on 2 cores, so one key at its limit cannot take the workers from the other; a backlog of a
fraction of a second of the workers' work; a few waits, so one key's long waits hold a few of the
waitress threads, never most of them."""

from __future__ import annotations

import sys
import uuid

from bench.client import Connection, Reply
from bench.infra import Infra
from bench.settings import Settings
from bench.stack import environment
from harness.processes import Service, wait_http
from harness.servers import free_port

KEY_A = "bench-tenant-a-7f3c91"
KEY_B = "bench-tenant-b-2d8e40"
LIMITS = {"rps": 50, "backlog": 200, "waits": 4}  # each key's, on its line of the keys file
BULK_TABLES = "batch_request, batch, file_chunk, file"


def authorization(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


class TenantApi:
    """`inference-api serve` with API_KEYS_FILE naming A and B with `LIMITS`; with `sweeper`, also
    `inference-api sweep --every 10` (its batch keeper passes every second). Started by `start`."""

    def __init__(self, settings: Settings, infra: Infra, name: str, *, sweeper: bool = False):
        self.settings, self.infra, self.name, self.with_sweeper = settings, infra, name, sweeper
        self.port = free_port()
        self.api: Service | None = None
        self.sweeper: Service | None = None

    def environment(self) -> dict[str, str]:
        keys = self.settings.log_dir / f"{self.name}-keys.txt"
        keys.parent.mkdir(parents=True, exist_ok=True)
        limits = " ".join(f"{name}={value}" for name, value in LIMITS.items())
        keys.write_text(f"# the bench's two tenants\n{KEY_A} {limits}\n{KEY_B} {limits}\n")
        return {**environment(self.settings, self.infra), "API_KEYS_FILE": str(keys)}

    def start(self) -> TenantApi:
        if self.api is None:
            env, log_dir = self.environment(), self.settings.log_dir
            args = [sys.executable, "-m", "inference_api", "serve", "--port", str(self.port)]
            self.api = Service("tenant-api", args, env, log_dir / f"{self.name}-api.log").start()
            if self.with_sweeper:
                args = [sys.executable, "-m", "inference_api", "sweep", "--every", "10"]
                self.sweeper = Service("sweeper", args, env, log_dir / f"{self.name}-sweeper.log").start()
            wait_http(self.api, self.port)
        self.alive()
        return self

    def alive(self) -> None:
        for service in (self.api, self.sweeper):
            if service is not None:
                service.alive()

    def close(self) -> None:
        for service in (self.sweeper, self.api):
            if service is not None:
                service.stop()
        self.api = self.sweeper = None


def upload(connection: Connection, key: str, content: bytes, filename: str = "requests.jsonl") -> Reply:
    """POST /v1/files: `content` as the multipart field `file`, purpose `batch`."""
    boundary = f"bench-{uuid.uuid4().hex}"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/jsonl\r\n\r\n"
    )
    body = head.encode() + content + f"\r\n--{boundary}--\r\n".encode()
    headers = {**authorization(key), "Content-Type": f"multipart/form-data; boundary={boundary}"}
    return connection.request("POST", "/v1/files", body, headers)
