"""The environment variables read by other programs than `Config.from_env` (Dramatiq's metrics server, the
client, the Kubernetes manifests): listed on the configuration page beside the settings."""

from __future__ import annotations

from core.settings import Variable

ELSEWHERE = (
    Variable(
        "dramatiq_prom_port", "`9191`", "the port of a worker's metrics server", "Dramatiq's Prometheus middleware"
    ),
    Variable(
        "dramatiq_prom_host",
        "`0.0.0.0`",
        "the interface of a worker's metrics server",
        "Dramatiq's Prometheus middleware",
    ),
    Variable(
        "dramatiq_prom_db",
        "`/tmp/dramatiq-prometheus`",
        "the worker processes' shared metrics directory: give each pod its own (an `emptyDir`)",
        "Dramatiq's Prometheus middleware",
    ),
    Variable(
        "PROMETHEUS_MULTIPROC_DIR",
        "`dramatiq_prom_db`",
        "set by the worker entry (`actors.worker`) to `dramatiq_prom_db`, for prometheus-client's multiprocess "
        "mode; do not set it yourself",
        "`actors.worker`, prometheus-client",
    ),
    Variable(
        "WORKER_PROCESSES",
        "none",
        "worker processes per pod, passed to `dramatiq --processes`",
        "the Kubernetes worker Deployment",
    ),
    Variable(
        "INFERENCE_API_URL", "`http://localhost:8000`", "the API the client talks to", "the Python client, `submit`"
    ),
    Variable(
        "INFERENCE_API_KEY",
        "none",
        "the Bearer key the client sends (one of the server's `API_KEYS`)",
        "the Python client, `submit`",
    ),
)
