"""Run the project's real commands as child processes (through `harness.processes`, the one helper for
child processes) and talk to them over HTTP."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from harness.processes import command, memory_mb, running

__all__ = ["command", "http", "loaded_libraries", "memory_mb", "running", "wait_for_job", "wait_until_serving"]


def http(
    method: str, url: str, body: dict | None = None, timeout: float = 40.0, headers: dict | None = None
) -> tuple[int, dict]:
    data = None if body is None else json.dumps(body).encode()
    headers = {"content-type": "application/json", **(headers or {})}
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def wait_until_serving(base: str, process: subprocess.Popen, log: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{process.args} exited with {process.returncode}:\n{log.read_text()}")
        try:
            if http("GET", f"{base}/healthz", timeout=1)[0] == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{process.args} did not serve within {timeout} s:\n{log.read_text()}")


def wait_for_job(base: str, job_id: str, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, job = http("GET", f"{base}/inference/{job_id}")
        assert status == 200, job
        if job["status"] in ("succeeded", "failed", "canceled"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} not finished after {timeout} s: {job}")


def loaded_libraries(pid: int) -> str:
    return Path(f"/proc/{pid}/maps").read_text()
