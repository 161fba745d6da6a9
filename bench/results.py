"""`python -m bench results FILE... --out bench/RESULTS.md`: the latest results as a Markdown page, built
from the JSON documents a run writes (`--json`), so the figures people read are the ones a run measured.

One section per document: where it ran (CPU, cores, versions, commit), every ratio as the median of its
per-repeat pairs (the modes take turns, so a pair's two sides saw the same phase of the host) with their
spread, every figure of the performance contract beside its target and whether it was met, and the
spread of the rounds behind it.
A document that is missing (no run yet) is said so instead of inventing figures."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from bench import peer_figures, tenant_report

# Which modes' rounds stand behind each target, for its spread (the modes a ratio divides, or measures).
SIDES = {
    "worker_vs_raw": ("worker", "raw"),
    "worker_vs_seed": ("worker", "seed"),
    "e2e_vs_raw": ("e2e", "raw"),
    "ingest_vs_hello": ("ingest", "hello"),
    "latency_p50_over_model_ms": ("latency",),
    "latency_p50_over_raw_single_ms": ("latency", "raw"),
    "latency_floor_over_model_ms": ("latency",),
    "latency_over_floor_ms": ("latency",),
    "calls_per_s": ("calls",),
    "api_cpu_ms_per_job": ("e2e",),
    "servers_cpu_ms_per_job": ("e2e",),
}
SIDES |= {
    "flood_b_p50_vs_idle": ("flood",),
    "flood_b_admission_vs_idle": ("flood",),
    "fairness_lines_ahead": ("fairness",),
}
SIDES |= {"bulk_vs_worker": ("bulk", "worker"), "bulk_interactive_p50_vs_idle": ("bulk",)}
SIDES |= {"calls_vs_peer": ("ours", "peer"), "calls_p50_vs_peer": ("ours", "peer")}  # ours: the peer mode's
OF_P50 = ("calls_p50_vs_peer",)  # targets on p50s: the spread of the rounds' p50s
VERSIONS = ("onnxruntime", "tokenizers", "dramatiq", "falcon", "waitress", "peewee", "postgresql", "rabbitmq")
VERDICTS = {True: "met", False: "**missed**", None: "not measured"}
NO_RUN = "No run recorded yet: `make bench` writes this page from the JSON documents of its runs."


def page(documents: dict[str, dict | None]) -> str:
    """The whole page: one section per document (by the path it was read from), or a stub when none exists."""
    lines = [
        "# Benchmark results",
        "",
        "Written by `make bench` (`python -m bench results`) from the JSON of its latest run; do not edit by hand.",
        "What each mode and figure means: [README.md](README.md).",
        "",
    ]
    if not any(documents.values()):
        return "\n".join([*lines, NO_RUN, ""])
    for path, doc in documents.items():
        lines += [*section(path, doc), ""]
    return "\n".join(lines)


def section(path: str, doc: dict | None) -> list[str]:
    if doc is None:
        return [f"## `{path}`", "", NO_RUN]
    settings = doc.get("settings", {})
    lines = [f"## {settings.get('model', '?')} ({settings.get('preset', '?')})", ""]
    lines += about(path, doc)
    lines += ["", *ratio_table(doc)]
    lines += ["", "| figure | value | target | verdict | spread of the rounds |", "| --- | --- | --- | --- | --- |"]
    for name, check in doc.get("targets", {}).items():
        lines.append(
            f"| `{name}` | {number(check['value'])} | {check['target']} | {VERDICTS[check['met']]} "
            f"| {spread_of(name, doc.get('modes', {}))} |"
        )
    lines += ["", "| mode | best | unit | rounds | spread | other work (cores) |", "|---" * 6 + "|"]
    for mode, result in doc.get("modes", {}).items():
        lines += mode_rows(mode, result)
    lines += stage_table(doc.get("modes", {}).get("latency"))
    lines += tenant_report.section(doc.get("modes", {}))
    if doc.get("errors"):
        lines += ["", "Modes that failed: " + "; ".join(f"`{m}`: {e}" for m, e in doc["errors"].items())]
    return lines


def ratio_table(doc: dict) -> list[str]:
    """Each ratio as the median of its per-repeat pairs, with their spread and its target (if any)."""
    found = doc.get("pairs")
    if not found:
        return ["Ratios: not measured interleaved (no per-repeat pairs in this document)."]
    targets = doc.get("targets", {})
    lines = [
        f"Measured interleaved: the modes took turns, one round each per repeat ({doc.get('repeats', '?')} "
        "repeats); each ratio is the median of its per-repeat pairs.",
        "",
        "| ratio | median | min..max | interquartile | pairs | target | verdict |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, pair in found.items():
        target = targets[name]["target"] if name in targets else "none (informational)"
        verdict = VERDICTS[targets[name]["met"]] if name in targets else "-"
        if not pair:
            lines.append(f"| `{name}` | n/a | - | - | 0 | {target} | {verdict} |")
            continue
        low, high = pair["iqr"]
        lines.append(
            f"| `{name}` | {number(pair['median'])} | {number(pair['min'])}..{number(pair['max'])} "
            f"| {number(low)}..{number(high)} | {len(pair['values'])} | {target} | {verdict} |"
        )
    return lines


def about(path: str, doc: dict) -> list[str]:
    """Where, when and with what the run was made."""
    machine, git = doc.get("machine", {}), doc.get("git", {})
    versions = machine.get("versions", {})
    known = [f"{name} {versions[name]}" for name in VERSIONS if versions.get(name)]
    if peer := peer_figures.version(doc.get("modes", {}).get("peer")):
        known.append(peer)
    commit = (git.get("commit") or "unknown")[:12] + (" (with uncommitted changes)" if git.get("dirty") else "")
    settings = doc.get("settings", {})
    return [
        f"- run: {doc.get('date', '?')}, {doc.get('seconds', '?')} s, `{doc.get('command', '?')}` (from `{path}`)",
        f"- commit: `{commit}` on {git.get('branch') or '?'}",
        f"- machine: {machine.get('cpu_model', '?')}, {machine.get('cores', '?')} cores, "
        f"{machine.get('memory_gib', '?')} GiB, load average {machine.get('load_average', '?')}",
        f"- versions: Python {machine.get('python', '?')}"
        + "".join(f", {v}" for v in known)
        + ("" if versions.get("postgresql") else "; PostgreSQL and RabbitMQ not recorded"),
        f"- settings: {settings.get('processes', '?')} worker processes x {settings.get('worker_threads', '?')} "
        f"threads, {settings.get('web_threads', '?')} web threads, {settings.get('clients', '?')} e2e clients",
    ]


STAGES = {  # the stages of `bench.latency.breakdown`, as the table names them
    "sent -> created (the API reads the request)": lambda b: b["sent_to_created_p50"],
    "created -> started (commit, publish, delivery, pick-up)": lambda b: b["created_to_started_p50"],
    "started -> finished, less the model (claim, outputs)": lambda b: b["started_to_finished_p50"] - b["model_p50"],
    "finished -> answered (save, notification, answer)": lambda b: b["finished_to_answered_p50"],
    "the model": lambda b: b["model_p50"],
}


def stage_table(latency: dict[str, Any] | None) -> list[str]:
    """Where a waited call's time goes, stage by stage, in the service and in the floor of the same round."""
    if not latency or not latency.get("floor_breakdown_ms"):
        return []
    ours, floor = latency["breakdown_ms"], latency["floor_breakdown_ms"]
    lines = [
        "",
        "A waited call, stage by stage (p50s of the lowest latency round, ms): the service, and the floor of this",
        "stack in the same round (`bench/floor.py`: the same path from the same parts, none of the service's code).",
        "",
        "| stage | service | floor | service over floor |",
        "| --- | --- | --- | --- |",
    ]
    for name, stage in STAGES.items():
        lines.append(
            f"| {name} | {number(stage(ours))} | {number(stage(floor))} | {number(stage(ours) - stage(floor))} |"
        )
    return lines


def mode_rows(mode: str, result: dict[str, Any]) -> list[str]:
    """A mode's rows; the peer mode's are its two sides, or why it measured nothing."""
    if mode != "peer":
        return [mode_row(mode, result)]
    if not result.get("installed"):
        return [f"| peer | n/a | {result['note']} | - | - | not recorded |"]
    return [mode_row("peer: ours", result["ours"]), mode_row("peer: infinity-emb", result)]


def mode_row(mode: str, result: dict[str, Any]) -> str:
    if mode in tenant_report.LINES:  # a ratio or a count of the median round, not a throughput
        rounds, best, unit = result["rounds"], tenant_report.FIGURES[mode](result), result["unit"]
    elif mode == "latency":
        rounds, best, unit = result.get("rounds_p50", []), result.get("p50"), "ms p50 (lowest round)"
    else:
        rounds, best, unit = result.get("rounds", []), result.get("throughput"), result.get("unit", "")
    others = " ".join(f"{c:.1f}" for c in result.get("others_cores", [])) or "not recorded"
    shown = " ".join(number(r) for r in rounds) or "-"
    return f"| {mode} | {number(best)} | {unit} | {shown} | {spread(rounds)} | {others} |"


def spread_of(name: str, modes: dict[str, dict]) -> str:
    """The spread of each mode behind a target, e.g. `worker 3.1%, raw 0.8%`."""
    parts = []
    for mode in SIDES.get(name, ()):
        result = _side(mode, modes)
        if result is None:
            continue
        rounds = result.get("rounds_p50") if mode == "latency" or name in OF_P50 else result.get("rounds")
        parts.append(f"{mode} {spread(rounds or [])}")
    return ", ".join(parts) or ("not recorded" if name in SIDES else "-")


def _side(mode: str, modes: dict[str, dict]) -> dict | None:
    """The rounds behind one side of a target: a mode's, or the hello-world's (in ingest's result), or ours
    in the peer mode (`ours`); None when it did not run (or the peer was not installed)."""
    if mode == "hello":
        return modes.get("ingest", {}).get("hello")
    if mode in ("ours", "peer"):
        peer = modes.get("peer") or {}
        return (peer["ours"] if mode == "ours" else peer) if peer.get("installed") else None
    return modes.get(mode)


def spread(rounds: list[float]) -> str:
    """How far the rounds lie apart: (max - min) / max."""
    if len(rounds) < 2 or not max(rounds):
        return "one round" if rounds else "-"
    return f"{100 * (max(rounds) - min(rounds)) / max(rounds):.1f}%"


def number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:g}"


def load(path: Path) -> dict | None:
    """A run's document, or None when there is none yet (the page then says so)."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench results", description=__doc__.split("\n\n")[0])
    parser.add_argument("documents", nargs="+", type=Path, metavar="FILE", help="JSON written by --json")
    parser.add_argument("--out", type=Path, required=True, metavar="FILE", help="the Markdown page to write")
    args = parser.parse_args(argv)
    text = page({str(path): load(path) for path in args.documents})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"wrote {args.out}", flush=True)
    return 0
