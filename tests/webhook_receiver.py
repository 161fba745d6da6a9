"""A real HTTP webhook receiver for tests: a `ThreadingHTTPServer` on 127.0.0.1 that verifies every call's
Standard Webhooks signature with the `standardwebhooks` package, records it, and answers the status codes
it is told to, in turn (the last one from then on)."""

from __future__ import annotations

import base64
import contextlib
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook, WebhookVerificationError


def new_secret() -> str:
    return "whsec_" + base64.b64encode(os.urandom(32)).decode()


@dataclass
class Call:
    headers: dict[str, str]
    body: bytes
    payload: dict | None  # None: the signature did not verify
    answered: int


@dataclass
class Receiver:
    url: str
    secret: str
    answers: list[int]
    calls: list[Call] = field(default_factory=list)

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Call]:
        deadline = time.monotonic() + timeout
        while len(self.calls) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(self.calls) >= count, f"{len(self.calls)} call(s) after {timeout} s, expected {count}"
        return self.calls


@contextlib.contextmanager
def receiver(secret: str, answers: list[int] = (204,)) -> Iterator[Receiver]:
    verifier = Webhook(secret)
    state: Receiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            headers = dict(self.headers.items())
            try:
                payload = verifier.verify(body, headers)
            except WebhookVerificationError:
                payload = None
            code = state.answers[min(len(state.calls), len(state.answers) - 1)] if payload is not None else 401
            state.calls.append(Call(headers, body, payload, code))
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state = Receiver(f"http://127.0.0.1:{server.server_address[1]}/hooks", secret, list(answers))
    with serving(server, "webhook-receiver"):
        yield state


@contextlib.contextmanager
def serving(server: ThreadingHTTPServer, name: str) -> Iterator[None]:
    """`server` answering on a thread of its own for the block, then shut and closed."""
    threading.Thread(target=server.serve_forever, name=name, daemon=True).start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
