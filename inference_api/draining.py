"""Serve with waitress until SIGTERM or SIGINT, then drain: stop accepting, let the requests in flight
finish within a bound, close. What Kubernetes and process managers expect: exit 0, no traceback.

Waitress' own `run()` ends on KeyboardInterrupt only; closing its socket from a signal handler (what we did
before) breaks its select loop with `OSError: Bad file descriptor`. Here the loop runs one step at a time
and the handler only sets a flag.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable

from waitress import wasyncore
from waitress.server import BaseWSGIServer

logger = logging.getLogger(__name__)

STEP = 0.25  # seconds of one loop step: how soon a signal is seen


def serve(server, *, drain_seconds: float, on_stop: Callable[[], None] | None = None) -> str:
    """Run `server` (from `waitress.create_server`) until a signal, drain it, close it; returns the signal's name.
    `on_stop` runs when the drain begins: the API wakes its waiting requests (`web.waiting.STOPPING`), so
    the drain lasts as long as the requests in flight take to answer, never a wait of up to a minute."""
    received: list[str] = []
    stopping = threading.Event()

    def on_signal(number, frame):
        received.append(signal.Signals(number).name)
        stopping.set()

    previous = {number: signal.signal(number, on_signal) for number in (signal.SIGTERM, signal.SIGINT)}
    channels = getattr(server, "map", None) or server._map
    try:
        while not stopping.is_set():
            wasyncore.loop(timeout=STEP, map=channels, use_poll=server.adj.asyncore_use_poll, count=1)
        _stop_accepting(channels)
        if on_stop is not None:
            on_stop()
        deadline = time.monotonic() + drain_seconds
        while _in_flight(server, channels) and time.monotonic() < deadline:
            wasyncore.loop(timeout=0.05, map=channels, use_poll=server.adj.asyncore_use_poll, count=1)
        left = _in_flight(server, channels)
        if left:
            logger.warning("shutdown: %d request(s) still in flight after %s s; closing", left, drain_seconds)
    finally:
        server.task_dispatcher.shutdown(timeout=1)
        wasyncore.close_all(channels)
        for number, handler in previous.items():
            signal.signal(number, handler)
    return received[0] if received else ""


def _stop_accepting(channels) -> None:
    """Close the listening sockets (new connections are refused at once); open connections stay."""
    for listener in [c for c in list(channels.values()) if isinstance(c, BaseWSGIServer)]:
        listener.accepting = False
        listener.del_channel()
        listener.socket.close()


def _in_flight(server, channels) -> int:
    """Requests received and not yet fully answered (idle keep-alive connections do not count)."""
    busy = sum(
        1
        for channel in list(channels.values())
        if getattr(channel, "requests", None) or getattr(channel, "total_outbufs_len", 0)
    )
    dispatcher = server.task_dispatcher
    return busy or dispatcher.active_count or len(dispatcher.queue)
