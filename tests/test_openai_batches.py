"""The official `openai` client's Files and Batch APIs against `inference-api serve` (embedded): a JSONL of
embedding requests uploaded, run as a batch to `completed`, every line answered once with the embeddings a
single call gives; a second batch cancelled keeps what finished.

`TEST_BATCH_LINES` sets the first batch's lines: 1,000 by default, for CI time; 10,000 takes about 2.5 minutes
on the embedded mode here (`TEST_BATCH_LINES=10000 pytest tests/test_openai_batches.py`)."""

import io
import json
import os
import random

import openai
import pytest

from tests.parity import cosine
from tests.processes import serving, wait_until

pytestmark = pytest.mark.slow

MODEL = "all-MiniLM-L6-v2"
LINES = int(os.environ.get("TEST_BATCH_LINES", "1000"))
WORDS = "the quick brown fox jumps over lazy dog vai corinthians rato roeu roupa rei de roma".split()


def texts(count: int, seed: int) -> list[str]:
    chooser = random.Random(seed)
    return [" ".join(chooser.choices(WORDS, k=chooser.randint(3, 24))) + f" #{i}" for i in range(count)]


def requests(inputs: list[str]) -> bytes:
    lines = [
        {"custom_id": f"line-{i}", "method": "POST", "url": "/v1/embeddings", "body": {"model": MODEL, "input": text}}
        for i, text in enumerate(inputs)
    ]
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


def run(client: openai.OpenAI, inputs: list[str]):
    upload = client.files.create(file=("requests.jsonl", io.BytesIO(requests(inputs))), purpose="batch")
    assert (upload.purpose, upload.bytes) == ("batch", len(requests(inputs)))
    return client.batches.create(input_file_id=upload.id, endpoint="/v1/embeddings", completion_window="24h")


def lines(client: openai.OpenAI, file_id: str | None) -> list[dict]:
    return [] if file_id is None else [json.loads(line) for line in client.files.content(file_id).text.splitlines()]


def test_the_openai_client_runs_a_batch_of_embeddings_and_cancels_another(tmp_path, models_dir):
    with serving(tmp_path, models_dir) as (base, _):
        client = openai.OpenAI(base_url=f"{base}/v1", api_key="unused", max_retries=0)
        inputs = texts(LINES, seed=1)
        batch = run(client, inputs)
        assert batch.status == "in_progress" and batch.request_counts.total == LINES

        done = wait_until(
            lambda: (b := client.batches.retrieve(batch.id)).status in ("completed", "failed") and b,
            timeout=max(120, LINES / 20),
            message="the batch completes",
            interval=0.5,
        )
        assert done.status == "completed", done
        assert (done.request_counts.completed, done.request_counts.failed) == (LINES, 0)
        assert done.error_file_id is None
        output = lines(client, done.output_file_id)
        assert sorted(line["custom_id"] for line in output) == sorted(f"line-{i}" for i in range(LINES))
        for index in random.Random(2).sample(range(LINES), 12):
            [line] = [line for line in output if line["custom_id"] == f"line-{index}"]
            assert line["response"]["status_code"] == 200 and line["error"] is None
            single = client.embeddings.create(model=MODEL, input=inputs[index]).data[0].embedding
            assert cosine(line["response"]["body"]["data"][0]["embedding"], single) >= 0.9999

        second = run(client, texts(3000, seed=3))
        wait_until(lambda: client.batches.retrieve(second.id).request_counts.completed > 0, timeout=60, interval=0.2)
        cancelling = client.batches.cancel(second.id)
        assert cancelling.status == "cancelling"
        cancelled = wait_until(
            lambda: (b := client.batches.retrieve(second.id)).status == "cancelled" and b, timeout=60, interval=0.2
        )
        finished, refused = lines(client, cancelled.output_file_id), lines(client, cancelled.error_file_id)
        assert len(finished) == cancelled.request_counts.completed > 0
        assert len(finished) + len(refused) == 3000
        assert {line["error"]["code"] for line in refused} == {"batch_cancelled"}
        assert all(line["response"]["status_code"] == 200 for line in finished)
        assert [b.id for b in client.batches.list(limit=2).data] == [second.id, batch.id]
