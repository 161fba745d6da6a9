"""The HTTP client: keep-alive `http.client` connections, one per client thread. Pure Python, so every
HTTP mode (and both sides of the ingest comparison) is measured with the same client."""

from __future__ import annotations

import http.client
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

JSON = {"content-type": "application/json"}
_RETRYABLE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, http.client.CannotSendRequest)


@dataclass
class Reply:
    status: int
    body: bytes
    seconds: float

    def json(self) -> Any:
        return json.loads(self.body or b"null")


class Connection:
    """One keep-alive HTTP/1.1 connection to 127.0.0.1:port, reopened once if the server closed it."""

    def __init__(self, port: int, *, timeout: float = 60.0):
        self.port, self.timeout = port, timeout
        self._connection: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> Reply:
        for attempt in (1, 2):
            if self._connection is None:
                self._connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            started = time.perf_counter()
            try:
                self._connection.request(method, path, body=body, headers=headers or {})
                response = self._connection.getresponse()
                data = response.read()
            except _RETRYABLE:
                self.close()
                if attempt == 2:
                    raise
                continue
            if response.will_close:
                self.close()
            return Reply(response.status, data, time.perf_counter() - started)
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


@dataclass
class Load:
    """What `load` saw: one status and one latency per request, and when the load ran."""

    statuses: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    first_sent: float = 0.0  # wall clock (time.time), to compare with the database's timestamps
    elapsed: float = 0.0  # from the first request sent to the last answer received

    def count(self, status: int) -> int:
        return sum(1 for s in self.statuses if s == status)


def load(port: int, path: str, bodies: list[bytes], clients: int, headers: dict | None = None) -> Load:
    """POST every body once, `clients` at a time (each client waits for its answer before the next)."""
    headers = {**JSON, **(headers or {})}
    result = Load()
    lock = threading.Lock()
    indices = itertools.count()
    start = threading.Barrier(clients + 1)
    errors: list[BaseException] = []

    def client() -> None:
        connection = Connection(port)
        start.wait()
        try:
            while (index := next(indices)) < len(bodies):
                reply = connection.request("POST", path, bodies[index], headers)
                with lock:
                    result.statuses.append(reply.status)
                    result.seconds.append(reply.seconds)
        except BaseException as e:  # reported by the caller's thread
            errors.append(e)
        finally:
            connection.close()

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    start.wait()
    result.first_sent, started = time.time(), time.perf_counter()
    for thread in threads:
        thread.join()
    result.elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    return result
