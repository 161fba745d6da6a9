"""The worker tier's metrics in one process (the embedded mode's way): Dramatiq's families, ours, and
the job-event log lines."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from prometheus_client import REGISTRY, generate_latest

from actors.sending import open_sender
from actors.setup import worker_sender
from actors.sweeper import sweep
from core.errors import ModelError
from db import Job, Status
from db.base import utcnow
from tests.doubles import FakeModel, FakeRuntimes
from tests.promtool import check_metrics, families

MODEL = "all-MiniLM-L6-v2"


def sample(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


class TokenModel(FakeModel):
    def __call__(self, inputs, **parameters):
        return [{**output, "tokens": 3} for output in super().__call__(inputs, **parameters)]


@pytest.fixture
def run(database, stub_worker):
    def run(model, *jobs):
        actors = worker_sender("stub://", FakeRuntimes(model))
        stub_worker(actors.broker, threads=4)
        for job in jobs:
            actors.send(job.id)
        actors.broker.join(actors.actor.queue_name, timeout=10_000)
        return actors

    return run


def new_job(inputs=("hi", "there")) -> Job:
    return Job.create(model=MODEL, task="feature-extraction", inputs=list(inputs))


def test_jobs_run_by_a_worker_are_counted_by_model_and_final_status(run):
    labels = {"queue_name": "inference", "actor_name": "inference"}
    before = {
        "messages": sample("dramatiq_messages_total", **labels),
        "runs": sample("inference_api_inference_duration_seconds_count", model=MODEL),
        "waits": sample("inference_api_queue_wait_seconds_count", model=MODEL),
        "batch": sample("inference_api_batch_size_sum", model=MODEL),
        "inputs": sample("inference_api_inputs_processed_total", model=MODEL),
        "tokens": sample("inference_api_tokens_processed_total", model=MODEL),
        "succeeded": sample("inference_api_jobs_finished_total", model=MODEL, status="succeeded"),
        "durations": sample("dramatiq_message_duration_seconds_count", **labels),
    }
    run(TokenModel(), new_job(), new_job(), new_job(["one"]))
    assert sample("dramatiq_messages_total", **labels) - before["messages"] == 3
    assert sample("dramatiq_message_duration_seconds_count", **labels) - before["durations"] == 3
    assert sample("inference_api_queue_wait_seconds_count", model=MODEL) - before["waits"] == 3
    assert sample("inference_api_inference_duration_seconds_count", model=MODEL) > before["runs"]
    assert sample("inference_api_batch_size_sum", model=MODEL) - before["batch"] == 5  # inputs, however batched
    assert sample("inference_api_inputs_processed_total", model=MODEL) - before["inputs"] == 5
    assert sample("inference_api_tokens_processed_total", model=MODEL) - before["tokens"] == 15
    assert sample("inference_api_jobs_finished_total", model=MODEL, status="succeeded") - before["succeeded"] == 3
    assert sample("dramatiq_messages_inprogress", **labels) == 0


def test_a_model_error_is_counted_by_type_and_its_job_as_failed(run):
    errors = sample("inference_api_runtime_errors_total", model=MODEL, error="ModelError")
    failed = sample("inference_api_jobs_finished_total", model=MODEL, status="failed")
    job = new_job()
    run(FakeModel(fail=ModelError("bad input")), job)
    assert Job.get_by_id(job.id).status == Status.FAILED
    assert sample("inference_api_runtime_errors_total", model=MODEL, error="ModelError") == errors + 1
    assert sample("inference_api_jobs_finished_total", model=MODEL, status="failed") == failed + 1


def test_the_sweeper_counts_its_resends_and_the_jobs_it_fails_as_lost(database):
    resends, lost = sample("inference_api_sweeper_resends_total"), sample("inference_api_sweeper_lost_jobs_total")
    old = utcnow() - dt.timedelta(hours=1)
    Job.create(model="m", task="feature-extraction", inputs=["x"], created_at=old)
    Job.create(model="m", task="feature-extraction", inputs=["x"], created_at=old, sweeps=3)
    report = sweep(open_sender("stub://"), queued_after=dt.timedelta(minutes=10), max_sweeps=3)
    assert (report.resent, report.failed) == (1, 1)
    assert sample("inference_api_sweeper_resends_total") == resends + 1
    assert sample("inference_api_sweeper_lost_jobs_total") == lost + 1


def test_the_in_process_exposition_has_both_families_and_passes_promtool(run):
    run(TokenModel(), new_job())
    text = generate_latest(REGISTRY).decode()
    assert {
        "dramatiq_messages_total",
        "dramatiq_message_duration_seconds",
        "inference_api_inference_duration_seconds",
        "inference_api_batch_size",
        "inference_api_queue_wait_seconds",
    } <= families(text)
    assert "dramatiq_message_duration_milliseconds" not in text  # base units: seconds
    check_metrics(text)


def test_job_events_are_logged_with_id_model_status_and_no_input_text(run, caplog):
    job = new_job(["a private sentence"])
    with caplog.at_level(logging.INFO, logger="actors.jobs"):
        run(TokenModel(), job)
    events = [r for r in caplog.records if getattr(r, "job_id", None) == str(job.id)]
    assert [r.status for r in events] == ["succeeded"]  # one line a job at info: when it ends
    (event,) = events
    assert event.model == MODEL and event.ms >= 0 and event.queue_ms >= 0 and event.attempts == 1
    assert "a private sentence" not in caplog.text


def test_a_job_start_is_logged_at_debug(run, caplog):
    job = new_job(["a private sentence"])
    with caplog.at_level(logging.DEBUG, logger="actors.jobs"):
        run(TokenModel(), job)
    events = [r for r in caplog.records if getattr(r, "job_id", None) == str(job.id) and hasattr(r, "status")]
    assert [(r.levelno, r.status) for r in events] == [(logging.DEBUG, "running"), (logging.INFO, "succeeded")]
    assert events[0].attempts == 1


def test_a_worker_process_that_died_without_a_word_is_no_longer_counted_live(tmp_path):
    """Several processes, one exposition (prometheus-client's multiprocess mode, as under the dramatiq CLI)."""
    import os
    import subprocess
    import sys

    from prometheus_client import CollectorRegistry
    from prometheus_client.multiprocess import MultiProcessCollector

    from actors.metrics import forget_dead_processes

    script = "from actors.metrics import WORKER_PROCESSES, INPUTS\nWORKER_PROCESSES.inc()\nINPUTS.labels('m').inc(2)"
    for _ in range(2):  # two processes that boot and die (no shutdown hook ran)
        subprocess.run(
            [sys.executable, "-c", script], env=os.environ | {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}, check=True
        )

    def value(name, **labels):
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(tmp_path))
        return registry.get_sample_value(name, labels)

    assert value("inference_api_worker_processes") == 2
    assert value("inference_api_inputs_processed_total", model="m") == 4
    forget_dead_processes(str(tmp_path))
    assert not value("inference_api_worker_processes")
    assert value("inference_api_inputs_processed_total", model="m") == 4  # counters keep what dead processes did


def test_a_job_dramatiq_gives_up_on_is_counted_failed_with_its_retries(database, stub_worker, monkeypatch):
    from actors.batching import Batcher

    def database_gone(self, job_ids):
        raise ConnectionError("database went away")

    monkeypatch.setattr(Batcher, "submit_many", database_gone)
    labels = {"queue_name": "inference", "actor_name": "inference"}
    failed = sample("inference_api_jobs_finished_total", model=MODEL, status="failed")
    retries = sample("dramatiq_message_retries_total", **labels)
    errors = sample("dramatiq_message_errors_total", **labels)
    actors = worker_sender("stub://", FakeRuntimes(FakeModel()))
    actors.actor.options.update(max_retries=1, min_backoff=10, max_backoff=20)
    stub_worker(actors.broker)
    actors.send(new_job().id)
    actors.broker.join(actors.actor.queue_name, timeout=10_000, fail_fast=False)
    assert sample("inference_api_jobs_finished_total", model=MODEL, status="failed") == failed + 1
    assert sample("dramatiq_message_retries_total", **labels) == retries + 1
    assert sample("dramatiq_message_errors_total", **labels) == errors + 2
