"""An httpcore network backend for webhooks: connects only to addresses checked beforehand, and bounds each
attempt by one deadline.

A delivery attempt runs inside `pinned(Attempt(...))`: the host name of its URL, the addresses that name
resolved to when it was checked (`core.urls.webhook_destination`), and a deadline on the monotonic clock.
`connect_tcp` connects to those addresses, in turn, and to nothing else (it never resolves a name itself),
so a name whose DNS answer changes between the check and the connection (DNS rebinding) cannot lead it
elsewhere. The URL keeps the host name, so the Host header, the TLS server name (SNI) and the certificate
check are all the name's. A connection kept alive is reused only for the same scheme, name and port: its
address was checked by an earlier attempt.

Every connect, TLS handshake, read and write is given at most the time left until the deadline, recomputed
at each socket call, so a receiver that trickles its answer a byte at a time is cut off at the deadline, as
one that never answers is: `httpcore.ReadTimeout` (or Connect-, WriteTimeout) and the connection closed.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass

import httpcore


@dataclass(frozen=True)
class Attempt:
    host: str  # the URL's host name
    addresses: tuple[str, ...]  # the checked addresses of `host`: the only ones connected to
    deadline: float  # time.monotonic() after which the attempt fails

    def left(self, timeout: float | None, error: type[httpcore.TimeoutException]) -> float:
        """The time an operation may take: `timeout`, cut to what is left before the deadline."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise error("the delivery attempt's deadline has passed")
        return left if timeout is None else min(timeout, left)


_attempt: ContextVar[Attempt | None] = ContextVar("webhook_attempt", default=None)


@contextlib.contextmanager
def pinned(attempt: Attempt) -> Iterator[Attempt]:
    """Connections opened in this block (this thread) go to `attempt`'s addresses, within its deadline."""
    token = _attempt.set(attempt)
    try:
        yield attempt
    finally:
        _attempt.reset(token)


def _current() -> Attempt:
    attempt = _attempt.get()
    if attempt is None:
        raise httpcore.ConnectError("no delivery attempt: a webhook connection is opened only within `pinned`")
    return attempt


class PinnedBackend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend | None = None):
        self._inner = inner or httpcore.SyncBackend()

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        attempt = _current()
        if host.lower() != attempt.host.lower() or not attempt.addresses:
            raise httpcore.ConnectError(f"no checked address for {host!r}")
        error: Exception | None = None
        for address in attempt.addresses:  # in the resolver's order, as socket.create_connection tries them
            try:
                stream = self._inner.connect_tcp(
                    address,
                    port,
                    timeout=attempt.left(timeout, httpcore.ConnectTimeout),
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore.ConnectError as e:
                error = e
            else:
                return DeadlineStream(stream)
        raise error

    def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise httpcore.ConnectError("webhooks are not sent over Unix sockets")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class DeadlineStream(httpcore.NetworkStream):
    """A stream whose every operation ends by the current attempt's deadline (outside one: its own timeout)."""

    def __init__(self, inner: httpcore.NetworkStream):
        self._inner = inner

    @staticmethod
    def _left(timeout: float | None, error: type[httpcore.TimeoutException]) -> float | None:
        attempt = _attempt.get()
        return timeout if attempt is None else attempt.left(timeout, error)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._left(timeout, httpcore.ReadTimeout))  # one recv: returns early

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        """One `send` at a time, each given only the time left (the inner stream's loop would give each
        `send` the whole timeout again, so a receiver reading slowly could stretch it without end)."""
        sock = self._inner.get_extra_info("socket")
        view = memoryview(buffer)
        try:
            while view:
                sock.settimeout(self._left(timeout, httpcore.WriteTimeout))
                view = view[sock.send(view) :]
        except TimeoutError as e:
            raise httpcore.WriteTimeout(e) from e
        except OSError as e:
            raise httpcore.WriteError(e) from e

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None) -> DeadlineStream:
        left = self._left(timeout, httpcore.ConnectTimeout)  # the handshake: one deadline across its reads
        return DeadlineStream(self._inner.start_tls(ssl_context, server_hostname=server_hostname, timeout=left))

    def get_extra_info(self, info: str):
        return self._inner.get_extra_info(info)
