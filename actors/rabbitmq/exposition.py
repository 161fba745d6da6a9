"""Dramatiq's Prometheus exposition server, forgetting dead worker processes before each scrape.

Dramatiq's `Prometheus` middleware forks an exposition server from the CLI's main process (its `forks`);
the server's handler, the private `dramatiq.middleware.prometheus._metrics_handler`, serves the sum of every
process' values in prometheus-client's multiprocess directory (`DB_PATH`). A crashed worker process never
marks itself dead, so its live gauges would stay in that sum: here the handler first marks dead the
processes whose files remain but which no longer run, then serves as Dramatiq does. The server listens
where Dramatiq's would (`HTTP_HOST`, `HTTP_PORT`)
(docs/internals.md#the-metrics-exposition-forgetting-dead-processes).
"""

from __future__ import annotations

from http.server import HTTPServer
from pathlib import Path

from dramatiq.middleware import prometheus
from prometheus_client import multiprocess

from actors.liveness import running


class ForgettingMetricsHandler(prometheus._metrics_handler):  # Dramatiq's (private) handler: every process' sum
    def do_GET(self):
        forget_dead_processes(prometheus.DB_PATH)
        super().do_GET()


def serve_metrics():
    """Dramatiq's exposition server (a fork of the CLI's main process), forgetting dead processes first."""
    HTTPServer((prometheus.HTTP_HOST, prometheus.HTTP_PORT), ForgettingMetricsHandler).serve_forever()


def forget_dead_processes(directory: str) -> None:
    """Mark dead the processes whose live-gauge files remain in `directory` (killed, crashed)."""
    for path in Path(directory).glob("gauge_live*_*.db"):
        pid = int(path.stem.rsplit("_", 1)[1])
        if not running(pid):
            multiprocess.mark_process_dead(pid, directory)
