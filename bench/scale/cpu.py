"""The servers' CPU from /proc: PostgreSQL's backends (ours, by pid, and its background writers) and
RabbitMQ's Erlang VM, so a throughput can be divided by the cores the server spent on it."""

from __future__ import annotations

import time
from pathlib import Path

from bench.noise import TICK


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of these processes so far (a process gone is counted as 0)."""
    total = 0.0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        rest = stat[stat.rindex(")") + 2 :].split()
        total += (int(rest[11]) + int(rest[12])) / TICK
    return total


def named(name: str) -> list[int]:
    """Every process whose command is `name` (e.g. `beam.smp`, RabbitMQ's VM)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if stat[stat.index("(") + 1 : stat.rindex(")")] == name:
                found.append(int(entry.name))
    return found


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
