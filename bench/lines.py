"""A line per mode: what `python -m bench` prints as each mode's result comes in."""

from __future__ import annotations

import math
from typing import Any

from bench import bulk_figures, peer_figures, tenant_report


def mode_line(mode: str, result: dict[str, Any]) -> str:
    """One clear line per mode: throughput and the percentiles it has."""
    if mode in tenant_report.LINES:
        return tenant_report.LINES[mode](result)
    if mode == "peer":
        return peer_figures.line(result)
    if mode == "latency":
        return _latency_line(result)
    rounds = f"best of {len(result['rounds'])}: " + " ".join(f"{r:g}" for r in result["rounds"]) + _noise(result)
    head = f"{mode:<8} {result['throughput']:>8.1f} {result['unit']}  ({rounds})"
    if mode == "bulk":
        return bulk_figures.line(head, result)
    if mode == "raw":
        batch, single = result["batch_ms"], result["single_ms"]
        return (
            f"{head}  batch of {result['batch_size']}: p50 {batch['p50']:.1f} ms p99 {batch['p99']:.1f} ms; "
            f"raw_single p50 {single['p50']:.2f} ms p99 {single['p99']:.2f} ms; "
            f"CPU {result['cpu_ms_per_text']:.2f} ms per text"
        )
    if mode == "seed":
        return f"{head}  message p50 {result['message_ms']['p50']:.1f} ms p99 {result['message_ms']['p99']:.1f} ms"
    if mode == "worker":
        inference = result["inference_ms"] or {"p50": math.nan, "p99": math.nan}
        rss = "/".join(f"{m['rss']:.0f}" for m in result["rss_mb"])
        ready = result.get("throughput_after_ready")
        ready_text = f"; {ready:.1f}/s once every worker process was ready (the ratios' figure)" if ready else ""
        if result.get("cpu_ms_per_job") is not None:
            ready_text += f"; CPU {result['cpu_ms_per_job']:.2f} ms per job in the worker processes"
        return (
            f"{head}  job inference_ms p50 {inference['p50']:.1f} p99 {inference['p99']:.1f}; "
            f"worker RSS {rss} MB{ready_text}"
        )
    if mode == "e2e":
        post, job = result["post_ms"], result["job_ms"]
        return (
            f"{head}  POST p50 {post['p50']:.1f} ms p99 {post['p99']:.1f} ms; job (created->finished) "
            f"p50 {job['p50']:.0f} ms p99 {job['p99']:.0f} ms; API RSS {result['rss_mb']['api']['rss']:.0f} MB"
            + _pace(result)
            + _cpu_by_tier(result.get("cpu_ms_per_job"))
        )
    if mode == "calls":
        call = result["call_ms"]
        return f"{head}  {result['clients']} clients, call p50 {call['p50']:.1f} ms p99 {call['p99']:.1f} ms"
    if mode == "ingest":
        post, hello = result["post_ms"], result["hello"]
        return (
            f"{head}  POST p50 {post['p50']:.1f} ms p99 {post['p99']:.1f} ms; hello-world {hello['throughput']:.1f}/s "
            f"(POST p50 {hello['post_ms']['p50']:.1f} ms p99 {hello['post_ms']['p99']:.1f} ms)"
        )
    return head


def _pace(result: dict) -> str:
    """How much of the round the clients spent POSTing, and how busy the cores were."""
    if result.get("posting_seconds") is None:
        return ""
    return (
        f"; POSTs took {result['posting_seconds']:.2f} of {result['seconds']:.2f} s, "
        f"cores busy {result['cores_busy']:.2f}"
    )


def _cpu_by_tier(cpu: dict[str, float] | None) -> str:
    if not cpu:
        return ""
    return "; CPU ms a job: " + ", ".join(f"{tier} {ms:.2f}" for tier, ms in cpu.items())


def _noise(result: dict[str, Any]) -> str:
    cores = result.get("others_cores")
    return f"; other work on the machine: {' '.join(f'{c:.1f}' for c in cores)} cores" if cores else ""


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} ms"


def _latency_line(result: dict[str, Any]) -> str:
    """The latency mode's line: its rounds' p50s, the call less its model, and where the time went."""
    answered = ", ".join(f"{k} {v}" for k, v in sorted(result["answered"].items()))
    floor = result.get("floor_breakdown_ms")
    return (
        f"latency  p50 {result['p50']:.1f} ms  p99 {result['p99']:.1f} ms  "
        f"(best of {len(result.get('rounds_p50', [0]))} rounds' p50: "
        f"{' '.join(f'{p:.1f}' for p in result.get('rounds_p50', [result['p50']]))}; "
        f"n={result['n']}; answered by {answered}{_noise(result)}; the call less its model: p50 "
        f"{_ms(result.get('over_model_p50'))}, the floor's {_ms(result.get('floor_over_model_p50'))})  "
        f"stages p50: {_stages(result['breakdown_ms'])}" + (f"; the floor's: {_stages(floor)}" if floor else "")
    )


def _stages(parts: dict[str, float]) -> str:
    """A breakdown (`bench.latency.breakdown`) in one phrase."""
    return (
        f"sent->created {parts['sent_to_created_p50']:.1f}, created->started {parts['created_to_started_p50']:.1f}, "
        f"started->finished {parts['started_to_finished_p50']:.1f} (model {parts['model_p50']:.1f}), "
        f"finished->answered {parts['finished_to_answered_p50']:.1f} ms"
    )
