"""What clients do on the bed and what they see: POSTs at a steady pace that retry with their Idempotency-Key
until accepted (each request with its own deadline), and a readiness probe; every answer is recorded with
its time, so a fault's detection and recovery are read from what clients saw, not from the fault's script."""

from __future__ import annotations

import http.client
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlparse

DEADLINE = 30.0  # a request's own deadline: an answer later than this is a hang


@dataclass
class Answer:
    at: float  # when the request was sent (epoch seconds, comparable with the database's clock)
    seconds: float
    status: int  # 599: no answer (connection refused, reset, or the deadline passed)
    retry_after: bool
    hung: bool = False


@dataclass
class Seen:
    posts: list[Answer] = field(default_factory=list)
    probes: list[Answer] = field(default_factory=list)
    accepted: list[str] = field(default_factory=list)


def _call(base: str, method: str, path: str, body: bytes | None, headers: dict) -> tuple[Answer, dict]:
    parsed = urlparse(base)
    sent, started = time.time(), time.monotonic()
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=DEADLINE)
    try:
        connection.request(method, path, body, headers)
        response = connection.getresponse()
        payload = json.loads(response.read() or b"{}")
        status, retry_after, hung = response.status, response.getheader("Retry-After") is not None, False
    except TimeoutError:
        payload, status, retry_after, hung = {}, 599, False, True
    except (OSError, http.client.HTTPException, ValueError):
        payload, status, retry_after, hung = {}, 599, False, False
    finally:
        connection.close()
    return Answer(sent, time.monotonic() - started, status, retry_after, hung), payload


class Traffic:
    """`clients` POSTing threads at `rate` jobs/s in all, until `total` jobs are accepted, plus the probe."""

    def __init__(self, base: str, total: int, rate: float = 8.0, clients: int = 4):
        self.base, self.total, self.rate, self.clients = base, total, rate, clients
        self.seen = Seen()
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.threads = [threading.Thread(target=self._client, args=(i,), daemon=True) for i in range(clients)]
        self.threads.append(threading.Thread(target=self._probe, daemon=True))

    def __enter__(self) -> Traffic:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.done.set()
        for thread in self.threads:
            thread.join(DEADLINE + 5)

    def accepted(self) -> int:
        return len(self.seen.accepted)

    def finished_posting(self) -> bool:
        return self.accepted() >= self.total

    def _client(self, index: int) -> None:
        n = 0
        while not self.done.is_set() and not self.finished_posting():
            body = json.dumps({"inputs": f"distributed bed job {n} from client {index}"}).encode()
            headers = {"content-type": "application/json", "Idempotency-Key": str(uuid.uuid4())}
            while not self.done.is_set():  # the same request until it is accepted
                answer, payload = _call(self.base, "POST", "/inference", body, headers)
                with self.lock:
                    self.seen.posts.append(answer)
                    if answer.status in (200, 202):
                        self.seen.accepted.append(payload["id"])
                if answer.status in (200, 202):
                    break
                time.sleep(0.5)  # deliberate: a client's pause before it retries
            n += 1
            time.sleep(self.clients / self.rate)  # deliberate: the load's pace

    def _probe(self) -> None:
        while not self.done.is_set():
            answer, _ = _call(self.base, "GET", "/readyz", None, {})
            with self.lock:
                self.seen.probes.append(answer)
            time.sleep(0.5)  # deliberate: the probe's period
