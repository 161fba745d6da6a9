"""A batch's outcomes, one per job: succeeded with its output (or failed, when the database cannot store it),
failed as crashed, and the futures of the messages waiting on them resolved or failed."""

from __future__ import annotations

from concurrent.futures import Future

from db import Failure, Job, Status
from db.storable import unstorable

CRASH_REASON = "the input may crash the worker (it ran alone on every start after the first)"


def succeeded(output, elapsed: float) -> dict:
    """A run's outcome for one job: its output, or its own failure when the database cannot store it."""
    if (why := unstorable(output)) is not None:
        return {"status": Status.FAILED, "failure": Failure.UNSTORABLE, "error": why, "inference_ms": elapsed}
    return {"status": Status.SUCCEEDED, "output": output, "inference_ms": elapsed}


def crashed(job: Job) -> dict:
    """A job started too often without finishing: failed, not run again (it may be what kills the worker)."""
    error = f"gave up: started {job.attempts - 1} times without finishing; {CRASH_REASON}"
    return {"status": Status.FAILED, "failure": Failure.CRASHED, "error": error}


def resolve(futures: list[Future], value) -> None:
    for future in futures:
        future.set_result(value)


def fail_all(futures: dict[str, list[Future]], error: Exception) -> None:
    for waiting in futures.values():
        for future in waiting:
            future.set_exception(error)
    futures.clear()
