"""The results page: built from a document made by the report module itself, so its shape cannot drift."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from bench import report, results
from bench.__main__ import main
from bench.settings import PRESETS, Settings
from bench.stats import latency_ms, summary


def rounds(*throughputs: float, others: float = 0.1) -> dict:
    return summary([{"throughput": t, "cores": {"others": others}} for t in throughputs])


@pytest.fixture
def document() -> dict:
    """A run's document as `python -m bench --json` writes it, with made-up figures."""
    posts = latency_ms([0.002, 0.003, 0.004])
    modes = {
        "raw": {
            **rounds(400.0, 392.0),
            "unit": "texts/s",
            "single_ms": latency_ms([0.005]),
            "rounds_single_p50": [5.0, 5.5],
            "cpu_ms_per_text": 4.8,
        },
        "seed": {**rounds(50.0, 49.0), "unit": "messages/s"},
        "worker": {
            **rounds(300.0, 330.0),
            "unit": "jobs/s (one text each)",
            "throughput_after_ready": 380.0,
            "rounds_steady": [380.0, 372.4],
            "rss_mb": [{"rss": 150.0}, {"rss": 152.0}],
            "cpu_ms_per_job": 5.3,
        },
        "latency": {
            "p50": 14.0,
            "p99": 20.0,
            "rounds_p50": [14.0, 15.5],
            "rounds_over_model_p50": [3.5, 4.1],
            "others_cores": [0.1, 0.3],
        },
        "e2e": {**rounds(250.0), "unit": "jobs/s (one text each)", "rss_mb": {"api": {"rss": 70.0}, "workers": []}},
        "calls": {**rounds(150.0, 140.0), "unit": "calls/s answered with the result"},
        "ingest": {
            **rounds(900.0, 880.0),
            "unit": "accepted POSTs/s",
            "post_ms": posts,
            "hello": {**rounds(3000.0, 2900.0), "post_ms": posts},
            "rss_mb": {"api": {"rss": 72.0}},
        },
    }
    settings = Settings(preset="quick", sizes=PRESETS["quick"], model="all-MiniLM-L6-v2-int8")
    started = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
    doc = report.document(settings, modes, started, "int8")
    return json.loads(json.dumps(doc, default=str))  # as read back from the file


def test_every_target_is_listed_with_its_value_target_and_verdict(document):
    text = results.page({"var/bench.json": document})
    for name, check in document["targets"].items():
        row = next(line for line in text.splitlines() if line.startswith(f"| `{name}` |"))
        assert check["target"] in row
        assert results.VERDICTS[check["met"]] in row
    assert "| `worker_vs_raw` | 0.95 | >= 0.95 | met |" in text
    assert "| `latency_p50_over_model_ms` | 3.8 | <= 3 | **missed** |" in text


def test_each_ratio_shows_the_median_of_its_interleaved_pairs_and_their_spread(document):
    text = results.page({"var/bench.json": document})
    assert "Measured interleaved: the modes took turns" in text
    assert "| `worker_vs_raw` | 0.95 | 0.95..0.95 | 0.95..0.95 | 2 | >= 0.95 | met |" in text
    assert "| `worker_vs_seed` | 7.6 | 7.6..7.6 | 7.6..7.6 | 2 | none (informational) | - |" in text
    assert "| `latency_p50_over_model_ms` | 3.8 | 3.5..4.1 | 3.65..3.95 | 2 | <= 3 | **missed** |" in text
    # over one raw call at idle: reported beside it, without a target
    assert "| `latency_p50_over_raw_single_ms` | 9.5 | 9..10 | 9.25..9.75 | 2 | none (informational) | - |" in text
    assert "`worker_vs_seed`" not in "".join(line for line in text.splitlines() if "| met |" in line)


def test_a_missed_target_is_marked_as_missed(document):
    document["targets"]["calls_per_s"]["met"] = False
    assert "| `calls_per_s` | 150 | >= 139 | **missed** |" in results.page({"var/bench.json": document})


def test_the_page_says_where_and_with_what_the_run_was_made(document):
    text = results.page({"var/bench.json": document})
    machine = document["machine"]
    assert f"{machine['cpu_model']}, {machine['cores']} cores" in text
    assert f"Python {machine['python']}" in text
    assert document["git"]["commit"][:12] in text
    if machine["versions"]["onnxruntime"]:
        assert f"onnxruntime {machine['versions']['onnxruntime']}" in text
    assert "PostgreSQL and RabbitMQ not recorded" in text


def test_the_spread_of_the_rounds_behind_each_ratio_is_shown(document):
    text = results.page({"var/bench.json": document})
    row = [line for line in text.splitlines() if line.startswith("| `worker_vs_raw` |")][-1]  # the targets' table
    assert "worker 9.1%, raw 2.0%" in row
    hello = [line for line in text.splitlines() if line.startswith("| `ingest_vs_hello` |")][-1]
    assert "ingest 2.2%, hello 3.3%" in hello
    assert "| e2e | 250 | jobs/s (one text each) | 250 | one round | 0.1 |" in text


def test_a_waited_calls_stages_are_set_beside_the_floors_of_the_same_round(document):
    def stages(sent, created, started, model, finished):
        return {
            "sent_to_created_p50": sent,
            "created_to_started_p50": created,
            "started_to_finished_p50": started,
            "model_p50": model,
            "finished_to_answered_p50": finished,
        }

    document["modes"]["latency"]["breakdown_ms"] = stages(0.5, 2.0, 8.0, 7.0, 2.5)
    document["modes"]["latency"]["floor_breakdown_ms"] = stages(0.25, 1.5, 7.5, 7.0, 1.0)
    page = results.page({"var/bench.json": document})
    assert "| created -> started (commit, publish, delivery, pick-up) | 2 | 1.5 | 0.5 |" in page
    assert "| started -> finished, less the model (claim, outputs) | 1 | 0.5 | 0.5 |" in page
    assert "| finished -> answered (save, notification, answer) | 2.5 | 1 | 1.5 |" in page
    assert "| the model | 7 | 7 | 0 |" in page


def test_a_run_without_the_floors_stages_shows_no_stage_table(document):
    assert "stage by stage" not in results.page({"var/bench.json": document})


def test_without_any_run_the_page_says_no_run_is_recorded_yet():
    text = results.page({"var/bench.json": None, "var/bench-fp32.json": None})
    assert results.NO_RUN in text and "|" not in text


def test_a_missing_document_beside_a_present_one_is_said_so(document):
    text = results.page({"var/bench.json": document, "var/bench-fp32.json": None})
    assert "## all-MiniLM-L6-v2-int8 (quick)" in text
    assert f"## `var/bench-fp32.json`\n\n{results.NO_RUN}" in text


def test_python_m_bench_results_writes_the_page_from_the_json_files(document, tmp_path, capsys):
    (tmp_path / "bench.json").write_text(json.dumps(document))
    out = tmp_path / "RESULTS.md"
    assert main(["results", str(tmp_path / "bench.json"), str(tmp_path / "missing.json"), "--out", str(out)]) == 0
    written = out.read_text()
    assert "| `worker_vs_raw` | 0.95 |" in written and results.NO_RUN in written
    assert f"wrote {out}" in capsys.readouterr().out
