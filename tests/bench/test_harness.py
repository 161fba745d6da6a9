"""The benchmark harness itself: a tiny run of every mode against the real servers writes well-formed
results. Timing is never asserted: only that every number is there, positive, finite and ordered."""

from __future__ import annotations

import math
import os
import re
import signal
import subprocess
import sys
import time

import psycopg2
import pytest

from bench import floor, peer_figures
from bench.infra import Infra, InfraError
from bench.settings import MODES, Settings
from harness import processes
from harness.processes import read_stat
from harness.servers import postgres_database
from tests import servers
from tests.conftest import ROOT

pytestmark = [pytest.mark.integration, pytest.mark.slow]

THROUGHPUT_MODES = ("raw", "seed", "worker", "e2e", "calls", "ingest")
THROUGHPUT_MODES += ("bulk",)


def percentiles(node, where: str = ""):
    """Every {p50, p99} pair in the document, with where it is."""
    if isinstance(node, dict):
        if "p50" in node and "p99" in node:
            yield where, node["p50"], node["p99"]
        for key, value in node.items():
            yield from percentiles(value, f"{where}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from percentiles(value, f"{where}[{index}]")


def positive_finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0


def test_a_tiny_run_reports_every_mode_with_a_positive_throughput(tiny_run):
    doc, stdout = tiny_run
    assert set(doc["modes"]) == set(MODES)
    assert "errors" not in doc
    for mode in THROUGHPUT_MODES:
        assert positive_finite(doc["modes"][mode]["throughput"]), mode
        assert re.search(rf"^{mode}\s+\d", stdout, re.MULTILINE), f"no result line for {mode}:\n{stdout}"
    assert positive_finite(doc["modes"]["ingest"]["hello"]["throughput"])
    for mode in MODES:  # how busy the machine was with other work, so each number can be judged
        assert all(cores >= 0 for cores in doc["modes"][mode]["others_cores"]), mode
    assert re.search(r"^latency\s+p50 \d", stdout, re.MULTILINE)
    assert re.search(r"^e2e\s.*POSTs took [\d.]+ of [\d.]+ s, cores busy [\d.]+", stdout, re.MULTILINE)


def test_ratios_and_latencies_are_positive_finite_numbers(tiny_run):
    doc, _ = tiny_run
    assert set(doc["ratios"]) == {"worker_vs_raw", "worker_vs_seed", "e2e_vs_raw", "ingest_vs_hello"}
    for name, value in doc["ratios"].items():
        assert positive_finite(value), (name, value)
    assert doc["interleaved"] is True and doc["repeats"] == 1
    for name, value in doc["ratios"].items():  # each ratio: the median of its per-repeat pairs
        pair = doc["pairs"][name]
        assert pair["median"] == value and pair["min"] <= value <= pair["max"], name
        assert len(pair["sides"]) == len(pair["values"]) == doc["repeats"], name
    assert "worker_vs_seed" in doc["informational"] and "worker_vs_seed" not in doc["targets"]
    assert set(doc["latency_ms"]) == {"p50", "p99", "raw_single"}
    for name, value in doc["latency_ms"].items():
        assert positive_finite(value), (name, value)


def test_latency_is_broken_down_stage_by_stage_on_one_clock(tiny_run):
    doc, stdout = tiny_run
    stages = doc["modes"]["latency"]["breakdown_ms"]
    assert set(stages) == {
        "sent_to_created_p50",
        "created_to_started_p50",
        "started_to_finished_p50",
        "model_p50",
        "finished_to_answered_p50",
    }
    floor = doc["modes"]["latency"]["floor_breakdown_ms"]  # the floor's stages, stamped where the service's are
    assert set(floor) == set(stages)
    for breakdown in (stages, floor):
        for name, value in breakdown.items():  # the client's and the servers' clocks are one: no stage runs backwards
            assert positive_finite(value), (name, value)
        assert breakdown["model_p50"] <= breakdown["started_to_finished_p50"]  # the model runs within that stage
    assert re.search(r"stages p50: sent->created [\d.]+, .* \(model [\d.]+\), finished->answered", stdout)
    assert re.search(r"the floor's: sent->created [\d.]+, .* finished->answered [\d.]+ ms", stdout)


def test_each_latency_round_is_set_against_the_stacks_floor_which_leaves_nothing_behind(tiny_run):
    doc, stdout = tiny_run
    floors = doc["modes"]["latency"]["rounds_floor_over_model_p50"]
    assert len(floors) == doc["repeats"] and all(positive_finite(f) for f in floors), floors
    assert doc["pairs"]["latency_floor_over_model_ms"]["values"] == floors
    added = doc["pairs"]["latency_over_floor_ms"]  # the service's p50 over its model, less the floor's
    assert added["of"] == "difference" and [s[1] for s in added["sides"]] == floors
    assert {"latency_floor_over_model_ms", "latency_over_floor_ms"} <= set(doc["informational"])
    assert re.search(r"the floor's [\d.]+ ms", stdout)
    connection = psycopg2.connect(postgres_database(servers.POSTGRES_ADMIN_URL, "inference_api_bench_test"))
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT to_regclass(%s)", (floor.TABLE,))
            assert cursor.fetchone() == (None,)  # its table dropped with the run
    finally:
        connection.close()


def test_every_percentile_pair_is_ordered(tiny_run):
    doc, _ = tiny_run
    pairs = list(percentiles(doc))
    assert len(pairs) >= 8
    for where, p50, p99 in pairs:
        assert positive_finite(p50) and positive_finite(p99), where
        assert p50 <= p99, where
    assert doc["latency_ms"]["p50"] <= doc["latency_ms"]["p99"]


def test_the_document_says_where_and_how_it_was_measured(tiny_run):
    doc, _ = tiny_run
    assert doc["command"].startswith("python -m bench --tiny")
    assert doc["machine"]["cores"] == os.cpu_count()
    assert doc["machine"]["cpu_model"] and doc["machine"]["memory_gib"] > 0
    assert re.fullmatch(r"[0-9a-f]{40}", doc["git"]["commit"] or "")
    assert doc["settings"]["model"] == "all-MiniLM-L6-v2-int8"
    assert positive_finite(doc["rss_mb"]["api"]) and positive_finite(doc["rss_mb"]["worker"])
    assert positive_finite(doc["cpu_ms"]["raw_per_text"])  # the model's own CPU, beside the worker's per job
    worker_cpu = doc["cpu_ms"]["worker_per_job"]  # None when a tiny run finished before every process was ready
    assert worker_cpu is None or positive_finite(worker_cpu)
    e2e_cpu = doc["modes"]["e2e"]["cpu_ms_per_job"]  # where an e2e job's CPU went, tier by tier
    assert set(e2e_cpu) == {"api", "workers", "clients", "servers"}
    assert all(positive_finite(e2e_cpu[tier]) for tier in ("api", "workers", "clients")), e2e_cpu
    assert doc["cpu_ms"]["e2e_per_job_rounds"] == doc["modes"]["e2e"]["rounds_cpu_ms_per_job"]  # kept per round
    assert e2e_cpu["servers"] >= 0  # from cores rounded to hundredths: a tiny run may show none
    e2e = doc["modes"]["e2e"]  # how long the clients POSTed, within the round (the rest: the workers' tail)
    assert 0 < e2e["posting_seconds"] <= e2e["seconds"] and 0 < e2e["cores_busy"] <= os.cpu_count()
    assert positive_finite(doc["targets"]["calls_per_s"]["value"])
    measured = {name: check for name, check in doc["targets"].items() if name not in peer_figures.TARGETS}
    assert all(check["met"] in (True, False) for check in measured.values())


def test_the_peer_mode_without_infinity_emb_says_it_is_not_installed_and_the_run_goes_on(tiny_run):
    doc, stdout = tiny_run
    assert doc["modes"]["peer"]["installed"] is False and "not installed" in doc["modes"]["peer"]["note"]
    assert re.search(r"^peer\s+not measured: infinity-emb is not installed", stdout, re.MULTILINE)
    for name in peer_figures.TARGETS:
        assert doc["pairs"][name] is None and doc["targets"][name]["met"] is None, name


def test_the_bulk_mode_times_interactive_requests_idle_and_during_a_batch_it_ran_through_the_api(tiny_run):
    doc, stdout = tiny_run
    bulk = doc["modes"]["bulk"]
    assert bulk["lines"] == 500 and positive_finite(bulk["throughput"]) and positive_finite(bulk["seconds"])
    idle, busy = bulk["idle_ms"], bulk["busy_ms"]
    assert idle["n"] >= 1 and busy["n"] >= 1 and positive_finite(idle["p50"]) and positive_finite(busy["p50"])
    assert bulk["interactive_p50_vs_idle"] == round(busy["p50"] / idle["p50"], 4)
    for name in ("bulk_interactive_p50_vs_idle", "bulk_vs_worker"):  # both targets, from the pairs of this run
        value = doc["targets"][name]["value"]
        assert positive_finite(value) and doc["pairs"][name]["median"] == value, name
    worker = doc["modes"]["worker"]
    steady = (worker.get("rounds_steady") or worker["rounds"])[0]
    assert doc["pairs"]["bulk_vs_worker"]["sides"] == [[round(bulk["rounds_alone"][0], 3), round(steady, 3)]]
    assert re.search(r"^bulk\s+[\d.]+ lines/s .* interactive p50 [\d.]+ ms .* idle", stdout, re.MULTILINE)


def test_a_second_run_on_the_same_database_is_refused_while_the_first_holds_it():
    servers.require("PostgreSQL", servers.POSTGRES_ADMIN_URL)
    settings = Settings(postgres_url=servers.POSTGRES_ADMIN_URL, database="inference_api_bench_lock")
    first, second = Infra(settings), Infra(settings)
    for infra in (first, second):
        infra.database_url = postgres_database(settings.postgres_url, settings.database)
    first._take_lock()
    try:
        with pytest.raises(InfraError, match="another benchmark run is using database 'inference_api_bench_lock'"):
            second._take_lock()
    finally:
        first.release()
    second._take_lock()  # the first one ended: the next may start
    second.release()


def _running(pid: int) -> bool:
    try:
        return read_stat(pid)[1][0] != "Z"  # a zombie has ended: only its exit status is left
    except OSError:
        return False


def test_a_run_stopped_by_sigterm_stops_its_modes_processes_and_drops_its_tables(models_dir, tmp_path):
    servers.require("PostgreSQL", servers.POSTGRES_ADMIN_URL)
    servers.require("RabbitMQ", servers.RABBITMQ_URL)
    args = [sys.executable, "-m", "bench", "--tiny", "--modes", "raw", "--n", "raw=60", "--models-dir", str(models_dir)]
    args += ["--postgres", servers.POSTGRES_ADMIN_URL, "--rabbitmq", servers.RABBITMQ_URL, "--log-dir", str(tmp_path)]
    args += ["--database", "inference_api_bench_stop", "--vhost", "inference_api_bench_stop"]
    run = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        for line in run.stderr:  # the raw round runs for a minute: its processes are up and measuring
            if "raw 1/1:" in line:
                break
        deadline = time.monotonic() + 60
        while len(children := processes.children(run.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(children) >= 2, "the raw mode's processes did not start"
        run.send_signal(signal.SIGTERM)
        assert run.wait(timeout=60) == 128 + signal.SIGTERM
    finally:
        run.kill()
        run.wait()
    deadline = time.monotonic() + 10  # multiprocessing's resource tracker leaves once it sees its parent gone
    while (left := [pid for pid in children if _running(pid)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert left == []
    connection = psycopg2.connect(postgres_database(servers.POSTGRES_ADMIN_URL, "inference_api_bench_stop"))
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT to_regclass('job')")
            assert cursor.fetchone() == (None,)  # cleaned up as at the end of a run
    finally:
        connection.close()
