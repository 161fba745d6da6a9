"""Receivers that misbehave, for the webhook deliverer's tests: one that trickles its answer a byte at a
time, and an HTTPS one with a self-signed certificate for a name (made with the `openssl` command)."""

from __future__ import annotations

import contextlib
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.webhook_receiver import serving


@dataclass
class Trickler:
    port: int
    closed_after: list[float] = field(default_factory=list)  # seconds from accept to our peer closing


@contextlib.contextmanager
def trickler(every: float = 0.1, for_at_most: float = 10.0) -> Iterator[Trickler]:
    """Reads a request, then sends `HTTP/1.1 200 OK` and a header one byte every `every` seconds, never
    ending the headers, until the client closes the connection (or `for_at_most` seconds pass)."""
    listener = socket.create_server(("127.0.0.1", 0))
    state = Trickler(listener.getsockname()[1])
    stop = threading.Event()

    def serve():
        with contextlib.suppress(OSError):
            conn, _ = listener.accept()
            started = time.monotonic()
            with conn:
                conn.recv(65536)
                payload = b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 100_000
                for byte in payload:
                    if stop.wait(every) or time.monotonic() - started > for_at_most:
                        return
                    try:
                        conn.sendall(bytes([byte]))
                    except OSError:
                        state.closed_after.append(time.monotonic() - started)
                        return

    thread = threading.Thread(target=serve, name="trickler", daemon=True)
    thread.start()
    try:
        yield state
    finally:
        stop.set()
        listener.close()
        thread.join(5)


def self_signed(directory: Path, name: str) -> tuple[Path, Path]:
    """(certificate, key) for `name`, made by the `openssl` command (skips the test without it)."""
    import pytest

    if shutil.which("openssl") is None:
        pytest.skip("no openssl command to make a certificate with")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", f"/CN={name}"),
            *("-addext", f"subjectAltName=DNS:{name}", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@dataclass
class TlsReceiver:
    port: int
    server_names: list[str | None] = field(default_factory=list)  # the SNI of each handshake
    hosts: list[str] = field(default_factory=list)  # the Host header of each request


@contextlib.contextmanager
def tls_receiver(cert: Path, key: Path) -> Iterator[TlsReceiver]:
    """An HTTPS server on 127.0.0.1 answering 204 to every POST, recording the SNI and Host it is sent."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    state: TlsReceiver

    def record_sni(sock, server_name, ctx):
        state.server_names.append(server_name)

    context.sni_callback = record_sni

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            state.hosts.append(self.headers["Host"])
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    class Server(ThreadingHTTPServer):
        def get_request(self):
            conn, address = super().get_request()
            return context.wrap_socket(conn, server_side=True), address

        def handle_error(self, request, client_address):
            pass  # a client refusing our certificate: expected by the tests

    server = Server(("127.0.0.1", 0), Handler)
    state = TlsReceiver(server.server_address[1])
    with serving(server, "tls-receiver"):
        yield state
