"""The servers' CPU from /proc: PostgreSQL's backends (ours, by pid, and its background writers) and
RabbitMQ's Erlang VM, so a throughput can be divided by the cores the server spent on it."""

from __future__ import annotations

import contextlib
import time

from harness import processes


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of these processes so far (a process gone is counted as 0)."""
    return sum(by_process(pids).values())


def by_process(pids: list[int]) -> dict[int, float]:
    """User + system CPU seconds of each of these processes still running."""
    found = {}
    for pid in pids:
        with contextlib.suppress(OSError):
            found[pid] = processes.cpu_seconds(pid)
    return found


def named(name: str) -> list[int]:
    """Every process whose command is `name` (e.g. `beam.smp`, RabbitMQ's VM)."""
    return [pid for pid, command, _ in processes.every_process() if command == name]


class Window:
    """`with Window({"backends": pids, ...}) as w: ...` then `w.cores[group]`: the cores each group of
    processes kept busy meanwhile (CPU seconds over wall seconds). Counted per process: one that ends during
    the window (a pooled connection closed, with all the CPU of its earlier work) adds nothing, rather than
    taking its whole past off the sum."""

    def __init__(self, groups: dict[str, list[int]]):
        self.groups = groups
        self.cores: dict[str, float] = {}
        self.seconds = 0.0

    def __enter__(self) -> Window:
        self.start = {name: by_process(pids) for name, pids in self.groups.items()}
        self.began = time.monotonic()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.monotonic() - self.began
        self.cores = {}
        for name, pids in self.groups.items():
            now, before = by_process(pids), self.start[name]
            spent = sum(seconds - before[pid] for pid, seconds in now.items() if pid in before)
            self.cores[name] = round(spent / max(self.seconds, 1e-9), 3)
