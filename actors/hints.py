"""A lone job's hint: the fields a worker needs to run it, carried in its message so that the model runs
while the job's claim is on its way to the database instead of after it
(docs/architecture.md#running-ahead-of-the-claim).

The API attaches one to the message of a job sent alone whose request waits for it, when its inputs are short
(`hint_for`). The row stays the job's truth. The claim still decides whether the job runs at all: a job that
is finished, canceled or running elsewhere is not claimed, and an output made ahead for it is dropped. The
claim's attempt still fences the save. An output made ahead is kept only when the claimed row holds the same
model, task, parameters and inputs as the hint (`matches`); otherwise the job runs again on the row's.

Only the first delivery of the API's own message runs ahead (`of`). A message RabbitMQ redelivers (its worker
may have died on this very input) or that Dramatiq retries is claimed first, as every message without a hint
is, so each start of an input that crashes workers is counted before it runs again
(`actors.batching.MAX_STARTS`).
"""

from __future__ import annotations

import orjson

OPTION = "hint"  # the Dramatiq message option that carries it
MAX_INPUT_BYTES = 2048  # the inputs in JSON: a message stays small, and a long input gains little by this


def hint_for(jobs: list) -> list | None:
    """The hint for the message that carries `jobs`: `[model, task, parameters, inputs]` for a lone job whose
    request waits for it and whose inputs are short, else None."""
    if len(jobs) != 1 or not jobs[0].awaited:
        return None
    job = jobs[0]
    if len(orjson.dumps(job.inputs)) > MAX_INPUT_BYTES:
        return None
    return [job.model, job.task, job.parameters, job.inputs]


def of(message) -> list | None:
    """The hint a worker may run ahead on: that of the first delivery of a message for one job, else None."""
    hint = message.options.get(OPTION)
    if hint is None or len(message.args) != 1 or message.options.get("retries"):
        return None
    if getattr(message, "redelivered", True):  # RabbitMQ's flag; a message that cannot say is not trusted
        return None
    return hint


def matches(job, hint: list) -> bool:
    """Whether the claimed `job` is the one `hint` describes, so that an output made from the hint is its own."""
    model, task, parameters, inputs = hint
    return (job.model, job.task, job.parameters, job.inputs) == (model, task, parameters, inputs)
