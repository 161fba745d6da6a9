"""The Procfile's processes on the real servers: release (migrate), web (API only) and worker (dramatiq CLI)."""

import os
import subprocess

import pytest

from tests.processes import command, http, loaded_libraries, memory_mb, running, wait_for_job, wait_until_serving
from tests.servers import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_release_web_and_worker_processes_serve_a_job_end_to_end(tmp_path, postgres_url, rabbitmq_url, models_dir):
    import db

    database = db.connect(postgres_url)
    with database.connection_context():
        database.execute_sql("DROP TABLE IF EXISTS webhook_delivery, job, migratehistory")
    database.close_all()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {"DATABASE_URL": postgres_url, "BROKER_URL": rabbitmq_url, "MODELS_DIR": str(models_dir), "PORT": str(port)}

    release = subprocess.run(
        [command("inference-api"), "migrate"], env=os.environ | env, capture_output=True, text=True
    )
    assert release.returncode == 0, release.stderr
    assert "001_initial" in release.stdout

    web_log, worker_log = tmp_path / "web.log", tmp_path / "worker.log"
    worker_args = [command("dramatiq"), "actors.worker", "--processes", "1", "--threads", "2"]
    with (
        running([command("inference-api"), "serve"], env, web_log) as web,
        running(worker_args, env, worker_log) as worker,
    ):
        wait_until_serving(base, web, web_log)
        status, job = http("POST", f"{base}/inference", {"inputs": ["Vai Corinthians", "Bom dia"]})
        assert status == 202, job
        finished = wait_for_job(base, job["id"])
        assert finished["status"] == "succeeded", (finished, worker_log.read_text())
        assert [len(o["embedding"]) for o in finished["output"]] == [384, 384]
        assert http("GET", f"{base}/readyz")[0] == 200
        status, waited = http("POST", f"{base}/inference", {"text": "Bom dia"}, headers={"Prefer": "wait=30"})
        assert status == 200 and waited["status"] == "succeeded"  # notified across processes by PostgreSQL

        api_libraries = loaded_libraries(web.pid)
        assert "onnxruntime" not in api_libraries and "libtorch" not in api_libraries
        worker_children = subprocess.run(["pgrep", "-P", str(worker.pid)], capture_output=True, text=True)
        children = [int(pid) for pid in worker_children.stdout.split()]
        # one worker process (--processes 1) runs the model; the other child serves the worker's metrics
        workers = [pid for pid in children if "onnxruntime" in loaded_libraries(pid)]
        assert len(workers) == 1 and len(children) == 2, worker_log.read_text()
        for pid in children:
            assert "libtorch" not in loaded_libraries(pid)
        assert nice(workers[0]) == 10 and nice(web.pid) == 0  # WORKER_NICE: the API answers first
        print(f"RSS: API {memory_mb(web.pid)['rss']} MB, worker process {memory_mb(workers[0])['rss']} MB")


def nice(pid: int) -> int:
    """The process' nice level (field 19 of /proc/PID/stat)."""
    return int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[16])
