"""The web tier's Prometheus metrics, the Falcon middleware that counts requests, and `GET /metrics`.

The families live in prometheus-client's default registry (one set per process). `/metrics` shows that
registry (in the embedded mode the worker's families are there too) plus two per-app collectors: the
queue depth, read from the broker at most every `QueueDepth.ttl` seconds whatever the scrape rate, and
the build info. Labels are bounded: route templates (never paths), known methods, status codes, catalog
model names and task names, refusal reasons.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid

import falcon
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest

from core import logs

logger = logging.getLogger("web.requests")

SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

REQUESTS = Counter(
    "inference_api_http_requests", "HTTP requests answered, by route template, method and status.",
    ["route", "method", "status"],
)  # fmt: skip
REQUEST_SECONDS = Histogram(
    "inference_api_http_request_duration_seconds", "Time to answer an HTTP request, waiting included.",
    ["route", "method"], buckets=SECONDS,
)  # fmt: skip
ACCEPTED = Counter("inference_api_jobs_accepted", "Jobs accepted (202 or 200), by model and task.", ["model", "task"])
REFUSED = Counter(
    "inference_api_jobs_refused",
    "POST /inference and POST /v1/embeddings refused, by reason: backlog, key_backlog or rate (429), broker "
    "or database (503), invalid (other 4xx).",
    ["reason"],
)
PUBLISH_SECONDS = Histogram(
    "inference_api_publish_duration_seconds", "Time to publish a group's message (until the broker confirms).",
    buckets=SECONDS,
)  # fmt: skip
GROUP_SIZE = Histogram(
    "inference_api_accept_group_size", "Jobs accepted together: one insert, one commit and one message for all.",
    buckets=(1, 2, 4, 8, 16, 32, 64),
)  # fmt: skip
WAITING = Gauge("inference_api_waiting_requests", "Requests waiting for their job to finish (Prefer: wait, ?wait=).")

REQUEST_ID_MAX = 128
JOB_ROUTES = ("/inference", "/v1/embeddings")  # the routes that create jobs: their refusals are counted


class RequestMetrics:
    """Falcon middleware: the request id (taken from `X-Request-ID` or made, and sent back), one log line
    (with the job's id, model and task when the route accepted one) and the request metrics per request.
    Installed first, so it sees every answer, errors included."""

    def __init__(self, refusals: RefusalLines | None = None):
        self.refusals = refusals or RefusalLines()

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        req.context.started = time.perf_counter()
        req.context.request_id = request_id(req.get_header("X-Request-ID"))
        req.context.log_token = logs.request_id.set(req.context.request_id)
        resp.set_header("X-Request-ID", req.context.request_id)

    def process_response(self, req, resp, resource, req_succeeded: bool) -> None:
        seconds = time.perf_counter() - req.context.get("started", time.perf_counter())
        route = req.uri_template or "unmatched"
        method = req.method if req.method in METHODS else "OTHER"
        status, refused_by = resp.status_code, req.context.get("refused_by")
        REQUESTS.labels(route, method, str(status)).inc()
        REQUEST_SECONDS.labels(route, method).observe(seconds)
        # a key's rate is checked before routing (`web.limits.RequestRate`): its refusals have no route
        if method == "POST" and status >= 400 and (route in JOB_ROUTES or (refused_by and req.path in JOB_ROUTES)):
            REFUSED.labels(refusal(status, refused_by)).inc()
        level, unlogged = self.refusals.level(req.context.get("owner"), refused_by)
        if logger.isEnabledFor(level):
            fields = {"method": method, "route": route, "status": status, "ms": round(seconds * 1000, 3)}
            fields |= job_fields(req.context.get("job")) | ({"unlogged_refusals": unlogged} if unlogged else {})
            logger.log(level, "%s %s %d %.1f ms", method, route, status, seconds * 1000, extra=fields)
        if (token := req.context.get("log_token")) is not None:
            logs.request_id.reset(token)


class RefusalLines:
    """Under a flood one log line per refused request costs the API more than refusing it (about half the CPU
    of a 429): a key's refusals by its own limits (`rate`, `key_backlog`) get their request line at INFO
    once per `every` seconds per key and reason, saying how many were logged at debug level since
    (`unlogged_refusals`); the others go to debug. Every other request keeps its line at INFO."""

    def __init__(self, every: float = 1.0, clock=time.monotonic):
        self.every, self.clock = every, clock
        self._last: dict[tuple[str, str], tuple[float, int]] = {}  # (owner, reason) -> (logged at, unlogged since)
        self._lock = threading.Lock()

    def level(self, owner: str | None, reason: str | None) -> tuple[int, int]:
        """The level of this request's line and, at INFO, how many refusals went to debug before it."""
        if reason not in ("rate", "key_backlog") or owner is None:
            return logging.INFO, 0
        now = self.clock()
        with self._lock:
            logged_at, unlogged = self._last.get((owner, reason), (float("-inf"), 0))
            if now - logged_at < self.every:
                self._last[(owner, reason)] = (logged_at, unlogged + 1)
                return logging.DEBUG, 0
            self._last[(owner, reason)] = (now, 0)
        return logging.INFO, unlogged


def job_fields(job) -> dict[str, str]:
    """The job a request created or answered (`req.context.job`), for its line: one line says both."""
    return {} if job is None else {"job_id": str(job.id), "model": job.model, "task": job.task}


def request_id(header: str | None) -> str:
    """The client's `X-Request-ID` when it is printable ASCII of at most 128 characters, else a new one."""
    if header and len(header) <= REQUEST_ID_MAX and header.isascii() and header.isprintable() and " " not in header:
        return header
    return uuid.uuid4().hex


def refusal(status: int, refused_by: str | None) -> str:
    if status == 429:
        return refused_by or "backlog"  # a model's backlog, else a key's limit: `rate` or `key_backlog`
    if status == 503:
        return refused_by or "broker"
    return "invalid" if status < 500 else "error"


class QueueDepth:
    """Messages ready and consumers per queue, read from the broker at most once per `ttl` seconds (the
    reading scrape pays one short broker connection; the others reuse it). Nothing when unreadable."""

    def __init__(self, read, *, ttl: float = 2.0):
        self.read = read  # () -> {queue: (ready messages, consumers or None)}
        self.ttl = ttl
        self._lock = threading.Lock()
        self._read_at = float("-inf")
        self._depths: dict[str, tuple[int, int | None]] = {}

    def depths(self) -> dict[str, tuple[int, int | None]]:
        with self._lock:
            if time.monotonic() - self._read_at >= self.ttl:
                try:
                    self._depths = self.read()
                except Exception as e:  # the broker is down: no samples rather than stale ones
                    logger.warning("could not read queue depths: %s", type(e).__name__)
                    logger.debug("reading queue depths failed: %s", e)
                    self._depths = {}
                self._read_at = time.monotonic()
            return self._depths

    def collect(self):
        depths = self.depths()
        ready = GaugeMetricFamily(
            "inference_api_queue_messages", "Messages ready in the broker's queue (read every few seconds).",
            labels=["queue"],
        )  # fmt: skip
        consumers = GaugeMetricFamily(
            "inference_api_queue_consumers", "Consumers of the broker's queue (RabbitMQ only).", labels=["queue"]
        )
        for queue, (messages, count) in sorted(depths.items()):
            ready.add_metric([queue], messages)
            if count is not None:
                consumers.add_metric([queue], count)
        yield ready
        yield consumers


class BuildInfo:
    def __init__(self, version: str, commit: str):
        self.version, self.commit = version, commit

    def collect(self):
        info = InfoMetricFamily("inference_api_build", "The running version and commit.")
        info.add_metric([], {"version": self.version, "commit": self.commit})
        yield info


class Metrics:
    """GET /metrics: the process' registry plus this app's queue depth and build info."""

    def __init__(self, *collectors):
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(REGISTRY)
        for collector in collectors:
            self.registry.register(collector)

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = CONTENT_TYPE_PLAIN_0_0_4
        resp.data = generate_latest(self.registry)
