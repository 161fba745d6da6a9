"""The job lifecycle in one place: the statuses, the moves allowed between them, and why a job failed.

Every status change of a job (`db.jobs.moves`) is a guarded `UPDATE ... WHERE status IN (sources)`, with the
sources taken from `TRANSITIONS`: a move the table does not allow cannot be written, and a redelivered
message, a late worker or a concurrent cancel finds the row already moved and changes nothing.
"""

from __future__ import annotations


class Status:
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


STATUSES = (Status.QUEUED, Status.RUNNING, Status.SUCCEEDED, Status.FAILED, Status.CANCELED)
UNFINISHED = frozenset({Status.QUEUED, Status.RUNNING})
TERMINAL = frozenset(STATUSES) - UNFINISHED


class Failure:
    """Why a failed job failed, as a short code stored beside the readable `error`."""

    NOT_ENQUEUED = "not_enqueued"  # the broker did not confirm its message: sent again on an idempotent replay
    MODEL_ERROR = "model_error"  # the model refused its input: no retry
    CRASHED = "crashed"  # started too often without finishing: it may be what kills the worker
    RETRIES_EXHAUSTED = "retries_exhausted"  # transient faults outlasted the retries
    LOST = "lost"  # the sweeper sent it again and again and it never finished
    UNSTORABLE = "unstorable_output"  # the model's output holds what the database cannot store: no retry
    TIME_LIMIT = "time_limit"  # it ran alone for most of BATCH_TIMEOUT and was stopped: no retry (too much work)


# status -> the statuses it may move to
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.QUEUED: frozenset({Status.RUNNING, Status.FAILED, Status.CANCELED}),
    # RUNNING -> RUNNING: a job whose lease expired (its worker died or was cut off) is taken over by a new
    # attempt; `Job.claim` guards the move by the lease, and the attempt fences the old worker's writes
    Status.RUNNING: frozenset({Status.RUNNING, Status.SUCCEEDED, Status.FAILED, Status.CANCELED}),
    # FAILED -> QUEUED: only a job whose message never reached the broker (Failure.NOT_ENQUEUED)
    Status.FAILED: frozenset({Status.QUEUED}),
    Status.SUCCEEDED: frozenset(),
    Status.CANCELED: frozenset(),
}


def sources(target: str) -> frozenset[str]:
    """The statuses from which a job may move to `target`."""
    return frozenset(status for status, targets in TRANSITIONS.items() if target in targets)


def check(target: str, allowed_from: frozenset[str] | set[str]) -> frozenset[str]:
    """`allowed_from`, once checked against the table: a move it does not allow is a bug, raised at once."""
    illegal = set(allowed_from) - sources(target)
    if illegal:
        raise ValueError(f"the job lifecycle does not allow {sorted(illegal)} -> {target}")
    return frozenset(allowed_from)
