"""A batch's texts in runs: sorted so each run pads little, each at most a model's batch size, stopped
between runs once the batch is past its time bound (`BatchTimeout`: its jobs are retried).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

from core.errors import TimeBoundExceeded


class BatchTimeout(TimeBoundExceeded):
    """The batch ran past its time bound before it reached this job: its message is retried."""


def run_sorted(
    model,
    texts: list[str],
    limit: int,
    *,
    deadline: float = float("inf"),
    step: Callable[[], None] = lambda: None,
    **parameters: Any,
) -> list[dict]:
    """Run `texts` in runs of at most `limit`, shortest first so each run pads little (the model's own
    `runs`, by tokens, where it has them; else by characters); results in input order. Past `deadline`
    (time.monotonic), raise `BatchTimeout` between runs; `step` is called after each run (progress)."""
    runs = (
        model.runs(texts, limit, **parameters)
        if hasattr(model, "runs")
        else sorted_runs(model, texts, limit, **parameters)
    )
    results: list[dict] = [{}] * len(texts)
    for indices, run in runs:
        if time.monotonic() > deadline:
            raise BatchTimeout("the batch ran past its time bound")
        for index, output in zip(indices, run(), strict=True):
            results[index] = output
        step()
    return results


def sorted_runs(model, texts: list[str], limit: int, **parameters: Any) -> list[tuple[list[int], Callable[[], list]]]:
    """`runs` for a model without its own: sorted by characters."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    chunks = [order[start : start + limit] for start in range(0, len(order), limit)]
    return [(chunk, functools.partial(model, [texts[i] for i in chunk], **parameters)) for chunk in chunks]


def split_outputs(outputs: list[dict], jobs) -> list[list[dict]]:
    """The outputs of the jobs' inputs run together, back per job (each job's inputs in order)."""
    parts, start = [], 0
    for job in jobs:
        parts.append(outputs[start : start + len(job.inputs)])
        start += len(job.inputs)
    return parts
