"""The README's first command: `inference-api serve` alone, embedded (SQLite, StubBroker, in-process worker)."""

import os
import subprocess

import pytest

from tests.processes import command, http, serving, wait_for_job
from tests.tiny_models import TASK_REQUESTS

pytestmark = pytest.mark.slow


def test_serve_alone_accepts_a_job_and_answers_it(tmp_path, models_dir):
    with serving(tmp_path, models_dir) as (base, log):
        status, job = http("POST", f"{base}/inference", {"model": "all-MiniLM-L6-v2", "inputs": "Vai Corinthians"})
        assert status == 202 and job["status"] == "queued"
        finished = wait_for_job(base, job["id"])
        assert finished["status"] == "succeeded", finished
        assert len(finished["output"][0]["embedding"]) == 384
        status, old_style = http("POST", f"{base}/inference", {"text": "Vai Corinthians"})
        assert status == 202
        assert wait_for_job(base, old_style["id"])["output"] == finished["output"]
        assert http("GET", f"{base}/readyz")[0] == 200
        model = http("GET", f"{base}/models/all-MiniLM-L6-v2")[1]  # recorded by the in-process worker
        assert (model["prepared"], model["ready"], model["workers"]) == (True, True, 1)
        too_long = {"inputs": "word " * 300, "parameters": {"truncate": False}}  # the tokenizer is at hand here
        assert http("POST", f"{base}/inference", too_long)[0] == 422
    assert (tmp_path / "inference.db").is_file()
    assert "Serving on" in log.read_text()


def test_jobs_accepted_before_a_restart_are_answered_after_it(tmp_path, models_dir):
    """The StubBroker's queue is memory: a stop loses it, so the next start sends unfinished jobs again."""
    import db
    from db import Job, migrate

    db.connect(f"sqlite:///{tmp_path / 'inference.db'}")
    migrate.apply()
    job = Job.create(model="all-MiniLM-L6-v2", task="feature-extraction", inputs=["left behind"])
    db.database.close()

    with serving(tmp_path, models_dir) as (base, _):
        assert wait_for_job(base, str(job.id))["status"] == "succeeded"


def test_every_task_runs_in_the_embedded_mode(tmp_path, tiny):
    _, catalog_path, models, _ = tiny
    with serving(tmp_path, models, INFERENCE_CATALOG=str(catalog_path)) as (base, _):
        accepted = [(http("POST", f"{base}/inference", body), check) for body, check in TASK_REQUESTS]
        for (status, job), check in accepted:
            assert status == 202, job
            finished = wait_for_job(base, job["id"])
            assert finished["status"] == "succeeded", finished
            check(finished["output"])


def test_an_invalid_catalog_stops_serve_at_start_naming_the_entry_and_field(tmp_path):
    bad = tmp_path / "catalog.toml"
    bad.write_text('[[models]]\nname = "m"\nsource = "x"\ntask = "dance"\n')
    env = {"DATA_DIR": str(tmp_path), "INFERENCE_CATALOG": str(bad)}
    done = subprocess.run([command("inference-api"), "serve"], env=os.environ | env, capture_output=True, text=True)
    assert done.returncode != 0
    assert "models[0] (m).task: 'dance'" in done.stderr
