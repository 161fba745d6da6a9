"""The servers' CPU from /proc: PostgreSQL's backends (ours, by pid, and its background writers) and
RabbitMQ's Erlang VM, so a throughput can be divided by the cores the server spent on it."""

from __future__ import annotations

import contextlib
import time

from harness import processes


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of these processes so far (a process gone is counted as 0)."""
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            total += processes.cpu_seconds(pid)
    return total


def named(name: str) -> list[int]:
    """Every process whose command is `name` (e.g. `beam.smp`, RabbitMQ's VM)."""
    return [pid for pid, command, _ in processes.every_process() if command == name]


class Window:
    """`with Window({"backends": pids, ...}) as w: ...` then `w.cores[group]`: the cores each group of
    processes kept busy meanwhile (CPU seconds over wall seconds)."""

    def __init__(self, groups: dict[str, list[int]]):
        self.groups = groups
        self.cores: dict[str, float] = {}
        self.seconds = 0.0

    def __enter__(self) -> Window:
        self.start = {name: cpu_seconds(pids) for name, pids in self.groups.items()}
        self.began = time.monotonic()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.monotonic() - self.began
        self.cores = {
            name: round((cpu_seconds(pids) - self.start[name]) / max(self.seconds, 1e-9), 3)
            for name, pids in self.groups.items()
        }
