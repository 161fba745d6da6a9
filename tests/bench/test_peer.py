"""The peer mode (bench/peer.py) without the peer: it says so and the run goes on; its figures
(bench/peer_figures.py): each repeat's two sides paired. Nothing here needs infinity-emb installed."""

from __future__ import annotations

import datetime as dt
import json
import sys
from importlib import metadata

from bench import interleave, lines, peer, peer_figures, report, results
from bench.settings import DEFAULT_MODES, MODEL_MODES, PRESETS, Settings
from bench.stats import latency_ms, summary


class Progress:
    mode = ""

    def __init__(self):
        self.said: list[str] = []

    def __call__(self, message: str) -> None:
        self.said.append(message)


def test_without_the_peer_installed_the_mode_says_so_and_the_run_goes_on(tmp_path):
    not_executable = tmp_path / "infinity_emb"
    not_executable.write_text("#!/bin/sh\n")  # there, but not executable: not installed either
    for missing in (str(tmp_path / "bin" / "infinity_emb"), str(not_executable), "no-such-infinity-emb"):
        settings = Settings(sizes=PRESETS["tiny"], modes=("peer",), peer=missing)
        progress = Progress()
        found, errors = interleave.run(settings, None, None, progress)  # no stack: nothing is started
        assert errors == {}
        result = found["peer"]
        assert result["installed"] is False and result["throughput"] is None
        assert f"infinity-emb is not installed (no executable {missing!r}" in result["note"]
        assert any("not installed" in message for message in progress.said)
        assert lines.mode_line("peer", result).startswith("peer     not measured: infinity-emb is not installed")
        doc = json.loads(json.dumps(report.document(settings, found, dt.datetime.now(dt.UTC), None), default=str))
        for name in ("calls_vs_peer", "calls_p50_vs_peer"):
            assert doc["pairs"][name] is None
            assert doc["targets"][name]["met"] is None  # "not measured"
        page = results.page({"var/bench-fp32.json": doc})
        assert "| `calls_vs_peer` | n/a | - | - | 0 | >= 1.2 | not measured |" in page
        assert "| `calls_p50_vs_peer` | n/a | - | - | 0 | < 1 | not measured |" in page
        assert f"| peer | n/a | {result['note']} |" in page


def side(*rounds: tuple[float, float]) -> dict:
    """One side's figures from (calls/s, p50 ms) rounds, as `bench.peer.figures` makes them."""
    made = [{"throughput": t, "call_ms": latency_ms([p / 1000]), "cores": {"others": 0.2}, "not_answered": 0}
            for t, p in rounds]  # fmt: skip
    return peer.figures(made)


def peer_result(ours: dict, theirs: dict) -> dict:
    version = {"infinity_emb": "0.0.78", "torch": "2.13.0+cpu"}
    about = {"installed": True, "version": version, "model": "all-MiniLM-L6-v2", "peer_model": "m", "clients": 32}
    return {**about, **theirs, "unit": "calls/s answered by infinity-emb", "ours": {**ours, "unit": "calls/s"}}


def test_calls_vs_peer_pairs_our_calls_with_the_peers_of_the_same_repeat():
    ours = side((150.0, 40.0), (120.0, 50.0), (160.0, 60.0))
    theirs = side((100.0, 50.0), (100.0, 50.0), (150.0, 50.0))  # the host slowed down in the second repeat
    found = report.pairs({"peer": peer_result(ours, theirs)})
    calls, p50 = found["calls_vs_peer"], found["calls_p50_vs_peer"]
    assert calls["sides"] == [[150.0, 100.0], [120.0, 100.0], [160.0, 150.0]]
    assert calls["values"] == [1.5, 1.2, 1.0667] and calls["median"] == 1.2  # a ratio of the bests: 1.0667
    assert p50["values"] == [0.8, 1.0, 1.2] and p50["median"] == 1.0
    checked = peer_figures.targets(found)
    assert checked["calls_vs_peer"] == {"value": 1.2, "target": ">= 1.2", "met": True}
    assert checked["calls_p50_vs_peer"] == {"value": 1.0, "target": "< 1", "met": False}  # equal is not lower
    assert "calls_vs_peer" not in report.pairs({}) and "calls_vs_peer" not in peer_figures.targets({})  # not run


def test_the_results_page_shows_both_sides_and_the_peers_version():
    ours, theirs = side((180.0, 30.0), (170.0, 32.0)), side((120.0, 45.0), (125.0, 44.0))  # 1.5 and 1.36
    modes = {"calls": {**summary([{"throughput": 150.0, "cores": {"others": 0.1}}]), "unit": "calls/s"}}
    modes["peer"] = peer_result(ours, theirs)
    settings = Settings(preset="quick", sizes=PRESETS["quick"], model="all-MiniLM-L6-v2")
    doc = report.document(settings, modes, dt.datetime(2026, 12, 1, tzinfo=dt.UTC), None)
    page = results.page({"var/bench-fp32.json": json.loads(json.dumps(doc, default=str))})
    assert "infinity-emb 0.0.78 (the peer; its torch 2.13.0+cpu)" in page
    assert "| peer: ours | 180 | calls/s | 180 170 | 5.6% | 0.2 0.2 |" in page
    assert "| peer: infinity-emb | 125 | calls/s answered by infinity-emb | 120 125 | 4.0% | 0.2 0.2 |" in page
    assert "| `calls_vs_peer` | 1.43 | >= 1.2 | met | ours 5.6%, peer 4.0% |" in page
    assert "| `calls_p50_vs_peer` | 0.697 | < 1 | met | ours 6.2%, peer 2.2% |" in page
    line = lines.mode_line("peer", modes["peer"])
    assert "ours (/v1/embeddings, all-MiniLM-L6-v2) 180.0 calls/s, p50 30.0 ms" in line
    assert "infinity-emb 0.0.78 (/embeddings, m) 125.0 calls/s, p50 44.0 ms" in line


def test_the_peer_runs_in_the_fp32_run_only_and_its_executable_comes_from_bench_peer(monkeypatch):
    assert "peer" in MODEL_MODES and "peer" not in DEFAULT_MODES and "peer" not in Settings().modes
    monkeypatch.setenv("BENCH_PEER", "/opt/infinity/bin/infinity_emb")
    assert Settings().peer == "/opt/infinity/bin/infinity_emb"
    monkeypatch.delenv("BENCH_PEER")
    assert Settings().peer == "infinity_emb"  # on PATH


def test_the_peers_versions_come_from_the_python_that_runs_its_executable(tmp_path):
    script = tmp_path / "infinity_emb"
    script.write_text(f"#!{sys.executable}\n")
    script.chmod(0o755)

    def installed(name: str) -> str | None:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    assert peer.executable(str(script)) == str(script)
    assert peer.versions(str(script)) == {"infinity_emb": installed("infinity_emb"), "torch": installed("torch")}
    assert peer.versions(str(tmp_path / "missing")) == {"infinity_emb": None, "torch": None}
