"""`python -m bench scale`: a tiny run against the real servers writes well-formed per-core figures and the
plans of the hot statements. Timing is never asserted: only that every figure is there and positive."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys

import pytest

from tests import servers
from tests.conftest import ROOT

pytestmark = pytest.mark.integration

OPERATIONS = {"create_many", "claim_fresh", "finish_many", "find", "stale", "purge"}


def positive_finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0


@pytest.fixture(scope="module")
def tiny_scale(tmp_path_factory):
    servers.require("PostgreSQL", servers.POSTGRES_ADMIN_URL)
    servers.require("RabbitMQ", servers.RABBITMQ_URL)
    if shutil.which("rabbitmqctl") is None:  # a vhost of its own
        if servers.IN_CI:
            pytest.fail("rabbitmqctl is not on PATH (CI=true: the scale test must run, not skip)")
        pytest.skip("rabbitmqctl is not on PATH")
    out = tmp_path_factory.mktemp("scale") / "scale.json"
    args = [sys.executable, "-m", "bench", "scale", "--tiny", "--json", str(out)]
    args += ["--postgres", servers.POSTGRES_ADMIN_URL, "--rabbitmq", servers.RABBITMQ_URL]
    args += ["--database", "inference_api_scale_test", "--vhost", "inference_api_scale_test"]
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    return json.loads(out.read_text()), done.stdout


def test_the_database_path_reports_jobs_per_second_per_postgresql_core(tiny_scale):
    doc, stdout = tiny_scale
    assert doc["fill"]["rows"] == 300 and doc["fill"]["bytes"] > 0
    base = doc["database"]
    assert base["clients"] == 2 and base["jobs"] > 0
    assert positive_finite(base["jobs_per_s"]) and positive_finite(base["jobs_per_s_per_core"])
    assert set(base["postgres_cores"]) == {"backends", "background"}
    assert base["postgres_cores"]["backends"] > 0  # our backends were found and worked
    assert set(base["ops_ms"]) == OPERATIONS  # every hot path ran, the housekeeping too
    assert all(ms["p50"] <= ms["p99"] for ms in base["ops_ms"].values())
    assert "jobs/s per PostgreSQL core" in stdout


def test_every_hot_statement_has_its_plan_at_the_filled_size(tiny_scale):
    doc, _ = tiny_scale
    assert set(doc["explain"]) >= OPERATIONS
    for name, found in doc["explain"].items():
        assert found["plan"] and isinstance(found["seq_scan_on_job"], bool), name
    assert any("job_pkey" in line for line in doc["explain"]["find"]["plan"])  # a read by id uses the key


def test_the_broker_path_reports_messages_per_second_per_rabbitmq_core_for_each_queue_type(tiny_scale):
    doc, stdout = tiny_scale
    assert set(doc["broker"]) == {"classic", "quorum"}
    for kind, found in doc["broker"].items():
        assert found["queue_type"] == kind
        assert found["messages"] == found["published"] == 200, kind  # every message confirmed and consumed
        assert positive_finite(found["messages_per_s"]), kind
        assert positive_finite(found["messages_per_s_per_core"]), kind
        assert f"broker ({kind}):" in stdout
    assert doc["command"].startswith("python -m bench scale --tiny") and doc["machine"]["cores"] > 0
