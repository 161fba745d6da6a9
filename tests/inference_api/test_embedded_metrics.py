"""The embedded mode's one `/metrics`: both tiers' families in one exposition, and no second server."""

import socket
import urllib.request

import pytest

from tests.processes import http, serving, wait_for_job
from tests.promtool import check_metrics, families
from tests.servers import free_port

pytestmark = pytest.mark.slow


def test_one_metrics_endpoint_shows_web_and_worker_families_after_a_few_jobs(tmp_path, models_dir):
    dramatiq_port = free_port()
    with serving(tmp_path, models_dir, dramatiq_prom_port=str(dramatiq_port)) as (base, _):
        for text in ("Vai Corinthians", "Bom dia", "Good morning"):
            status, job = http("POST", f"{base}/inference", {"inputs": text})
            assert status == 202
            assert wait_for_job(base, job["id"])["status"] == "succeeded"
        with urllib.request.urlopen(f"{base}/metrics", timeout=10) as response:
            exposition = response.read().decode()
        with pytest.raises(OSError):  # Dramatiq's exposition server is the CLI's; the embedded mode has none
            socket.create_connection(("127.0.0.1", dramatiq_port), timeout=1).close()
    assert {
        "inference_api_http_requests_total",
        "inference_api_jobs_accepted_total",
        "dramatiq_messages_total",
        "inference_api_inference_duration_seconds",
        "inference_api_batch_size",
        "inference_api_queue_wait_seconds",
        "inference_api_model_load_duration_seconds",
    } <= families(exposition)
    assert 'inference_api_jobs_finished_total{model="all-MiniLM-L6-v2",status="succeeded"} 3.0' in exposition
    check_metrics(exposition)
