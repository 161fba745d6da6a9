"""An input that crashes the worker process fails its own job with a reason, while other jobs flow. Each
start after a crash waits for the job's lease to expire, then the sweeper's re-send (a redelivery while the
lease lives is acked as a duplicate): a short lease and a fast sweeper keep the test short."""

import datetime as dt
import time
from dataclasses import replace

import pytest
from falcon.testing import TestClient

from actors.batching import MAX_STARTS
from actors.liveness import alive
from actors.sending import open_sender
from actors.sweeper import Sweeper
from db import Job
from harness.supervisor import Supervisor
from tests.processes import command
from web import create_app

pytestmark = [pytest.mark.integration, pytest.mark.slow]


# waited for (its wait runs out before the worker starts): its message carries a hint, and its first delivery
# runs ahead of its claim (docs/architecture.md#running-ahead-of-the-claim); every later one is claimed first
@pytest.mark.parametrize("prefer", [{}, {"Prefer": "wait=1"}], ids=["posted", "waited"])
def test_a_poison_input_that_crashes_the_worker_fails_alone(
    config, postgres, postgres_url, rabbitmq_url, catalog, models_dir, tmp_path, prefer
):
    import os

    api = open_sender(rabbitmq_url)
    api.broker.flush_all()
    client = TestClient(create_app(replace(config, broker_url=rabbitmq_url), sender=api, catalog=catalog))
    poison = client.simulate_post("/inference", json={"inputs": "POISON pill"}, headers=prefer).json["id"]
    healthy = [client.simulate_post("/inference", json={"inputs": f"healthy {i}"}).json["id"] for i in range(20)]
    heartbeats = tmp_path / "heartbeats"
    env = os.environ | {
        "DATABASE_URL": postgres_url,
        "BROKER_URL": rabbitmq_url,
        "MODELS_DIR": str(models_dir),
        "WORKER_HEARTBEAT_DIR": str(heartbeats),
        "LEASE_SECONDS": "3",
    }
    supervisor = Supervisor(
        [
            command("dramatiq"),
            "tests.poison_worker",
            "--processes",
            "1",
            "--threads",
            "8",
            "--worker-fork-timeout",
            "1000",
        ],
        env,
        tmp_path / "worker.log",
        lambda: set(alive(heartbeats, Supervisor.liveness)),
    )
    sweeper = Sweeper(api, every=1, queued_after=dt.timedelta(seconds=2), max_sweeps=2 * MAX_STARTS)
    supervisor.start()
    sweeper.start()
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if all(Job.get_by_id(i).finished for i in [poison, *healthy]):
                break
            time.sleep(0.5)
    finally:
        sweeper.stop()
        supervisor.stop()
    failed = Job.get_by_id(poison)
    assert failed.status == "failed", (
        failed.status,
        supervisor.restarts,
        (tmp_path / "worker.log").read_text()[-3000:],
    )
    assert failed.error.startswith(f"gave up: started {MAX_STARTS} times without finishing")
    assert [Job.get_by_id(i).status for i in healthy] == ["succeeded"] * 20
    assert supervisor.restarts >= MAX_STARTS - 1  # it really crashed, again and again
