"""`/metrics` on a port of its own (METRICS_PORT): a small wsgiref server in a daemon thread.

Prometheus scrapes it a few times a minute, so one thread is plenty, and it never takes a waitress
thread from the API's clients. It dies with the process; nothing there needs draining.
"""

from __future__ import annotations

import logging
import threading
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

logger = logging.getLogger(__name__)


class _QuietHandler(WSGIRequestHandler):
    """No line on stderr per scrape: wsgiref's default writes one for every request."""

    def log_message(self, format: str, *args) -> None:
        logger.debug("metrics: " + format, *args)


def start_metrics_server(app, host: str, port: int) -> WSGIServer:
    """Serve `app` on `host:port` from a daemon thread; returns the server (its `shutdown()` stops it)."""
    server = make_server(host, port, app, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="metrics-server", daemon=True).start()
    logger.info("metrics on http://%s:%d/metrics", host, server.server_port)
    return server
