"""The HTTP client: one keep-alive HTTP/1.1 connection per client thread, on a plain socket.

The clients share the cores with what they measure, so they are kept light: a request is written as one
prepared byte string and the answer is read by its status line and Content-Length (or chunks), nothing
more; `http.client` parses every answer's headers with the email package (bench/README has what each
costs). Every HTTP mode, and both sides of the ingest comparison, use this same client."""

from __future__ import annotations

import contextlib
import itertools
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

JSON = {"content-type": "application/json"}
_RETRYABLE = (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)


class ProtocolError(Exception):
    """The server's answer is not HTTP/1.1 as this client reads it."""


class ServerClosed(ConnectionError):
    """The server closed the connection before answering."""


@dataclass
class Reply:
    status: int
    body: bytes
    seconds: float

    def json(self) -> Any:
        return orjson.loads(self.body or b"null")  # a tenth of `json.loads`' CPU: the client stays light


def encode(method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> bytes:
    """A whole request as the bytes to send."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")


class Connection:
    """One keep-alive HTTP/1.1 connection to 127.0.0.1:port, reopened once if the server closed it."""

    def __init__(self, port: int, *, timeout: float = 60.0):
        self.port, self.timeout = port, timeout
        self._socket: socket.socket | None = None
        self._buffer = b""

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> Reply:
        return self.send(encode(method, path, body, headers))

    def send(self, request: bytes) -> Reply:
        """Send a request made by `encode` and read its answer."""
        for attempt in (1, 2):
            if self._socket is None:
                self._socket = socket.create_connection(("127.0.0.1", self.port), timeout=self.timeout)
                self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self._buffer = b""
            started = time.perf_counter()
            try:
                self._socket.sendall(request)
                status, body, close = self._read_response()
            except (*_RETRYABLE, ServerClosed):
                self.close()
                if attempt == 2:
                    raise
                continue
            if close:
                self.close()
            return Reply(status, body, time.perf_counter() - started)
        raise AssertionError("unreachable")

    def _read_response(self) -> tuple[int, bytes, bool]:
        head = self._read_until(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        version, _, rest = lines[0].partition(" ")
        if not version.startswith("HTTP/1."):
            raise ProtocolError(f"not an HTTP/1.x status line: {lines[0]!r}")
        status = int(rest[:3])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        close = headers.get("connection", "").lower() == "close" or version == "HTTP/1.0"
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return status, self._read_chunked(), close
        if "content-length" in headers:
            return status, self._read_exactly(int(headers["content-length"])), close
        if status in (204, 304) or 100 <= status < 200:
            return status, b"", close
        return status, self._read_to_close(), True

    def _fill(self) -> None:
        data = self._socket.recv(65536)
        if not data:
            raise ServerClosed("the server closed the connection")
        self._buffer += data

    def _read_until(self, marker: bytes) -> bytes:
        while (end := self._buffer.find(marker)) < 0:
            self._fill()
        found, self._buffer = self._buffer[:end], self._buffer[end + len(marker) :]
        return found

    def _read_exactly(self, size: int) -> bytes:
        while len(self._buffer) < size:
            self._fill()
        found, self._buffer = self._buffer[:size], self._buffer[size:]
        return found

    def _read_chunked(self) -> bytes:
        parts = []
        while size := int(self._read_until(b"\r\n").split(b";")[0], 16):
            parts.append(self._read_exactly(size))
            self._read_until(b"\r\n")
        while self._read_until(b"\r\n"):  # trailers, up to the empty line
            pass
        return b"".join(parts)

    def _read_to_close(self) -> bytes:
        try:
            while True:
                self._fill()
        except ServerClosed:
            body, self._buffer = self._buffer, b""
            return body

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


@dataclass
class Load:
    """What `load` saw: one status and one latency per request, and when the load ran."""

    statuses: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    first_sent: float = 0.0  # wall clock (time.time), to compare with the database's timestamps
    elapsed: float = 0.0  # from the first request sent to the last answer received

    def count(self, status: int) -> int:
        return sum(1 for s in self.statuses if s == status)


@contextlib.contextmanager
def clients_running(port: int, n: int, work: Callable[[Connection], None], *, timeout: float = 60.0) -> Iterator[None]:
    """`n` threads, each running `work` on a keep-alive connection of its own (closed after), released
    together once all have started; the `with` block runs meanwhile in the caller's thread. Leaving it joins
    every thread, then raises here the first error any of them raised."""
    start = threading.Barrier(n + 1)
    errors: list[BaseException] = []

    def client() -> None:
        connection = Connection(port, timeout=timeout)
        start.wait()
        try:
            work(connection)
        except BaseException as e:  # reported by the caller's thread
            errors.append(e)
        finally:
            connection.close()

    threads = [threading.Thread(target=client, daemon=True) for _ in range(n)]
    for thread in threads:
        thread.start()
    start.wait()
    try:
        yield
    finally:
        for thread in threads:
            thread.join()
    if errors:
        raise errors[0]


def run_clients(port: int, n: int, work: Callable[[Connection], None], *, timeout: float = 60.0) -> None:
    """`clients_running` with nothing to do meanwhile: returns once every client is done."""
    with clients_running(port, n, work, timeout=timeout):
        pass


def load(port: int, path: str, bodies: list[bytes], clients: int, headers: dict | None = None) -> Load:
    """POST every body once, `clients` at a time (each client waits for its answer before the next)."""
    headers = {**JSON, **(headers or {})}
    requests = [encode("POST", path, body, headers) for body in bodies]  # prepared before the clock starts
    result = Load()
    lock = threading.Lock()
    indices = itertools.count()

    def client(connection: Connection) -> None:
        while (index := next(indices)) < len(requests):
            reply = connection.send(requests[index])
            with lock:
                result.statuses.append(reply.status)
                result.seconds.append(reply.seconds)

    with clients_running(port, clients, client):
        result.first_sent, started = time.time(), time.perf_counter()
    result.elapsed = time.perf_counter() - started
    return result
