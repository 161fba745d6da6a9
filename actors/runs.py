"""Which of a batch's jobs share a run (`groups`: one model, task and parameters), and a batch's texts in
runs: sorted so each run pads little, each at most a model's batch size, stopped between runs once the batch
is past its time bound (`BatchTimeout`: its jobs are retried). A model that makes several ONNX runs a call
(text generation: one a new token) is handed the deadline too, and checks it between them (`check_deadline`).
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from core.errors import TimeBoundExceeded

NO_DEADLINE = float("inf")


@dataclass
class Group:
    """Jobs that share a run: one model, task and parameters."""

    model: str
    task: str
    parameters: dict[str, Any]
    jobs: list = field(default_factory=list)


def groups(jobs: list) -> list[Group]:
    """Jobs that can share a run: same model, task and parameters (a sentence-similarity job runs alone)."""
    shared: dict[str, Group] = {}
    alone = []
    for job in jobs:
        if job.task == "sentence-similarity":
            alone.append(Group(job.model, job.task, job.parameters, [job]))
            continue
        key = json.dumps([job.model, job.task, job.parameters], sort_keys=True)
        shared.setdefault(key, Group(job.model, job.task, job.parameters)).jobs.append(job)
    return [*shared.values(), *alone]


def no_step() -> None:
    """A step that records nothing (progress: `actors.progress`)."""


class BatchTimeout(TimeBoundExceeded):
    """The batch ran past its time bound before it reached this job, or while it ran: its message is retried
    (or, when the job ran alone for most of the bound, it fails: `actors.outcomes.outran`)."""


def check_deadline(deadline: float) -> None:
    """`BatchTimeout` once `deadline` (time.monotonic) has passed: called between ONNX runs."""
    if time.monotonic() > deadline:
        raise BatchTimeout("the batch ran past its time bound")


def run_sorted(
    model,
    texts: list[str],
    limit: int,
    *,
    deadline: float = NO_DEADLINE,
    step: Callable[[], None] = no_step,
    **parameters: Any,
) -> list[dict]:
    """Run `texts` in runs of at most `limit`, shortest first so each run pads little (the model's own
    `runs`, by tokens, where it has them; else by characters); results in input order. Past `deadline`
    (time.monotonic), raise `BatchTimeout` between runs; `step` is called after each run (progress). A model
    without its own `runs` is handed `deadline` and `step` as well, for the runs a call of it makes."""
    runs = (
        model.runs(texts, limit, **parameters)
        if hasattr(model, "runs")
        else sorted_runs(model, texts, limit, deadline=deadline, step=step, **parameters)
    )
    results: list[dict] = [{}] * len(texts)
    for indices, run in runs:
        check_deadline(deadline)
        for index, output in zip(indices, run(), strict=True):
            results[index] = output
        step()
    return results


def sorted_runs(model, texts: list[str], limit: int, **parameters: Any) -> list[tuple[list[int], Callable[[], list]]]:
    """`runs` for a model without its own: sorted by characters; each a call of the model with `parameters`."""
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
