"""The worker tier's Prometheus metrics and job-event log lines.

Families are defined once per process in prometheus-client's default registry. Under the `dramatiq` CLI
the worker entry (`actors.worker`) turns prometheus-client's multiprocess mode on before this module is
imported, so every worker process writes its values to Dramatiq's metrics directory (`dramatiq_prom_db`)
and Dramatiq's exposition server (port `dramatiq_prom_port`, 9191) serves the sum of all processes. In
the embedded mode they stay in memory and the API's `/metrics` shows them. Labels: catalog model names,
statuses, exception class names; never job ids or text.
"""

from __future__ import annotations

import collections
import logging
import os

from dramatiq.middleware.prometheus import Prometheus
from prometheus_client import Counter, Gauge, Histogram, multiprocess

from actors.rabbitmq.exposition import forget_dead_processes, serve_metrics

logger = logging.getLogger("actors.jobs")

SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 600.0)
LABELS = ["queue_name", "actor_name"]

# Dramatiq's own families, as its Prometheus middleware names them, but with durations in seconds.
MESSAGES = Counter("dramatiq_messages", "The total number of messages processed.", LABELS)
MESSAGE_ERRORS = Counter("dramatiq_message_errors", "The total number of errored messages.", LABELS)
MESSAGE_RETRIES = Counter("dramatiq_message_retries", "The total number of retried messages.", LABELS)
MESSAGE_REJECTS = Counter("dramatiq_message_rejects", "The total number of dead-lettered messages.", LABELS)
IN_PROGRESS = Gauge(
    "dramatiq_messages_inprogress", "The number of messages in progress.", LABELS, multiprocess_mode="livesum"
)
DELAYED = Gauge(
    "dramatiq_delayed_messages_inprogress", "The number of delayed messages in memory.", LABELS,
    multiprocess_mode="livesum",
)  # fmt: skip
MESSAGE_SECONDS = Histogram(
    "dramatiq_message_duration_seconds", "The time spent processing messages.", LABELS, buckets=SECONDS
)

# Ours.
WORKER_PROCESSES = Gauge(
    "inference_api_worker_processes", "Worker processes running (booted, not shut down).", multiprocess_mode="livesum"
)
INFERENCE_SECONDS = Histogram(
    "inference_api_inference_duration_seconds", "Model time of one run (a batch of jobs or one job).", ["model"],
    buckets=SECONDS,
)  # fmt: skip
QUEUE_WAIT_SECONDS = Histogram(
    "inference_api_queue_wait_seconds", "From a job's creation to its start by a worker.", ["model"], buckets=SECONDS
)
BATCH_SIZE = Histogram(
    "inference_api_batch_size", "Inputs run together in one model run.", ["model"],
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)  # fmt: skip
INPUTS = Counter("inference_api_inputs_processed", "Inputs run through a model.", ["model"])
TOKENS = Counter("inference_api_tokens_processed", "Tokens the outputs report (embedded or generated).", ["model"])
FINISHED = Counter("inference_api_jobs_finished", "Jobs finished by a worker, by final status.", ["model", "status"])
MODEL_LOAD_SECONDS = Histogram(
    "inference_api_model_load_duration_seconds", "Time to load a model into a worker process.", ["model"],
    buckets=(0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0),
)  # fmt: skip
RUNTIME_ERRORS = Counter(
    "inference_api_runtime_errors", "Model runs that raised, by model and exception type.", ["model", "error"]
)
RUN_AHEAD = Counter(
    "inference_api_jobs_run_ahead",
    "Lone jobs run while their claim was on its way (actors.hints), by whether their output was kept.",
    ["model", "outcome"],
)
SWEEP_RESENDS = Counter("inference_api_sweeper_resends", "Jobs the sweeper sent again.")
SWEEP_LOST = Counter("inference_api_sweeper_lost_jobs", "Jobs the sweeper failed as lost.")
WEBHOOK_ATTEMPTS = Counter(
    "inference_api_webhook_attempts",
    "Webhook delivery attempts by outcome: delivered, retried, failed (retries ran out) or refused (the URL).",
    ["outcome"],
)


class DramatiqMetrics(Prometheus):
    """Dramatiq's Prometheus middleware over the families above: same hooks, same exposition server (a
    fork of the dramatiq CLI's main process; the embedded mode starts none), durations in seconds.

    A crashed worker process never marks itself dead, so its live gauges would stay in the sum: the
    exposition server forgets dead processes before each scrape (and each worker process at boot), and
    `..._inprogress` and `inference_api_worker_processes` count live processes only. The server is Dramatiq's
    with its handler overridden (`actors.rabbitmq.exposition`)."""

    def __init__(self) -> None:
        super().__init__()
        self.total_messages, self.total_errored_messages = MESSAGES, MESSAGE_ERRORS
        self.total_retried_messages, self.total_rejected_messages = MESSAGE_RETRIES, MESSAGE_REJECTS
        self.inprogress_messages, self.inprogress_delayed_messages = IN_PROGRESS, DELAYED
        self.message_durations = _Milliseconds(MESSAGE_SECONDS)

    @property
    def forks(self):
        return [serve_metrics]

    def after_process_boot(self, broker):
        """The families exist already (defined at import, in the mode the process was started in)."""

    def after_worker_boot(self, broker, worker):
        if directory := _multiprocess_dir():
            forget_dead_processes(directory)
        WORKER_PROCESSES.inc()

    def after_worker_shutdown(self, broker, worker):
        WORKER_PROCESSES.dec()
        if directory := _multiprocess_dir():
            multiprocess.mark_process_dead(os.getpid(), directory)


class _Milliseconds:
    """Dramatiq observes milliseconds; the histogram is in seconds."""

    def __init__(self, histogram):
        self.histogram = histogram

    def labels(self, *labels) -> _Milliseconds:
        return _Milliseconds(self.histogram.labels(*labels))

    def observe(self, milliseconds: float) -> None:
        self.histogram.observe(milliseconds / 1000)


def _multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR")


# Job events: counted, and logged at info once a job ends, with its queue wait and attempts (no input or
# output text above debug). Its start is logged at debug: a line a job instead of two halves the log's
# volume and its cost (docs/performance.md).


def started(jobs) -> None:
    for job in jobs:
        if (queued := job.queued_ms()) is not None:
            QUEUE_WAIT_SECONDS.labels(job.model).observe(max(0.0, queued / 1000))
        logger.debug(
            "job %s started",
            job.id,
            extra={"job_id": str(job.id), "model": job.model, "status": "running", "attempts": job.attempts},
        )


def ran(model: str, outputs: list[list[dict]], seconds: float) -> None:
    """One model run over the jobs' inputs (`outputs`: per job, one dict per input)."""
    inputs = sum(len(job_outputs) for job_outputs in outputs)
    INFERENCE_SECONDS.labels(model).observe(seconds)
    BATCH_SIZE.labels(model).observe(inputs)
    INPUTS.labels(model).inc(inputs)
    tokens = sum(o.get("tokens") or 0 for job_outputs in outputs for o in job_outputs if isinstance(o, dict))
    if tokens:
        TOKENS.labels(model).inc(tokens)


def ran_ahead(model: str, kept: bool) -> None:
    """A lone job run ahead of its claim: its output `kept`, or dropped (the claimed row was not the hint's,
    or the job was no longer there to claim)."""
    RUN_AHEAD.labels(model, "kept" if kept else "dropped").inc()


def failed_run(model: str, error: BaseException) -> None:
    RUNTIME_ERRORS.labels(model, type(error).__name__).inc()


def finished(outcomes, written) -> None:
    """The saved outcomes (`written`: the ids actually written; a job canceled meanwhile is not)."""
    written = {str(i) for i in written}
    counts: collections.Counter = collections.Counter()
    for job, fields in outcomes:
        if str(job.id) not in written:
            continue
        counts[job.model, fields["status"]] += 1
        extra = {"job_id": str(job.id), "model": job.model, "status": fields["status"], "attempts": job.attempts}
        if fields.get("inference_ms") is not None:
            extra["ms"] = fields["inference_ms"]
        if (queued := job.queued_ms()) is not None:
            extra["queue_ms"] = queued  # as saved
        if fields.get("failure"):
            extra["failure"] = fields["failure"]
        logger.info("job %s %s", job.id, fields["status"], extra=extra)
        if fields.get("error"):
            logger.debug("job %s error: %s", job.id, fields["error"], extra={"job_id": str(job.id)})
    for (model, status), count in counts.items():
        FINISHED.labels(model, status).inc(count)


def gave_up(job, failure: str) -> None:
    """A job failed outside a batch (Dramatiq gave its message up)."""
    FINISHED.labels(job.model, "failed").inc()
    extra = {"job_id": str(job.id), "model": job.model, "status": "failed", "failure": failure}
    logger.info("job %s failed", job.id, extra=extra)
