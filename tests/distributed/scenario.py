"""One fault test's run on the bed: the web, workers and sweeper started on their test hosts with a database
and vhost of their own, a steady load, the fault injected once a third of the jobs are in, then every accepted
job settled and the fault measured from what clients saw and when results were saved."""

from __future__ import annotations

import contextlib
import itertools
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tests.distributed import ledger
from tests.distributed.apps import Apps
from tests.distributed.traffic import Seen, Traffic
from tests.processes import wait_until

_runs = itertools.count()
JOBS = int(os.environ.get("BED_JOBS", "240"))
DRAIN = float(os.environ.get("BED_DRAIN_SECONDS", "150"))


@dataclass
class Measured:
    fault: str
    detection_s: float | None = None  # fault start -> first answer a client saw fail (None: never saw it)
    errors_until_s: float | None = None  # fault start -> the last answer a client saw fail
    stall_s: float = 0.0  # the longest pause in saved results that ended after the fault started
    recovery_s: float | None = None  # fault end -> results saved again and no client error after
    clients: dict[str, int] = field(default_factory=dict)  # POST answers from the fault's start on, by status
    no_retry_after: int = 0  # 503s without Retry-After
    hangs: int = 0  # requests that reached their own deadline unanswered
    slowest_post_s: float = 0.0
    ledger: dict = field(default_factory=dict)


def run(bed, workdir: Path, models_dir: Path, name: str, fault: Callable, multi_host: bool = False) -> Measured:
    """Start the processes, load them, call `fault(bed, apps)` (it returns when the fault ended for the
    service, as epoch seconds), settle every accepted job; everything started here is stopped at the end."""
    tag = f"{name}_{next(_runs)}"
    apps = Apps(bed, tag, tag, workdir / tag, models_dir, multi_host=multi_host)
    try:
        apps.start()
        ledger.install(bed.pg, tag)
        with Traffic(apps.base, JOBS) as traffic:
            wait_until(lambda: traffic.accepted() >= JOBS // 3, 120, "a third of the jobs accepted")
            started = time.time()
            ended = fault(bed, apps)
            with contextlib.suppress(AssertionError):  # fewer accepted than asked: the ledger says so
                wait_until(traffic.finished_posting, DRAIN, "every job accepted after the fault")
        ids = list(traffic.seen.accepted)
        with contextlib.suppress(AssertionError):  # what is still unfinished is counted as stuck
            wait_until(lambda: ledger.unfinished(bed.pg, tag, ids) == 0, DRAIN, "every accepted job finished", 1)
        measured = measure(name, traffic.seen, ledger.finished_at(bed.pg, tag), started, ended)
        measured.ledger = asdict(ledger.settle(bed.pg, tag, ids))
        return measured
    finally:
        apps.stop()
        bed.lift_all()


def measure(name: str, seen: Seen, saves: list[float], started: float, ended: float) -> Measured:
    measured = Measured(name)
    failures = [a for a in seen.posts + seen.probes if a.at + a.seconds >= started and a.status >= 500]
    if failures:
        measured.detection_s = round(min(a.at + a.seconds for a in failures) - started, 1)
        measured.errors_until_s = round(max(a.at + a.seconds for a in failures) - started, 1)
    gaps = [(b - a, b) for a, b in itertools.pairwise(saves) if b >= started]
    measured.stall_s = round(max((g for g, _ in gaps), default=0.0), 1)
    after = [s for s in saves if s >= ended]
    if after:
        quiet = max([ended, *(a.at + a.seconds for a in failures)])
        resumed = next((s for s in after if s >= quiet), after[-1])
        measured.recovery_s = round(max(resumed, quiet) - ended, 1)
    posts = [a for a in seen.posts if a.at + a.seconds >= started]
    measured.clients = dict(Counter("hang" if a.hung else str(a.status) for a in posts))
    measured.no_retry_after = sum(1 for a in posts if a.status == 503 and not a.retry_after)
    measured.hangs = sum(1 for a in seen.posts + seen.probes if a.hung)
    measured.slowest_post_s = round(max((a.seconds for a in posts), default=0.0), 1)
    return measured
