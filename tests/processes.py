"""Run the project's real commands as child processes (through `harness.processes`, the one helper for
child processes) and talk to them over HTTP."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from db.lifecycle import TERMINAL
from harness.processes import command, memory_mb, running
from harness.servers import free_port

__all__ = [
    "command",
    "http",
    "loaded_libraries",
    "memory_mb",
    "named",
    "running",
    "serving",
    "wait_for_job",
    "wait_until",
    "wait_until_serving",
]


def wait_until(predicate, timeout: float = 10.0, message: str = "", interval: float = 0.02):
    """Poll `predicate` until it returns something truthy (returned), or fail after `timeout` seconds saying
    what was awaited: a test waits for the condition it needs, never for a guessed time."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"not within {timeout} s: {message or getattr(predicate, '__name__', predicate)}")
        time.sleep(interval)


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


def wait_for_job(base: str, job_id: str, timeout: float = 60.0, key: str | None = None) -> dict:
    headers = {"Authorization": f"Bearer {key}"} if key else None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, job = http("GET", f"{base}/inference/{job_id}", headers=headers)
        assert status == 200, job
        if job["status"] in TERMINAL:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} not finished after {timeout} s: {job}")


@contextlib.contextmanager
def serving(tmp_path: Path, models_dir: Path, **env):
    """`inference-api serve` (embedded) on a free port with its data in tmp_path; yields the base URL and the log."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    env = {"DATA_DIR": str(tmp_path), "MODELS_DIR": str(models_dir), "PORT": str(port), **env}
    with running([command("inference-api"), "serve"], env, log) as process:
        wait_until_serving(base, process, log)
        yield base, log


def loaded_libraries(pid: int) -> str:
    return Path(f"/proc/{pid}/maps").read_text()


NAMING = """import sys
with open("/proc/self/comm", "w") as comm:
    comm.write(sys.argv[1])
print("named", flush=True)
sys.stdin.read()
"""


@contextlib.contextmanager
def named(name: str):
    """A child Python process that named itself `name` (its command in /proc, at most 15 bytes), alive for
    the block; yields its pid."""
    child = subprocess.Popen(
        [sys.executable, "-c", NAMING, name], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout.readline() == "named\n"
        yield child.pid
    finally:
        child.stdin.close()
        child.wait(timeout=10)
