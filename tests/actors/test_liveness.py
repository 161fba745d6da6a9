"""Worker liveness: heartbeat files written by live worker processes, read by `inference-api worker-alive`."""

from __future__ import annotations

import os
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from actors.liveness import alive
from tests.processes import command, running
from tests.promtool import check_metrics
from tests.servers import free_port


def test_a_fresh_heartbeat_of_a_live_process_is_alive(tmp_path):
    (tmp_path / str(os.getpid())).touch()
    assert alive(tmp_path, max_age=5) == [os.getpid()]


def test_a_stale_heartbeat_is_not_alive(tmp_path):
    beat = tmp_path / str(os.getpid())
    beat.touch()
    old = time.time() - 60
    os.utime(beat, (old, old))
    assert alive(tmp_path, max_age=30) == []


def test_the_heartbeat_of_a_dead_or_zombie_process_is_not_alive(tmp_path):
    child = subprocess.Popen(["true"])
    while Path(f"/proc/{child.pid}/stat").read_text().split()[2] != "Z":
        time.sleep(0.01)  # exited, not reaped yet: a zombie still answers kill(pid, 0)
    (tmp_path / str(child.pid)).touch()
    assert alive(tmp_path, max_age=30) == []
    child.wait()
    assert alive(tmp_path, max_age=30) == []
    (tmp_path / "not-a-pid").touch()
    assert alive(tmp_path, max_age=30) == []


def worker_env(tmp_path, port: int) -> dict[str, str]:
    return {
        "BROKER_URL": "stub://",
        "DATA_DIR": str(tmp_path),
        "PRELOAD_MODELS": "none",
        "WORKER_HEARTBEAT_DIR": str(tmp_path / "heartbeats"),
        "dramatiq_prom_db": str(tmp_path / "prometheus"),
        "dramatiq_prom_host": "127.0.0.1",
        "dramatiq_prom_port": str(port),
    }


def worker_alive(env: dict[str, str], max_age: float = 10) -> subprocess.CompletedProcess:
    return subprocess.run(
        [command("inference-api"), "worker-alive", "--max-age", str(max_age)],
        env=os.environ | env,
        capture_output=True,
        text=True,
        check=False,
    )


def eventually(check, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
        except (AssertionError, OSError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
            continue
        return result


@pytest.mark.slow
def test_a_running_worker_is_alive_exports_its_processes_and_is_not_alive_once_stopped(tmp_path):
    port = free_port()
    env = worker_env(tmp_path, port)
    args = [command("dramatiq"), "actors.worker", "--processes", "2", "--threads", "2"]
    log = tmp_path / "worker.log"
    with running(args, env, log):

        def is_alive():
            done = worker_alive(env)
            assert done.returncode == 0, done.stderr + log.read_text()
            return done

        assert "alive: worker process(es)" in eventually(is_alive).stdout

        def exposition():
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
                text = response.read().decode()
            assert "inference_api_worker_processes 2.0" in text, text  # both processes, summed
            return text

        check_metrics(eventually(exposition))
    done = worker_alive(env)
    assert done.returncode == 1 and "no worker process beat" in done.stderr
    assert not list((tmp_path / "heartbeats").iterdir())  # removed at a clean shutdown


@pytest.mark.slow
def test_a_worker_whose_process_crashes_at_start_is_reported_not_alive(tmp_path):
    env = worker_env(tmp_path, free_port())
    args = [command("dramatiq"), "tests.crash_worker", "--processes", "1", "--threads", "2"]
    with running(args, env, tmp_path / "worker.log"):
        beats = tmp_path / "heartbeats"

        def beat_once():
            assert list(beats.iterdir())  # the process beat once, then died

        eventually(beat_once)
        done = worker_alive(env)
        assert done.returncode == 1, done.stdout
        assert "no worker process beat" in done.stderr
