"""A batch's outcomes, one per job: succeeded with its output (or failed, when the database cannot store it),
failed as crashed or as too long for the time bound, and the futures of the messages waiting on them resolved
or failed."""

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


def outran(job: Job, bound: float, seconds: float) -> dict:
    """A job stopped by its batch's time bound after it ran alone for most of it: failed, not retried (run
    again, it would be stopped again). The client reads which bound and what to send instead."""
    error = (
        f"stopped after running alone for {seconds:.1f} s: it needs more than a batch's time bound "
        f"(BATCH_TIMEOUT, {bound:g} s); send less work a job (fewer inputs; for text generation, a smaller "
        f"max_new_tokens: inputs x max_new_tokens is capped by MAX_GENERATED_TOKENS)"
    )
    return {"status": Status.FAILED, "failure": Failure.TIME_LIMIT, "error": error}


def resolve(futures: list[Future], value) -> None:
    for future in futures:
        future.set_result(value)


def fail_all(futures: dict[str, list[Future]], error: Exception) -> None:
    for waiting in futures.values():
        for future in waiting:
            future.set_exception(error)
    futures.clear()
