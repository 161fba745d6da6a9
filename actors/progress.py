"""Progress of a worker process' loops, for its liveness: a thread alive is not a thread getting anywhere.

A loop (a batcher loop, its writer, the lease renewer) says `working(name)` when it takes up work and again
at each step it completes (a claim, an ONNX run, a save), and `done(name)` when it has nothing left. A loop
whose last step is older than a bound while it still had work is stalled: blocked on a database or broker
socket gone silent, or on a call that never returns. `actors.liveness.LivenessBeat` stops beating then,
so the liveness probe restarts the worker instead of leaving its messages held until RabbitMQ's consumer
timeout (docs/reliability.md#liveness).
"""

from __future__ import annotations

import time


class Progress:
    """When each loop last made progress, for the loops that have work."""

    def __init__(self):
        self._since: dict[str, float] = {}  # loop -> time.monotonic() of its last step while it has work

    def working(self, name: str) -> None:
        """`name` has work and has just made a step (or taken the work up)."""
        self._since[name] = time.monotonic()

    def done(self, name: str) -> None:
        """`name` has no work left: however long it then waits, it is not stalled."""
        self._since.pop(name, None)

    def stalled(self, bound: float) -> dict[str, float]:
        """The loops that have had work for more than `bound` seconds without a step, and for how long."""
        now = time.monotonic()
        return {name: now - since for name, since in list(self._since.items()) if now - since > bound}


PROGRESS = Progress()  # the process' loops (two batcher loops a worker process, each with its writer)
