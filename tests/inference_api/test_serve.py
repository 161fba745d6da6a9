"""`inference-api serve` as a child process: what a process manager and a careless client see. A body over
the limit gets the JSON 413 even from a client that sends it all before reading; an open API on a public
address is warned about; SIGTERM drains the requests in flight and exits 0 without a traceback."""

import json
import signal
import socket
import sqlite3
import threading
import time
import urllib.request
import uuid

import pytest

from tests.processes import command, http, running, wait_until, wait_until_serving
from tests.servers import free_port

pytestmark = pytest.mark.slow


def waiting_requests(base: str) -> float:
    """The API's gauge of requests waiting for their job (`/metrics`)."""
    with urllib.request.urlopen(f"{base}/metrics", timeout=5) as response:
        for line in response.read().decode().splitlines():
            if line.startswith("inference_api_waiting_requests "):
                return float(line.split()[1])
    return 0.0


def refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError:
        return True
    return False


def serve(tmp_path, models_dir, *args, **env):
    port = free_port()
    env = {"DATA_DIR": str(tmp_path), "MODELS_DIR": str(models_dir), "PORT": str(port), **env}
    log = tmp_path / "serve.log"
    return f"http://127.0.0.1:{port}", port, log, running([command("inference-api"), "serve", *args], env, log)


def test_a_body_over_the_limit_gets_the_json_413_and_a_public_address_without_keys_is_warned_about(
    tmp_path, models_dir
):
    base, _, log, server = serve(tmp_path, models_dir, "--host", "0.0.0.0", MAX_BODY_BYTES="1000", ALLOW_OPEN="1")
    with server as process:
        wait_until_serving(base, process, log)
        body = {"inputs": "x" * 200_000}  # 200 times the limit, under the hard cap: read, then refused
        status, error = http("POST", f"{base}/inference", body)  # urllib sends it all before reading
        assert status == 413, error
        assert error["title"] == "Payload too large" and "1000" in error["description"]
        assert http("GET", f"{base}/healthz")[0] == 200
    text = log.read_text()
    assert "WARNING" in text and "with no API keys" in text


def test_serve_refuses_a_public_address_without_keys_in_one_line_before_touching_the_database(tmp_path, models_dir):
    _, _, log, server = serve(tmp_path, models_dir, "--host", "0.0.0.0")
    with server as process:
        wait_until(lambda: process.poll() is not None, timeout=30, message="serve exits")
    assert process.returncode != 0
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    assert lines == [lines[-1]] and "ALLOW_OPEN=1" in lines[-1] and "API_KEYS" in lines[-1]
    assert not (tmp_path / "inference.db").exists()  # refused before migrations


def test_with_a_metrics_port_metrics_are_served_there_and_not_on_the_api_port(tmp_path, models_dir):
    metrics_port = free_port()
    base, _, log, server = serve(tmp_path, models_dir, METRICS_PORT=str(metrics_port))
    with server as process:
        wait_until_serving(base, process, log)
        status, _ = http("GET", f"{base}/metrics")
        assert status == 404
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as response:
            assert "inference_api_build_info" in response.read().decode()


def test_serve_on_loopback_says_nothing_about_keys(tmp_path, models_dir):
    base, _, log, server = serve(tmp_path, models_dir)
    with server as process:
        wait_until_serving(base, process, log)
    assert "API keys" not in log.read_text()


def test_sigterm_drains_the_requests_in_flight_then_exits_0_without_a_traceback(tmp_path, models_dir):
    base, port, log, server = serve(tmp_path, models_dir, DRAIN_SECONDS="10")
    with server as process:
        wait_until_serving(base, process, log)
        job_id = str(uuid.uuid4())  # a running job no worker will finish: its long-poll lasts its full wait
        with sqlite3.connect(tmp_path / "inference.db") as connection:
            connection.execute(
                "INSERT INTO job (id, model, task, inputs, parameters, status, attempts, created_at, sweeps, owner) "
                "VALUES (?, 'all-MiniLM-L6-v2', 'feature-extraction', '[\"a\"]', '{}', 'running', 1, "
                "'2026-01-01 00:00:00', 0, '')",
                (uuid.UUID(job_id).hex,),  # how peewee stores a UUID in SQLite
            )
        answers = []
        poll = threading.Thread(target=lambda: answers.append(http("GET", f"{base}/inference/{job_id}?wait=3")))
        poll.start()
        wait_until(lambda: waiting_requests(base) >= 1, 10, "the long-poll waiting in the API")
        sent = time.monotonic()
        process.send_signal(signal.SIGTERM)
        wait_until(lambda: refused(port), 10, "the API no longer accepting connections once signalled")
        assert process.wait(timeout=30) == 0
        took = time.monotonic() - sent
        poll.join(10)
    assert answers and answers[0][0] == 200 and answers[0][1]["status"] == "running", answers
    assert took < 15, took
    text = log.read_text()
    assert "Traceback" not in text and "Bad file descriptor" not in text, text
    assert "SIGTERM" in text, text


def test_sigterm_wakes_a_request_waiting_sixty_seconds_so_it_answers_at_once(tmp_path, models_dir):
    base, _, log, server = serve(tmp_path, models_dir, DRAIN_SECONDS="30")
    with server as process:
        wait_until_serving(base, process, log)
        answers = []
        job_id = running_job(tmp_path)
        poll = threading.Thread(target=lambda: answers.append(http("GET", f"{base}/inference/{job_id}?wait=60")))
        poll.start()
        wait_until(lambda: waiting_requests(base) >= 1, 10, "the long-poll waiting in the API")
        sent = time.monotonic()
        process.send_signal(signal.SIGTERM)
        wait_until(lambda: answers, 10, "the waiting request answered after SIGTERM")
        took = time.monotonic() - sent
        assert process.wait(timeout=30) == 0
    assert answers[0][0] == 200 and answers[0][1]["status"] == "running", answers
    assert took < 5, took  # not the 60 s it asked for, nor the 30 s drain


def running_job(tmp_path) -> str:
    """A running job no worker will finish: a wait on it lasts its full length unless woken."""
    job_id = str(uuid.uuid4())
    with sqlite3.connect(tmp_path / "inference.db") as connection:
        connection.execute(
            "INSERT INTO job (id, model, task, inputs, parameters, status, attempts, created_at, sweeps, owner) "
            "VALUES (?, 'all-MiniLM-L6-v2', 'feature-extraction', '[\"a\"]', '{}', 'running', 1, "
            "'2026-01-01 00:00:00', 0, '')",
            (uuid.UUID(job_id).hex,),
        )
    return job_id


def test_a_batch_file_far_over_max_body_bytes_is_taken_by_the_server_and_stored(tmp_path, models_dir):
    """The server's own cap (waitress') admits a batch file upload, which MAX_BODY_BYTES (JSON bodies) does
    not bound: a 6 MB file, six times the default."""
    base, _, log, server = serve(tmp_path, models_dir)
    line = b'{"custom_id": "%d", "method": "POST", "url": "/v1/embeddings", "body": {"input": "%s"}}\n'
    content = b"".join(line % (i, b"x" * 1000) for i in range(6000))
    boundary = uuid.uuid4().hex
    body = b"".join(
        [
            f'--{boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n'.encode(),
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.jsonl"\r\n'.encode(),
            b"Content-Type: application/jsonl\r\n\r\n" + content + f"\r\n--{boundary}--\r\n".encode(),
        ]
    )
    with server as process:
        wait_until_serving(base, process, log)
        request = urllib.request.Request(
            f"{base}/v1/files", data=body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            stored = json.loads(response.read())
        assert response.status == 200 and stored["bytes"] == len(content) > 6_000_000
