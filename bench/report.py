"""Results: the contract's ratios and targets, the JSON (machine, date, git commit, command)."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from bench import bulk_figures, peer_figures, tenant_report
from bench.settings import ROOT, Settings
from bench.stats import paired, spread

# The performance contract's targets (docs/performance.md) on a 2-core machine (all-MiniLM-L6-v2, short texts).
# Reported, never asserted.
TARGETS = {
    "worker_vs_raw": (">=", 0.95),
    "e2e_vs_raw": (">=", 0.80),
    "ingest_vs_hello": (">=", 0.25),
    # a waited call at idle less its own job's model time (`bench.latency.over_model_p50`)
    "latency_p50_over_model_ms": ("<=", 3.0),
    # CPU a job in the end-to-end mode, by tier: the API process, and PostgreSQL with RabbitMQ together
    "api_cpu_ms_per_job": ("<=", 1.0),
    "servers_cpu_ms_per_job": ("<=", 0.7),
    "api_rss_mb": ("<=", 80.0),
    "calls_per_s": (">=", 139.0),  # infinity-emb's calls/s, 32 clients, one text a call (docs/performance.md)
}
WORKER_RSS_TARGET_MB = {"int8": 160.0, None: 250.0}  # by the model's quantization
# Reported without a target: worker_vs_seed (raw ONNX Runtime itself is only 4 to 8 times the old design on small
# cores), and a waited call over one raw model call at idle, which charges to the service what the model itself
# loses between two calls to the other processes (caches, clock): `latency_p50_over_model_ms` takes each
# call's own model time instead. The floor of a waited call on this stack (`bench.floor`: the same path from the
# same parts, none of the service's code) and what the service adds over it, each repeat's latency round against
# its floor round, are reported beside the target: where the floor itself is over it, no service that keeps this
# path's steps can meet it on that host.
INFORMATIONAL = ("worker_vs_seed", "latency_p50_over_raw_single_ms")
INFORMATIONAL += ("latency_floor_over_model_ms", "latency_over_floor_ms")


def pairs(modes: dict[str, dict]) -> dict[str, dict | None]:
    """Each ratio from its per-repeat pairs: the two sides of a pair were measured back to back (the modes
    take turns), so they saw the same phase of the host; the median of the pairs and their spread."""

    def rounds(mode: str, key: str = "rounds") -> list:
        return list(modes[mode].get(key) or []) if mode in modes else []

    def zipped(left: list, right: list) -> list[tuple]:
        return list(zip(left, right, strict=False))

    # Steady state against steady state: raw times its rounds once its processes have loaded the model,
    # so the workers are counted from the moment every process had (their boot is reported apart).
    workers = rounds("worker", "rounds_steady") or rounds("worker")
    hello = modes["ingest"]["hello"].get("rounds", []) if "ingest" in modes else []
    over_model = [value for value in rounds("latency", "rounds_over_model_p50") if value is not None]
    floor = rounds("latency", "rounds_floor_over_model_p50")
    return {
        "worker_vs_raw": paired(zipped(workers, rounds("raw"))),
        "worker_vs_seed": paired(zipped(workers, rounds("seed"))),
        "e2e_vs_raw": paired(zipped(rounds("e2e"), rounds("raw"))),
        "ingest_vs_hello": paired(zipped(rounds("ingest"), hello)),
        "latency_p50_over_model_ms": spread(over_model),
        "latency_floor_over_model_ms": spread(floor),
        "latency_over_floor_ms": paired(zipped(rounds("latency", "rounds_over_model_p50"), floor), difference=True),
        "latency_p50_over_raw_single_ms": paired(
            zipped(rounds("latency", "rounds_p50"), rounds("raw", "rounds_single_p50")), difference=True
        ),
        **tenant_report.pairs(modes),
        **bulk_figures.pairs(modes, workers),
        **peer_figures.pairs(modes),
    }


def ratios(modes: dict[str, dict]) -> dict[str, float | None]:
    """The medians of the per-repeat pairs (`pairs`), the figures the targets are checked on."""
    found = pairs(modes)
    return {name: (found[name] or {}).get("median") for name in RATIOS}


RATIOS = ("worker_vs_raw", "worker_vs_seed", "e2e_vs_raw", "ingest_vs_hello")


def latencies(modes: dict[str, dict]) -> dict[str, float | None]:
    latency, raw = modes.get("latency", {}), modes.get("raw", {})
    return {"p50": latency.get("p50"), "p99": latency.get("p99"), "raw_single": raw.get("single_ms", {}).get("p50")}


def memory(modes: dict[str, dict]) -> dict[str, float | None]:
    """The largest RSS seen per kind of process (MB)."""
    api = [modes[m]["rss_mb"]["api"]["rss"] for m in ("e2e", "ingest") if m in modes]
    workers = [w["rss"] for m in ("worker", "e2e") if m in modes for w in _workers(modes[m]["rss_mb"])]
    return {"api": max(api, default=None), "worker": max(workers, default=None)}


def _workers(rss: list | dict) -> list[dict]:
    return rss if isinstance(rss, list) else rss["workers"]


def targets(
    ratio_values: dict,
    latency_values: dict,
    memory_values: dict,
    quantization: str | None,
    calls: float | None = None,
    cpu: dict[str, float] | None = None,
) -> dict[str, dict[str, Any]]:
    """Each figure of the contract beside its target; `cpu`: the end-to-end mode's CPU ms a job by tier."""
    values = {**ratio_values, "calls_per_s": calls}
    values["api_cpu_ms_per_job"] = (cpu or {}).get("api")
    values["servers_cpu_ms_per_job"] = (cpu or {}).get("servers")
    values["latency_p50_over_model_ms"] = latency_values.get("over_model")  # the median of the rounds' p50s
    values["api_rss_mb"] = memory_values["api"]
    wanted = dict(TARGETS)
    wanted["worker_rss_mb"] = ("<=", WORKER_RSS_TARGET_MB.get(quantization, WORKER_RSS_TARGET_MB[None]))
    values["worker_rss_mb"] = memory_values["worker"]
    checked = {}
    for name, (op, bound) in wanted.items():
        value = values.get(name)
        met = None if value is None else (value >= bound if op == ">=" else value <= bound)
        checked[name] = {"value": value, "target": f"{op} {bound:g}", "met": met}
    return checked


def machine() -> dict[str, Any]:
    names = [line.split(":", 1)[1].strip() for line in _read("/proc/cpuinfo").splitlines() if "model name" in line]
    cpu = names[0] if names else platform.processor()
    mem_kib = next((int(line.split()[1]) for line in _read("/proc/meminfo").splitlines() if "MemTotal" in line), 0)
    versions = {}
    for package in ("onnxruntime", "tokenizers", "torch", "transformers", "dramatiq", "falcon", "waitress", "peewee"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "cores": os.cpu_count(),
        "cpu_model": cpu,
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "versions": versions,
    }


def git() -> dict[str, Any]:
    def run(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    return {
        "commit": run("rev-parse", "HEAD") or None,
        "branch": run("rev-parse", "--abbrev-ref", "HEAD") or None,
        "dirty": bool(run("status", "--porcelain", "--untracked-files=no")),
    }


def document(settings: Settings, modes: dict[str, dict], started: dt.datetime, quantization: str | None) -> dict:
    ratio_values, latency_values, memory_values = ratios(modes), latencies(modes), memory(modes)
    found = pairs(modes)
    over = found["latency_p50_over_model_ms"]
    return {
        "command": " ".join(["python -m bench", *sys.argv[1:]]),
        "date": started.isoformat(timespec="seconds"),
        "seconds": round((dt.datetime.now(dt.UTC) - started).total_seconds(), 1),
        "git": git(),
        "machine": machine(),
        "settings": {
            "preset": settings.preset,
            "model": settings.model,
            "processes": settings.processes,
            "worker_threads": settings.worker_threads,
            "web_threads": settings.web_threads,
            "clients": settings.clients,
            "ingest_clients": settings.ingest_concurrency,
            "settle": settings.settle,
            "sizes": settings.sizes.__dict__,
        },
        "modes": modes,
        "interleaved": True,  # the modes took turns, one round each per repeat
        "repeats": settings.sizes.repeats,
        "ratios": ratio_values,
        "pairs": found,
        "informational": list(INFORMATIONAL),
        "latency_ms": latency_values,
        "rss_mb": memory_values,
        "cpu_ms": {
            "raw_per_text": modes.get("raw", {}).get("cpu_ms_per_text"),
            "worker_per_job": modes.get("worker", {}).get("cpu_ms_per_job"),
            # by tier (api, workers, clients, servers): the median of the rounds, and each round's
            "e2e_per_job": modes.get("e2e", {}).get("cpu_ms_per_job"),
            "e2e_per_job_rounds": modes.get("e2e", {}).get("rounds_cpu_ms_per_job"),
        },
        "targets": targets(
            ratio_values,
            {**latency_values, "over_model": over["median"] if over else None},
            memory_values,
            quantization,
            modes.get("calls", {}).get("throughput"),
            modes.get("e2e", {}).get("cpu_ms_per_job"),
        )
        | tenant_report.targets(found, modes)
        | bulk_figures.targets(found)
        | peer_figures.targets(found),
    }


def summary(doc: dict) -> str:
    lines = ["", f"ratios: the median of {doc.get('repeats', '?')} interleaved pairs [min..max]:"]
    for name, found in doc.get("pairs", {}).items():
        shown = "n/a" if not found else f"{found['median']:g} [{found['min']:g}..{found['max']:g}]"
        extra = "  (informational: no target)" if name in doc.get("informational", ()) else ""
        lines.append(f"  {name:<32} {shown}{extra}")
    lines += ["", "targets (reported, not asserted):"]
    for name, check in doc["targets"].items():
        value = check["value"]
        shown = "n/a" if value is None else f"{value:g}"
        verdict = {True: "met", False: "NOT met", None: "not measured"}[check["met"]]
        lines.append(f"  {name:<32} {shown:>10}  target {check['target']:<8} {verdict}")
    latency = doc["latency_ms"]
    lines.append(f"  latency_ms: p50 {latency['p50']}  p99 {latency['p99']}  raw_single {latency['raw_single']}")
    cpu = doc.get("cpu_ms", {})
    if cpu.get("raw_per_text") and cpu.get("worker_per_job"):
        lines.append(
            f"  cpu_ms: raw {cpu['raw_per_text']} per text, worker {cpu['worker_per_job']} per job "
            f"(overhead {cpu['worker_per_job'] - cpu['raw_per_text']:.2f} ms a job around the model)"
        )
    return "\n".join(lines)


def write(path: Path, doc: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2, default=str) + "\n")


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""
