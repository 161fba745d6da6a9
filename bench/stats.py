"""Percentiles and the small numeric summaries every mode reports."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), linear between the nearest ranks (numpy's default)."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def latency_ms(seconds: Sequence[float]) -> dict[str, float]:
    """p50, p99 (and mean, max) in milliseconds, from durations in seconds."""
    ms = [s * 1000 for s in seconds]
    return {
        "p50": round(percentile(ms, 50), 3),
        "p99": round(percentile(ms, 99), 3),
        "mean": round(sum(ms) / len(ms), 3),
        "max": round(max(ms), 3),
        "n": len(ms),
    }


def best(rounds: Sequence[float]) -> float:
    """The best round: noise from other work on the machine only ever slows a round down."""
    return max(rounds)


def summary(rounds: Sequence[dict]) -> dict:
    """A mode's throughput over its rounds: the best, each round's, and how busy the machine was meanwhile."""
    return {
        "throughput": round(best([r["throughput"] for r in rounds]), 1),
        "rounds": [round(r["throughput"], 1) for r in rounds],
        "others_cores": [r["cores"]["others"] for r in rounds],
    }


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 4)


def median(values: Sequence[float]) -> float:
    return percentile(values, 50)


def paired(sides: Sequence[tuple[float | None, float | None]], *, difference: bool = False) -> dict | None:
    """Per-repeat pairs of a ratio's two sides (measured back to back, in the same phase of the host),
    each pair's ratio (or difference), and their median and spread: the figure a ratio reports."""
    kept = [(a, b) for a, b in sides if a is not None and b is not None and (difference or b)]
    if not kept:
        return None
    values = [round(a - b if difference else a / b, 4) for a, b in kept]
    return {
        **(spread(values) or {}),
        "sides": [[round(a, 3), round(b, 3)] for a, b in kept],
        "of": "difference" if difference else "ratio",
    }


def spread(values: Sequence[float]) -> dict | None:
    """A figure taken once per repeat: the median of its values and their spread (None without values)."""
    if not values:
        return None
    return {
        "median": round(median(values), 4),
        "min": min(values),
        "max": max(values),
        "iqr": [round(percentile(values, 25), 4), round(percentile(values, 75), 4)],
        "values": list(values),
    }


COMPARISONS = {
    ">=": lambda value, bound: value >= bound,
    "<=": lambda value, bound: value <= bound,
    "<": lambda value, bound: value < bound,
}


def meets(value: float | None, op: str, bound: float) -> bool | None:
    """Whether a figure meets its target (`op` one of COMPARISONS); None when it was not measured."""
    return None if value is None else COMPARISONS[op](value, bound)
