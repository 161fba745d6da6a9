"""Both tiers on the real servers, scraped by a real Prometheus server on loopback.

After a few jobs, the API's `/metrics` and the worker's (Dramatiq's exposition server) pass
`promtool check metrics` and carry the request, Dramatiq, inference duration, batch size and queue wait
families; Prometheus scrapes both, evaluates every dashboard query and loads the alert rules.
"""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request

import pytest
import yaml

from tests.observability.deployed import DEPLOY, dashboard_queries
from tests.processes import command, http, running, wait_for_job, wait_until_serving
from tests.promtool import check_metrics, families, require
from tests.servers import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode()


def query(base: str, expr: str) -> list[dict]:
    answer = json.loads(get(f"{base}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"))
    assert answer["status"] == "success", answer
    return answer["data"]["result"]


def eventually(check, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except (AssertionError, OSError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def prometheus_command(tmp_path, prometheus_port: int, targets: dict[str, int]) -> list[str]:
    """A Prometheus server on loopback scraping `targets` (job name -> port) every second, with our alert rules."""
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(DEPLOY / "alerts.yml")],
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]} for job, port in targets.items()
        ],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    return [
        require("prometheus"),
        f"--config.file={tmp_path / 'prometheus.yml'}",
        f"--storage.tsdb.path={tmp_path / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{prometheus_port}",
    ]


def check_expositions(web_metrics: str, worker_metrics: str) -> None:
    """Both tiers' expositions pass promtool and carry the families the dashboard and alerts use."""
    check_metrics(web_metrics)
    check_metrics(worker_metrics)
    assert {"inference_api_http_requests_total", "inference_api_http_request_duration_seconds"} <= families(web_metrics)
    assert 'inference_api_queue_consumers{queue="inference"}' in web_metrics  # read from RabbitMQ
    assert {
        "dramatiq_messages_total",
        "dramatiq_message_duration_seconds",
        "inference_api_inference_duration_seconds",
        "inference_api_batch_size",
        "inference_api_queue_wait_seconds",
        "inference_api_worker_processes",
    } <= families(worker_metrics)


def check_scraped(prometheus: str) -> None:
    """Prometheus saw both tiers' counts, evaluates every dashboard query and loaded the alert rules healthy."""

    def scraped():
        accepted = query(prometheus, 'sum(inference_api_jobs_accepted_total{job="inference-api"})')
        finished = query(prometheus, 'sum(inference_api_jobs_finished_total{job="inference-worker"})')
        assert accepted and float(accepted[0]["value"][1]) == 4, accepted
        assert finished and float(finished[0]["value"][1]) == 4, finished
        live = query(prometheus, 'sum(inference_api_worker_processes{job="inference-worker"})')
        assert live and float(live[0]["value"][1]) == 2, live

    eventually(scraped)
    for expr in dashboard_queries():
        query(prometheus, expr)  # every dashboard query evaluates on the real server
    rules = json.loads(get(f"{prometheus}/api/v1/rules"))["data"]["groups"]
    assert {rule["name"] for group in rules for rule in group["rules"]} >= {"InferenceWorkerNotAlive"}
    assert all(rule["health"] == "ok" for group in rules for rule in group["rules"]), rules


def test_prometheus_scrapes_web_and_worker_after_a_few_jobs(tmp_path, postgres, postgres_url, rabbitmq_url, models_dir):
    api_port, worker_port, prometheus_port = free_port(), free_port(), free_port()
    prometheus_args = prometheus_command(
        tmp_path, prometheus_port, {"inference-api": api_port, "inference-worker": worker_port}
    )
    api = f"http://127.0.0.1:{api_port}"
    env = {
        "DATABASE_URL": postgres_url,
        "BROKER_URL": rabbitmq_url,
        "MODELS_DIR": str(models_dir),
        "PORT": str(api_port),
        "WORKER_HEARTBEAT_DIR": str(tmp_path / "heartbeats"),
        "dramatiq_prom_db": str(tmp_path / "dramatiq-prometheus"),
        "dramatiq_prom_host": "127.0.0.1",
        "dramatiq_prom_port": str(worker_port),
    }
    worker_args = [command("dramatiq"), "actors.worker", "--processes", "2", "--threads", "4"]
    with (
        running([command("inference-api"), "serve"], env, tmp_path / "web.log") as web,
        running(worker_args, env, tmp_path / "worker.log"),
        running(prometheus_args, {}, tmp_path / "prometheus.log"),
    ):
        wait_until_serving(api, web, tmp_path / "web.log")
        for text in ("Vai Corinthians", "Bom dia", "Good morning"):
            status, job = http("POST", f"{api}/inference", {"inputs": [text, text.upper()]})
            assert status == 202, job
            assert wait_for_job(api, job["id"])["status"] == "succeeded"
        # a lone waited job at idle runs while its claim is on its way, and its output is kept
        status, job = http("POST", f"{api}/inference", {"inputs": ["Boa noite"]}, headers={"Prefer": "wait=30"})
        assert status == 200 and job["status"] == "succeeded", job
        worker_metrics = eventually(lambda: get(f"http://127.0.0.1:{worker_port}/metrics"))
        assert 'inference_api_jobs_run_ahead_total{model="all-MiniLM-L6-v2",outcome="kept"} 1.0' in worker_metrics
        check_expositions(get(f"{api}/metrics"), worker_metrics)
        check_scraped(f"http://127.0.0.1:{prometheus_port}")
