"""The client's Batch API calls in process (the API through a WSGI transport, the keeper and a stand-in
worker moved on by each poll), and `submit --batch` end to end against `inference-api serve`."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import httpx
import pytest

from actors.batch_keeper import keep
from db import Job, PreparedModel, Status
from inference_client import Client
from inference_client.batches import cancel_batch, create_batch, download, follow, get_batch, upload
from tests.processes import serving
from tests.web.bulk_helpers import embedding_lines, jsonl
from tests.web.openai_helpers import fake_embeddings
from web import create_app


@pytest.fixture
def client(config, database, sender_stub, catalog):
    PreparedModel.record({"name": catalog.default, "task": "feature-extraction", "files": {"model.onnx": "0"}})
    app = create_app(config, sender=sender_stub, catalog=catalog)
    with Client("http://api", transport=httpx.WSGITransport(app=app), max_retries=0) as made:
        yield made


def test_the_client_uploads_runs_follows_and_downloads_a_batch(client, sender_stub, tmp_path):
    def worker_step(_seconds):
        keep(sender_stub.broker)
        for job in Job.select().where(Job.status == Status.QUEUED):
            fake_embeddings(Job.claim(job.id))

    source = tmp_path / "requests.jsonl"
    source.write_bytes(jsonl(embedding_lines(["a", "bb", "ccc"])))
    uploaded = upload(client, source)
    assert (uploaded["filename"], uploaded["bytes"]) == ("requests.jsonl", source.stat().st_size)
    batch = create_batch(client, uploaded["id"], metadata={"by": "client"})
    done = follow(client, batch["id"], progress=False, sleep=worker_step)
    assert done["status"] == "completed" and done["request_counts"]["completed"] == 3
    lines = download(client, done["output_file_id"], tmp_path / "out.jsonl").read_text().splitlines()
    assert [json.loads(line)["custom_id"] for line in lines] == ["req-0", "req-1", "req-2"]
    assert get_batch(client, batch["id"])["metadata"] == {"by": "client"}


def test_the_client_cancels_a_batch(client, tmp_path):
    uploaded = upload(client, jsonl(embedding_lines(["a"])))
    batch = create_batch(client, uploaded["id"])
    assert cancel_batch(client, batch["id"])["status"] == "cancelling"


@pytest.mark.slow
def test_submit_batch_writes_a_result_per_line_in_input_order(tmp_path, models_dir):
    texts = [f"line {i} about the weather" for i in range(40)]
    source = tmp_path / "texts.txt"
    source.write_text("\n".join(texts) + "\n")
    with serving(tmp_path, models_dir) as (base, _):
        command = [sys.executable, "-m", "inference_client", "submit", str(source), "--url", base, "--batch", "-q"]
        env = {k: v for k, v in os.environ.items() if k != "INFERENCE_API_KEY"}
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert "completed: 40 of 40 lines" in done.stderr
    out = [json.loads(line) for line in (tmp_path / "texts.txt.results.jsonl").read_text().splitlines()]
    assert [r["line"] for r in out] == list(range(1, 41))
    assert all(len(r["output"]["embedding"]) == 384 and r["job"] for r in out)
