"""The API's memory under hostile bodies, measured on a real `inference-api serve` (API only, against
PostgreSQL and RabbitMQ): 1 MiB bodies of tiny JSON values, sent concurrently, are refused from their
bytes (MAX_JSON_NODES, web/validation.py) before the parser builds them, so the process' peak resident
memory (VmHWM) stays within `BOUND_MB`, well under the API pod's 256 MiB limit. Parsed, each such body
cost some 24 MiB, and some 73 MiB once validation had built a path for each value."""

import json
import os
import subprocess
import threading
import urllib.error
import urllib.request

import pytest

from tests.processes import command, memory_mb, running, wait_until_serving
from tests.servers import free_port

pytestmark = pytest.mark.slow

BOUND_MB = 128  # the process' peak resident memory, in MiB (docs/security.md#hostile-input)
CONCURRENT = 8


def hostile_body() -> bytes:
    """Just under 1 MiB (MAX_BODY_BYTES) of tiny values, and an unknown field validation would refuse."""
    body = json.dumps({"inputs": "x", "junk": [0] * 300_000}, separators=(",", ":")).encode()
    return body[: (1 << 20) - 100].rsplit(b",", 1)[0] + b"]}"


def post_raw(url: str, body: bytes) -> int:
    request = urllib.request.Request(url, data=body, method="POST", headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_concurrent_hostile_bodies_leave_the_api_well_under_its_memory_limit(tmp_path, postgres_url, rabbitmq_url):
    env = {"DATABASE_URL": postgres_url, "BROKER_URL": rabbitmq_url, "LOG_FORMAT": "text", "WEB_THREADS": "16"}
    subprocess.run([command("inference-api"), "migrate"], env=os.environ | env, check=True, capture_output=True)
    port, log, body = free_port(), tmp_path / "serve.log", hostile_body()
    base = f"http://127.0.0.1:{port}"
    with running([command("inference-api"), "serve", "--port", str(port)], {**env}, log) as process:
        wait_until_serving(base, process, log)
        before = memory_mb(process.pid)
        answers: list[int] = []

        def send() -> None:
            for _ in range(4):
                answers.append(post_raw(f"{base}/inference", body))

        threads = [threading.Thread(target=send) for _ in range(CONCURRENT)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        after = memory_mb(process.pid)
    print(f"API memory: {before['rss']} MiB at rest, peak {after['peak']} MiB after {len(answers)} hostile bodies")
    assert answers == [413] * CONCURRENT * 4
    assert after["peak"] <= BOUND_MB, (before, after)
