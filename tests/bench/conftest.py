"""The benchmark's tests share one tiny run of every mode against the real servers (a few minutes); the peer
mode's executable is missing there, so it says infinity-emb is not installed and the run goes on."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from bench.settings import MODES
from tests import servers
from tests.conftest import ROOT


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, models_dir):
    servers.require("PostgreSQL", servers.POSTGRES_ADMIN_URL)
    servers.require("RabbitMQ", servers.RABBITMQ_URL)
    if shutil.which("rabbitmqctl") is None:  # the harness needs a vhost of its own
        if servers.IN_CI:
            pytest.fail("rabbitmqctl is not on PATH (CI=true: the bench test must run, not skip)")
        pytest.skip("rabbitmqctl is not on PATH")
    root = tmp_path_factory.mktemp("bench")
    out = root / "bench.json"
    args = [sys.executable, "-m", "bench", "--tiny", "--json", str(out), "--models-dir", str(models_dir)]
    args += ["--postgres", servers.POSTGRES_ADMIN_URL, "--rabbitmq", servers.RABBITMQ_URL]
    args += ["--database", "inference_api_bench_test", "--vhost", "inference_api_bench_test"]
    args += ["--log-dir", str(root / "logs")]
    args += ["--modes", ",".join(MODES), "--peer", str(root / "no-infinity_emb")]  # every mode; no peer installed
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    return json.loads(out.read_text()), done.stdout
