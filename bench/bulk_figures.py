"""The bulk mode's figures in the report (`bench.report`): its two targets, its pairs and its line.

`bulk_vs_worker`: the batch's lines/s once it runs alone (answered after the interactive requests stopped,
before its files are written) over the worker mode's texts/s of the same repeat (the workers draining a
backlog of jobs: their full throughput), or over the worker round the bulk mode ran itself when the run had no
worker mode. `bulk_interactive_p50_vs_idle`: the interactive p50 while the batch ran over the idle p50, both
measured in the bulk round (`bench.bulk`)."""

from __future__ import annotations

from typing import Any

from bench.stats import paired

TARGETS = {
    "bulk_interactive_p50_vs_idle": ("<=", 1.5),  # interactive requests keep their latency during a batch
    "bulk_vs_worker": (">=", 0.9),  # and the batch alone still gets the workers' throughput
}


def pairs(modes: dict[str, dict], workers: list) -> dict[str, dict | None]:
    """The bulk mode's pairs; `workers`: the worker mode's rounds as the other ratios take them."""
    if "bulk" not in modes:
        return dict.fromkeys(TARGETS)
    bulk = modes["bulk"]
    workers = workers or list(bulk.get("rounds_worker") or [])
    latency = zip(bulk.get("rounds_busy_p50") or [], bulk.get("rounds_idle_p50") or [], strict=False)
    return {
        "bulk_interactive_p50_vs_idle": paired(list(latency)),
        "bulk_vs_worker": paired(
            list(zip(bulk.get("rounds_alone") or bulk.get("rounds") or [], workers, strict=False))
        ),
    }


def targets(found: dict[str, dict | None]) -> dict[str, dict[str, Any]]:
    """Each target with its value (the median of its pairs) and whether it was met (None: not measured)."""
    checked = {}
    for name, (op, bound) in TARGETS.items():
        value = (found.get(name) or {}).get("median")
        met = None if value is None else (value >= bound if op == ">=" else value <= bound)
        checked[name] = {"value": value, "target": f"{op} {bound:g}", "met": met}
    return checked


def line(head: str, result: dict[str, Any]) -> str:
    idle, busy = result["idle_ms"], result["busy_ms"]
    return (
        f"{head}  {result['lines']} lines in {result['seconds']:.1f} s (the output files written in the last "
        f"{result.get('finalizing_seconds', 0):.1f}: {result.get('answered_throughput', 0):.1f} lines/s answered "
        f"until then, {result.get('alone_throughput') or 0:.1f} alone); interactive p50 {busy['p50']:.1f} ms "
        f"p99 {busy['p99']:.1f} ms during the batch (n={busy['n']}) against {idle['p50']:.1f} ms p99 "
        f"{idle['p99']:.1f} ms idle (n={idle['n']}): {result['interactive_p50_vs_idle']:g} x" + _stages(result)
    )


def _stages(result: dict[str, Any]) -> str:
    """The interactive requests' stages (p50 ms), during the batch against idle (`bench.latency.breakdown`)."""
    busy, idle = result.get("busy_breakdown_ms"), result.get("idle_breakdown_ms")
    if not busy or not idle:
        return ""
    names = {"sent_to_created_p50": "sent->created", "created_to_started_p50": "created->started"}
    names |= {"started_to_finished_p50": "started->finished", "finished_to_answered_p50": "finished->answered"}
    return "; stages p50 busy/idle: " + ", ".join(f"{n} {busy[k]:.1f}/{idle[k]:.1f}" for k, n in names.items())
