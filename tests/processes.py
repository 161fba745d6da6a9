"""Run the project's real commands as child processes, the way the Procfile and `make run` do."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

BIN = Path(sys.executable).parent


def command(name: str) -> str:
    return str(BIN / name)


@contextlib.contextmanager
def running(args: list[str], env: dict[str, str], log: Path):
    """Start `args`; on exit stop it with SIGTERM (then SIGKILL) and keep its output in `log`."""
    with log.open("wb") as out:
        process = subprocess.Popen(args, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield process
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


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


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def loaded_libraries(pid: int) -> str:
    return Path(f"/proc/{pid}/maps").read_text()
