"""How busy the machine was with work that is not ours while a round ran: other people's tests on these
cores slow a round down, and this says by how much, so a number can be judged (and the best round picked).

CPU time from /proc: the whole machine (/proc/stat), our process tree (the harness and every process it
started), and the database and broker servers (they serve us, and others too). `others` is the rest."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from harness.processes import TICK, cpu_of, every_process

SERVERS = ("postgres", "beam.smp")  # PostgreSQL backends and RabbitMQ's Erlang VM


@dataclass(frozen=True)
class Snapshot:
    wall: float
    busy: float  # CPU seconds the whole machine spent not idle, since boot
    processes: dict[int, tuple[int, str, float]]  # pid -> (parent pid, command name, CPU seconds)


def snapshot() -> Snapshot:
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    ticks = [int(x) for x in fields]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
    processes = {pid: (int(fields[1]), name, cpu_of(fields)) for pid, name, fields in every_process()}
    return Snapshot(time.monotonic(), (sum(ticks[:8]) - idle) / TICK, processes)


def descendants(processes: dict[int, tuple[int, str, float]], root: int) -> set[int]:
    found, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, _, _) in processes.items():
            if ppid == parent and pid not in found:
                found.add(pid)
                frontier.append(pid)
    return found


def cores_used(start: Snapshot, end: Snapshot, root: int | None = None) -> dict[str, float]:
    """Average cores busy between two snapshots: in total, by us (root's tree), by the servers, by others.

    Our processes that ended between the snapshots are not seen at the end and are counted as others'
    (so `others` leans high, never low)."""
    root = os.getpid() if root is None else root
    wall = max(end.wall - start.wall, 1e-9)
    ours = descendants(end.processes, root) | descendants(start.processes, root)

    def used(pids) -> float:
        return sum(max(end.processes[p][2] - start.processes.get(p, (0, "", 0.0))[2], 0.0) for p in pids)

    present = [p for p in end.processes if p not in ours]
    servers = [p for p in present if end.processes[p][1] in SERVERS]
    total = (end.busy - start.busy) / wall
    mine = used(p for p in ours if p in end.processes) / wall
    serving = used(servers) / wall
    return {
        "total": round(total, 2),
        "ours": round(mine, 2),
        "servers": round(serving, 2),
        "others": round(max(total - mine - serving, 0.0), 2),
    }


def settle(max_others: float | None, *, timeout: float = 30.0, window: float = 1.0) -> float | None:
    """With `max_others` set, wait (at most `timeout` s) for a `window` in which other work kept at most that
    many cores busy, so a round starts on a quiet machine; returns the last window's figure."""
    if max_others is None:
        return None
    deadline = time.monotonic() + timeout
    while True:
        with Meter() as meter:
            time.sleep(window)
        if meter.cores["others"] <= max_others or time.monotonic() > deadline:
            return meter.cores["others"]


class Meter:
    """`with Meter() as m: ...` then `m.cores`: what the machine did while the block ran."""

    def __init__(self, root: int | None = None):
        self.root = root
        self.cores: dict[str, float] = {}
        self.wall = 0.0  # seconds between the snapshots

    def __enter__(self) -> Meter:
        self.start = snapshot()
        return self

    def stop(self) -> dict[str, float]:
        end = snapshot()
        self.cores = cores_used(self.start, end, self.root)
        self.wall = end.wall - self.start.wall
        return self.cores

    def __exit__(self, *exc) -> None:
        if not self.cores:
            self.stop()
