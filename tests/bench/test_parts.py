"""The harness's small parts, without servers: statistics, sizes, ratios and the hello-world app."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import replace

import numpy as np
import pytest
from falcon.testing import TestClient

from bench import bulk_figures, hello, jobs, latency, report
from bench.settings import PRESETS, Settings, procfile_threads
from bench.stats import latency_ms, percentile
from bench.texts import texts
from tests.processes import named


def test_percentiles_agree_with_numpy():
    values = list(np.random.default_rng(3).exponential(10.0, size=101))
    for q in (0, 50, 90, 99, 100):
        assert percentile(values, q) == pytest.approx(np.percentile(values, q))
    summary = latency_ms([0.001, 0.002, 0.003])
    assert summary["p50"] == pytest.approx(2.0) and summary["p50"] <= summary["p99"] <= summary["max"]


def test_texts_are_short_varied_and_the_same_on_every_run():
    made = texts(500)
    assert made == texts(500)
    assert all(8 <= len(text.split()) <= 15 for text in made)
    assert len(set(made)) > 450


def test_n_overrides_replace_one_mode_size_and_refuse_unknown_modes():
    settings = Settings(sizes=PRESETS["tiny"]).with_overrides(["worker=50", "raw=1.5"])
    assert settings.sizes.worker_n == 50 and settings.sizes.raw_seconds == 1.5
    assert settings.sizes.e2e_n == PRESETS["tiny"].e2e_n
    with pytest.raises(ValueError, match="MODE=NUMBER"):
        settings.with_overrides(["dance=3"])


def test_worker_threads_default_to_the_procfile(tmp_path):
    procfile = tmp_path / "Procfile"
    procfile.write_text("web: inference-api serve\nworker: dramatiq actors.worker --processes 2 --threads 16\n")
    assert procfile_threads(procfile) == 16
    assert procfile_threads(tmp_path / "missing") == 2


def test_ratios_are_none_for_modes_not_run():
    modes = {
        "raw": {"throughput": 310.0, "rounds": [300.0, 310.0], "single_ms": {"p50": 7.0}},
        "worker": {"throughput": 279.0, "rounds": [270.0, 279.0]},
    }
    assert report.ratios(modes) == {
        "worker_vs_raw": 0.9,
        "worker_vs_seed": None,
        "e2e_vs_raw": None,
        "ingest_vs_hello": None,
    }
    assert report.latencies(modes) == {"p50": None, "p99": None, "raw_single": 7.0}


def test_the_worker_ratios_compare_steady_states_once_every_worker_process_is_ready():
    modes = {
        "raw": {"rounds": [400.0], "single_ms": {"p50": 5.0}},
        "seed": {"rounds": [100.0]},
        "worker": {"rounds": [300.0], "rounds_steady": [360.0]},
    }
    assert report.ratios(modes)["worker_vs_raw"] == 0.9
    assert report.ratios(modes)["worker_vs_seed"] == 3.6


def test_each_ratio_is_the_median_of_its_per_repeat_pairs_not_a_ratio_of_bests():
    modes = {
        # the host slowed down in the second repeat: both sides saw it, and their ratio did not move
        "raw": {"rounds": [400.0, 200.0, 390.0], "rounds_single_p50": [5.0, 9.0, 5.0]},
        "e2e": {"rounds": [240.0, 120.0, 300.0]},
        "latency": {
            "rounds_p50": [12.0, 20.0, 14.0],
            "rounds_over_model_p50": [3.0, 4.5, 3.5],
            "rounds_floor_over_model_p50": [2.5, 3.0, 3.25],
        },
    }
    found = report.pairs(modes)
    assert found["e2e_vs_raw"]["values"] == [0.6, 0.6, 0.7692]
    assert found["e2e_vs_raw"]["median"] == 0.6  # a ratio of the bests would say 300 / 400 = 0.75
    assert (found["e2e_vs_raw"]["min"], found["e2e_vs_raw"]["max"]) == (0.6, 0.7692)
    assert found["e2e_vs_raw"]["sides"] == [[240.0, 400.0], [120.0, 200.0], [300.0, 390.0]]
    assert found["latency_p50_over_raw_single_ms"]["values"] == [7.0, 11.0, 9.0]
    assert found["latency_p50_over_raw_single_ms"]["median"] == 9.0
    # the call less its own model time: one-sided, the median of the rounds' p50s
    assert found["latency_p50_over_model_ms"]["values"] == [3.0, 4.5, 3.5]
    assert found["latency_p50_over_model_ms"]["median"] == 3.5
    # the stack's floor in the same rounds, and what the service adds over it, repeat by repeat
    assert found["latency_floor_over_model_ms"]["median"] == 3.0
    assert found["latency_over_floor_ms"]["values"] == [0.5, 1.5, 0.25]
    assert found["latency_over_floor_ms"]["median"] == 0.5
    assert found["worker_vs_raw"] is None


def test_what_a_call_adds_to_the_model_subtracts_each_calls_own_model_time():
    def answer(job_id: str, ms: float) -> latency.Answer:
        return latency.Answer(ms / 1000, "prefer-wait", "succeeded", job_id, 0.0, 0.0)

    now = dt.datetime(2026, 12, 7)
    ran = {job_id: jobs.Times(now, now, now, model) for job_id, model in (("a", 4.0), ("b", 9.0), ("c", 4.5))}
    ran["d"] = jobs.Times(now, None, None, None)  # never ran: left out
    answers = [answer("a", 7.0), answer("b", 12.5), answer("c", 9.5), answer("d", 50.0), answer("gone", 40.0)]
    # 3.0, 3.5 and 5.0 over their models: the slow model of "b" is not counted as the service's
    assert latency.over_model_p50(answers, ran) == 3.5
    assert latency.over_model_p50(answers[3:], ran) is None


def test_the_modes_take_turns_one_round_each_per_repeat(monkeypatch):
    from bench import interleave

    order: list[tuple[str, int]] = []

    def fake(name: str, fails_at: int | None = None):
        class Session:
            def __init__(self, *args):
                order.append((name, -1))

            def round(self, index: int) -> None:
                if index == fails_at:
                    raise RuntimeError("broken")
                order.append((name, index))

            def result(self) -> dict:
                return {"rounds": [1.0]}

            def close(self) -> None:
                order.append((name, 99))

        return type("Module", (), {"Session": Session})

    monkeypatch.setattr(interleave, "MODULES", {"raw": fake("raw"), "e2e": fake("e2e", fails_at=1)})
    settings = Settings(sizes=replace(PRESETS["tiny"], repeats=3), modes=("raw", "e2e"))
    results, errors = interleave.run(settings, None, None, lambda message: None)
    assert order == [("raw", -1), ("raw", 0), ("e2e", -1), ("e2e", 0), ("raw", 1), ("raw", 2), ("raw", 99), ("e2e", 99)]
    assert set(results) == {"raw"} and results["raw"]["interleaved"] is True
    assert errors == {"e2e": "RuntimeError: broken"}


def test_targets_say_met_not_met_or_not_measured():
    checked = report.targets(
        {"worker_vs_raw": 0.9, "worker_vs_seed": 5.0, "e2e_vs_raw": None, "ingest_vs_hello": 0.3},
        {"p50": 15.0, "p99": 30.0, "raw_single": 7.0, "over_model": 3.4},
        {"api": 60.0, "worker": 170.0},
        "int8",
        cpu={"api": 0.9, "workers": 4.2, "clients": 0.1, "servers": 0.8},
    )
    assert checked["worker_vs_raw"]["met"] is False  # 0.95 of raw
    assert checked["api_cpu_ms_per_job"] == {"value": 0.9, "target": "<= 1", "met": True}
    assert checked["servers_cpu_ms_per_job"] == {"value": 0.8, "target": "<= 0.7", "met": False}
    assert "worker_vs_seed" not in checked  # informational: raw itself is only 4 to 8 times the old design
    assert checked["e2e_vs_raw"]["met"] is None
    assert checked["latency_p50_over_model_ms"] == {"value": 3.4, "target": "<= 3", "met": False}
    assert "latency_p50_over_raw_single_ms" not in checked  # informational
    assert checked["worker_rss_mb"]["met"] is False  # 160 MB with int8


def test_the_hello_world_accepts_a_post_like_the_api():
    client = TestClient(hello.create_app())
    response = client.simulate_post("/inference", json={"model": "m", "inputs": "Vai Corinthians"})
    assert response.status_code == 202 and response.json["status"] == "queued"
    assert client.simulate_get("/healthz").status_code == 200


def test_cpu_use_is_split_between_us_the_servers_and_others():
    from bench.noise import Snapshot, cores_used

    start = Snapshot(0.0, 100.0, {10: (1, "python", 5.0), 11: (10, "dramatiq", 1.0), 20: (1, "postgres", 3.0)})
    end = Snapshot(2.0, 104.0, {10: (1, "python", 6.0), 11: (10, "dramatiq", 2.0), 20: (1, "postgres", 3.5)})
    assert cores_used(start, end, root=10) == {"total": 2.0, "ours": 1.0, "servers": 0.25, "others": 0.75}


def test_the_cpu_readers_find_a_process_by_a_name_with_spaces_and_parentheses():
    from bench import noise
    from bench.scale import cpu

    name = "a) (b c) d"
    with named(name) as pid:
        assert cpu.named(name) == [pid]
        parent, command, seconds = noise.snapshot().processes[pid]
        assert (parent, command) == (os.getpid(), name) and cpu.cpu_seconds([pid]) >= seconds >= 0
    assert cpu.named(name) == [] and cpu.cpu_seconds([pid]) == 0.0  # gone: counted as 0


def test_the_bulk_targets_pair_the_batch_with_the_worker_rounds_or_its_own_worker_round():
    bulk = {"rounds": [250.0], "rounds_alone": [270.0], "rounds_busy_p50": [30.0], "rounds_idle_p50": [24.0]}
    bulk["rounds_worker"] = [310.0]  # the batch's lines/s alone is what is compared, not its whole run's
    found = report.pairs({"bulk": bulk, "worker": {"rounds": [250.0, 260.0], "rounds_steady": [300.0, 280.0]}})
    assert found["bulk_vs_worker"]["sides"] == [[270.0, 300.0]]  # the worker mode's steady round of that repeat
    assert found["bulk_interactive_p50_vs_idle"]["median"] == 1.25
    alone = report.pairs({"bulk": bulk})  # no worker mode in the run: the bulk mode's own worker round
    assert alone["bulk_vs_worker"]["sides"] == [[270.0, 310.0]]
    checked = bulk_figures.targets(found)
    assert checked["bulk_interactive_p50_vs_idle"] == {"value": 1.25, "target": "<= 1.5", "met": True}
    assert checked["bulk_vs_worker"] == {"value": 0.9, "target": ">= 0.9", "met": True}
    assert bulk_figures.targets(report.pairs({}))["bulk_vs_worker"]["met"] is None  # not measured


def test_the_bulk_mode_runs_a_batch_of_50000_lines_in_quick_and_about_500_in_tiny():
    assert (PRESETS["quick"].bulk_lines, PRESETS["tiny"].bulk_lines) == (50_000, 500)
    assert "bulk" in Settings().modes and Settings().with_overrides(["bulk=2000"]).sizes.bulk_lines == 2000


def test_a_process_that_ends_in_the_window_takes_nothing_off_the_cores_spent():
    import subprocess
    import sys

    from bench.scale import cpu

    busy = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass\nprint(flush=True)\n"
    child = subprocess.Popen([sys.executable, "-c", busy + "time.sleep(60)"], stdout=subprocess.PIPE)
    try:
        child.stdout.readline()  # its CPU spent before the window: a pooled connection's earlier work
        with cpu.Window({"backends": [child.pid]}) as window:
            child.kill()
            child.wait()
        assert window.cores["backends"] == 0.0  # not minus its past
        working = subprocess.Popen([sys.executable, "-c", busy.replace("0.3", "0.5")], stdout=subprocess.PIPE)
        with cpu.Window({"backends": [working.pid]}) as window:
            working.stdout.readline()  # it works, then says so, inside the window
        working.wait()
        assert window.cores["backends"] > 0.1
    finally:
        child.kill()


def test_the_bulk_modes_sweeper_stops_with_its_round_even_when_the_round_fails(monkeypatch, tmp_path):
    from types import SimpleNamespace

    from bench import bulk

    class Sweeper:
        def __init__(self, *args, **kwargs):
            self.stopped = False

        def start(self):
            started.append(self)
            return self

        def stop(self):
            self.stopped = True

    def broken_round(*args, **kwargs):
        raise RuntimeError("the batch was refused")

    started: list[Sweeper] = []
    monkeypatch.setattr(bulk, "Service", Sweeper)
    monkeypatch.setattr(bulk, "one_round", broken_round)
    settings = replace(Settings(sizes=PRESETS["tiny"]), modes=("worker", "bulk"), log_dir=tmp_path)
    infra = SimpleNamespace(database_url="postgresql://x/db", broker_url="amqp://x/vh")
    stack = SimpleNamespace(api=lambda: None, workers=lambda: None)
    session = bulk.Session(settings, infra, stack, progress=lambda message: None)
    with pytest.raises(RuntimeError, match="refused"):
        session.round(0)
    [sweeper] = started
    assert sweeper.stopped and session.sweeper is None  # not left running beside the modes after it
