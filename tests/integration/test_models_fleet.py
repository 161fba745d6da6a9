"""Web and worker sharing no files: a model prepared by one process, loaded by a
real `dramatiq actors.worker` on a data directory of its own, is reported prepared and ready by an API on a
third one; stopped (SIGTERM) or killed (SIGKILL, no goodbye), the worker is reported gone."""

import os
import signal
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import pytest
from falcon.testing import TestClient

from actors.sending import open_sender
from db import WorkerProcess
from tests.processes import command
from web import create_app

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MODEL = "all-MiniLM-L6-v2"
HEARTBEAT = 1  # seconds: a worker counts as gone 3 s after its last beat


def data_dir(root: Path, models_dir: Path) -> Path:
    """A host's own DATA_DIR with its own MODELS_DIR (links to the prepared files: no export here)."""
    (root / "models").mkdir(parents=True)
    (root / "models" / MODEL).symlink_to(models_dir / MODEL)
    return root


def worker(env: dict[str, str], log: Path) -> subprocess.Popen:
    args = [command("dramatiq"), "actors.worker", "--processes", "1", "--threads", "4", "--worker-fork-timeout", "1000"]
    with log.open("ab") as out:
        return subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def eventually(check, timeout: float, log: Path):
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, f"not within {timeout} s; worker log:\n{log.read_text()[-3000:]}"
        time.sleep(0.1)
    return result


def test_web_and_worker_sharing_no_files_agree_on_prepared_and_ready(
    config, postgres, postgres_url, rabbitmq_url, catalog, models_dir, tmp_path
):
    base = os.environ | {"DATABASE_URL": postgres_url, "BROKER_URL": rabbitmq_url, "HEARTBEAT_SECONDS": str(HEARTBEAT)}
    preparer = data_dir(tmp_path / "release", models_dir)
    done = subprocess.run(
        [command("inference-api"), "models", "prepare"],
        env=base | {"DATA_DIR": str(preparer), "MODELS_DIR": str(preparer / "models")},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert f"{MODEL}: recorded in postgresql://" in done.stderr

    api_dir = tmp_path / "web"  # no models here at all
    sender = open_sender(rabbitmq_url)
    sender.broker.flush_all()
    app = create_app(
        replace(config, data_dir=api_dir, models_dir=None, broker_url=rabbitmq_url), sender=sender, catalog=catalog
    )
    client = TestClient(app)

    def view() -> dict:
        return client.simulate_get(f"/models/{MODEL}").json

    assert (view()["prepared"], view()["ready"], view()["workers"]) == (True, False, 0)
    accepted = client.simulate_post("/inference", json={"inputs": "Vai Corinthians"})
    assert accepted.status_code == 202 and accepted.headers["inference-model-ready"] == "false"

    worker_dir = data_dir(tmp_path / "worker", models_dir)
    env = base | {"DATA_DIR": str(worker_dir), "MODELS_DIR": str(worker_dir / "models")}
    log = tmp_path / "worker.log"
    try:
        process = worker(env, log)
        eventually(lambda: view()["ready"], 60, log)
        assert view()["workers"] == 1
        job = client.simulate_get(f"/inference/{accepted.json['id']}", params={"wait": 30}).json
        assert job["status"] == "succeeded", job  # accepted while no worker ran it: run once one came

        process.send_signal(signal.SIGTERM)  # a clean stop deletes its row: not ready at once
        process.wait(timeout=30)
        assert (view()["ready"], view()["workers"]) == (False, 0)

        process = worker(env, log)
        eventually(lambda: view()["ready"], 60, log)
        os.killpg(process.pid, signal.SIGKILL)  # no goodbye: the row stays until its heartbeat expires
        process.wait(timeout=10)
        killed = time.monotonic()
        assert WorkerProcess.select().count() == 1
        eventually(lambda: not view()["ready"], 30, log)
        assert time.monotonic() - killed <= 3 * HEARTBEAT + 2
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        sender.broker.close()
