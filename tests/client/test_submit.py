"""`submit` end to end against a real `inference-api serve` (embedded: SQLite, StubBroker, MiniLM) with API
keys: a thousand lines in order, an interrupted run resumed without a second job, failures reported."""

from __future__ import annotations

import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from inference_client import Client
from tests.processes import command, running, wait_until, wait_until_serving
from tests.servers import free_port

pytestmark = pytest.mark.slow

KEY = "client-test-key"
TOPICS = ["football", "the weather in São Paulo", "a bank transfer", "Corinthians", "a recipe", "trains"]


@pytest.fixture(scope="module")
def server(tmp_path_factory, models_dir):
    """One server for the module, with an API key: yields (base URL, its SQLite file)."""
    data = tmp_path_factory.mktemp("serve")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {"DATA_DIR": str(data), "MODELS_DIR": str(models_dir), "PORT": str(port), "API_KEYS": KEY}
    log = data / "serve.log"
    with running([command("inference-api"), "serve"], env, log) as process:
        wait_until_serving(base, process, log)
        yield base, data / "inference.db"


def jobs_in(database) -> int:
    with sqlite3.connect(database) as connection:
        return connection.execute("SELECT count(*) FROM job").fetchone()[0]


def lines_of(n: int, tag: str) -> list[str]:
    return [f"{tag} {i}: a sentence about {TOPICS[i % len(TOPICS)]}, number {i * 7919 % 1000}" for i in range(n)]


def submit_args(base: str, path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "inference_client", "submit", str(path), "--url", base, *extra]


def run_submit(args: list[str], key: str | None = KEY) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "INFERENCE_API_KEY"}
    if key:
        env["INFERENCE_API_KEY"] = key
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=180)


def results(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_submit_runs_a_thousand_lines_and_keeps_their_order(server, tmp_path):
    base, database = server
    texts = lines_of(1000, "thousand")
    source = tmp_path / "texts.txt"
    source.write_text("\n".join(texts) + "\n")
    before = jobs_in(database)

    started = time.monotonic()
    done = run_submit([command("inference-api"), "submit", str(source), "--url", base, "--model", "all-MiniLM-L6-v2"])
    seconds = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    print(f"submit: 1000 lines in {seconds:.1f} s ({1000 / seconds:.0f} lines/s) with the process start")

    out = results(tmp_path / "texts.txt.results.jsonl")
    assert [r["line"] for r in out] == list(range(1, 1001))
    assert all(len(r["output"]["embedding"]) == 384 and "error" not in r for r in out)
    assert jobs_in(database) - before == math.ceil(1000 / 16)  # 16 inputs a job by default
    assert "line/s" in done.stderr and "wrote 1000 lines (63 jobs" in done.stderr

    with Client(base, api_key=KEY) as client:  # each output is its own line's: the same as the text sent alone
        for i in (0, 517, 999):
            alone = client.run(texts[i], model="all-MiniLM-L6-v2").output[0]["embedding"]
            assert max(abs(a - b) for a, b in zip(alone, out[i]["output"]["embedding"], strict=True)) < 1e-5

    again = run_submit(submit_args(base, source))
    assert again.returncode == 0, again.stderr
    assert "nothing left to submit: all 1000 lines" in again.stderr
    assert jobs_in(database) - before == 63 + 3  # the rerun sent nothing (the 3 are the run() checks above)


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_submit_resumes_without_a_second_job_for_any_line(server, tmp_path, stop):
    base, database = server
    source = tmp_path / "texts.txt"
    source.write_text("\n".join(lines_of(400, f"interrupted by {stop.name}")) + "\n")
    out = tmp_path / "out.jsonl"
    before = jobs_in(database)
    args = submit_args(base, source, "--out", str(out), "--batch-size", "8", "--concurrency", "4")

    env = {**os.environ, "INFERENCE_API_KEY": KEY}
    process = subprocess.Popen(args, env=env, stderr=subprocess.PIPE, text=True)
    wait_until(lambda: out.exists() and out.read_text().count("\n") >= 80, 60, "80 lines written before the stop")
    process.send_signal(stop)
    stderr = process.communicate(timeout=30)[1]
    assert process.returncode == 128 + stop, stderr
    assert f"interrupted ({stop.name})" in stderr and "run the same command again to resume" in stderr
    assert "Traceback" not in stderr
    first = results(out)
    assert 80 <= len(first) < 400
    assert [r["line"] for r in first] == list(range(1, len(first) + 1))  # a prefix, in order

    resumed = run_submit(args)
    assert resumed.returncode == 0, resumed.stderr
    assert f"wrote {400 - len(first)} lines" in resumed.stderr
    out_lines = results(out)
    assert [r["line"] for r in out_lines] == list(range(1, 401))
    assert all(len(r["output"]["embedding"]) == 384 for r in out_lines)
    assert jobs_in(database) - before == math.ceil(400 / 8)  # jobs in flight at the interrupt were replayed


def test_a_run_killed_while_writing_a_chunk_resumes_from_its_last_whole_line_with_the_same_jobs(server, tmp_path):
    base, database = server
    source = tmp_path / "texts.txt"
    source.write_text("\n".join(lines_of(40, "killed")) + "\n")
    out = tmp_path / "out.jsonl"
    before = jobs_in(database)
    assert run_submit(submit_args(base, source, "-q", "--out", str(out))).returncode == 0
    whole = out.read_text().splitlines(keepends=True)
    out.write_text("".join(whole[:20]) + whole[20][:50])  # as if killed while writing line 21, mid-chunk 2

    resumed = run_submit(submit_args(base, source, "-q", "--out", str(out)))
    assert resumed.returncode == 0, resumed.stderr
    assert out.read_text().splitlines(keepends=True) == whole
    assert "wrote 20 lines (2 jobs, 2 already accepted before)" in resumed.stderr
    assert jobs_in(database) - before == 3


def test_a_bad_line_fails_alone_and_the_run_exits_non_zero_naming_it(server, tmp_path):
    base, _ = server
    lines = [
        {"text": "good morning"},
        {"text": ""},
        {"inputs": ["Bom dia", "Good morning"], "parameters": {"normalize": False}},
        "a plain JSON string",
    ]
    source = tmp_path / "mixed.jsonl"
    source.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    done = run_submit(submit_args(base, source, "-q"))
    assert done.returncode == 1
    assert "1 lines failed" in done.stderr and "line 2: 422" in done.stderr and "inputs[" in done.stderr
    out = results(tmp_path / "mixed.jsonl.results.jsonl")
    assert [r["line"] for r in out] == [1, 2, 3, 4]
    assert "error" in out[1] and "output" not in out[1]
    assert len(out[0]["output"]["embedding"]) == 384 and len(out[3]["output"]["embedding"]) == 384
    assert [len(o["embedding"]) for o in out[2]["output"]] == [384, 384]  # a whole body: the job's output list


def test_without_the_api_key_submit_says_so_in_one_line(server, tmp_path):
    base, _ = server
    source = tmp_path / "one.txt"
    source.write_text("hello\n")
    done = run_submit(submit_args(base, source, "-q"), key=None)
    assert done.returncode == 1
    assert "error: 401 Unauthorized" in done.stderr and "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1


def test_a_missing_file_a_bad_column_and_an_unreachable_url_are_one_line_errors(tmp_path):
    nowhere = f"http://127.0.0.1:{free_port()}"
    (tmp_path / "in.csv").write_text("id,review\n1,good\n")
    (tmp_path / "in.txt").write_text("hello\n")
    cases = [
        (submit_args(nowhere, tmp_path / "missing.txt"), 2, "no such file"),
        (submit_args(nowhere, tmp_path / "in.csv", "--column", "text"), 2, "no column 'text' (columns: id, review)"),
        (submit_args(nowhere, tmp_path / "in.txt", "-q"), 1, f"cannot reach the API at {nowhere}"),
    ]
    for args, status, message in cases:
        done = run_submit(args)
        assert done.returncode == status, done.stderr
        assert message in done.stderr and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
