"""The database path, driven the way many workers and API pods would: client threads, each a job
lifecycle in batches through the project's own code (`db.jobs.Job`): inserts by group commit
(`create_many`), claims (`claim_fresh`), saves (`finish_many`: no request waits for these jobs, so none is
notified, as in a load that posts without waiting) and reads (`find`, as a GET does); and beside them, as
a sweeper and a retention thread would, the sweeper's query (`Job.stale`) and retention's
(`db.retention.purge`). The EXPLAIN of every statement they run is recorded at the filled size, so a plan
that stops using an index shows."""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from collections import defaultdict

from bench.scale.cpu import Window
from bench.stats import latency_ms
from db import Job, Status, database, retention
from db.base import utcnow
from harness.statements import statements

OUTPUT = [{"embedding": [0.125] * 384, "tokens": 12, "truncated": False}]  # a MiniLM output, as workers save it


def lifecycle(model: str, batch: int, timings: dict[str, list[float]]) -> int:
    """One batch of jobs from insert to saved, read once each; returns how many."""
    rows = [
        {"model": model, "task": "feature-extraction", "inputs": ["a short text"], "status": Status.QUEUED}
        for _ in range(batch)
    ]
    with database.connection_context():
        jobs = timed(timings, "create_many", lambda: Job.create_many(rows))
        claimed = timed(timings, "claim_fresh", lambda: Job.claim_fresh([job.id for job in jobs]))
        outcomes = [(job, {"status": Status.SUCCEEDED, "output": OUTPUT, "inference_ms": 5.0}) for job in claimed]
        timed(timings, "finish_many", lambda: Job.finish_many(outcomes))
        for job in jobs:
            timed(timings, "find", lambda job=job: Job.find(job.id))
    return len(claimed)


def housekeeping(timings: dict[str, list[float]]) -> None:
    """The sweeper's and retention's queries, once each."""
    now = utcnow()
    with database.connection_context():
        timed(timings, "stale", lambda: Job.stale(queued_before=now - dt.timedelta(seconds=60), now=now))
        timed(timings, "purge", lambda: retention.purge(dt.timedelta(days=1)))


def timed(timings: dict[str, list[float]], name: str, call):
    started = time.perf_counter()
    result = call()
    timings[name].append(time.perf_counter() - started)
    return result


def run(model: str, *, clients: int, batch: int, seconds: float, every: float = 1.0) -> dict:
    """`clients` threads running lifecycles for `seconds`, the housekeeping every `every` s; jobs/s and
    the cores PostgreSQL spent (our backends, found by database, and its background processes)."""
    timings: dict[str, list[float]] = defaultdict(list)
    done, stop, ready = [0] * clients, threading.Event(), threading.Barrier(clients + 1)

    def client(index: int) -> None:
        lifecycle(model, batch, defaultdict(list))  # this thread's pooled connection opened, outside the window
        ready.wait(60)
        while not stop.is_set():
            done[index] += lifecycle(model, batch, timings)

    def keeper() -> None:  # at once, then every `every` s: a short run still times them
        housekeeping(timings)
        while not stop.wait(every):
            housekeeping(timings)

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    ready.wait(60)
    with Window(postgres_processes()) as window:  # every client's backend exists by now
        threads.append(threading.Thread(target=keeper, daemon=True))
        threads[-1].start()
        time.sleep(seconds)
        stop.set()
        for thread in threads:
            thread.join(60)
    jobs = sum(done)
    rate = jobs / window.seconds
    cores = window.cores
    return {
        "clients": clients,
        "batch": batch,
        "jobs": jobs,
        "seconds": round(window.seconds, 2),
        "jobs_per_s": round(rate, 1),
        "postgres_cores": cores,  # backends: ours; background: WAL writer, checkpointer, ... (shared)
        "jobs_per_s_per_core": round(rate / max(cores["backends"] + cores["background"], 1e-9), 1),
        "ops_ms": {name: latency_ms(values) for name, values in sorted(timings.items()) if values},
    }


def postgres_processes() -> dict[str, list[int]]:
    """Our database's backends and the server's background processes, from pg_stat_activity."""
    with database.connection_context():
        rows = database.execute_sql(
            "SELECT pid, datname = current_database(), backend_type FROM pg_stat_activity"
        ).fetchall()
    ours = [pid for pid, mine, kind in rows if mine and kind == "client backend"]
    background = [pid for pid, _, kind in rows if kind in ("walwriter", "checkpointer", "background writer")]
    return {"backends": ours, "background": background}


def explain(model: str) -> dict[str, dict]:
    """The plan of every statement one lifecycle and one housekeeping run execute, by operation; each with
    whether it scans the whole job table (`seq_scan_on_job`)."""
    plans: dict[str, dict] = {}
    for name, call in operations(model):
        with database.connection_context():
            sent = statements(call)
        plans.update(plans_of(name, sent))
    return plans


def operations(model: str):
    """Each hot operation on its own, so its statements can be told apart."""
    now = utcnow()
    row = {"model": model, "task": "feature-extraction", "inputs": ["a short text"], "status": Status.QUEUED}
    made: dict[str, list] = {}
    yield "create_many", lambda: made.setdefault("jobs", Job.create_many([dict(row) for _ in range(8)]))
    yield "claim_fresh", lambda: made.setdefault("claimed", Job.claim_fresh([j.id for j in made["jobs"]]))
    outcome = {"status": Status.SUCCEEDED, "output": OUTPUT, "inference_ms": 5.0}
    yield "finish_many", lambda: Job.finish_many([(job, dict(outcome)) for job in made["claimed"]])
    yield "find", lambda: Job.find(made["jobs"][0].id if made.get("jobs") else uuid.uuid4())
    yield "stale", lambda: Job.stale(queued_before=now - dt.timedelta(seconds=60), now=now)
    yield "purge", lambda: retention.purge(dt.timedelta(days=1))


def plans_of(name: str, statements: list[tuple[str, object]]) -> dict[str, dict]:
    found = {}
    for index, (sql, params) in enumerate(statements):
        if sql.lstrip().upper().startswith("SET LOCAL") and ";" in sql:  # a setting ahead of the statement
            sql = sql.split(";", 1)[1]
        head = sql.lstrip().split(None, 1)[0].upper()
        if head in ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "SET"):
            continue
        with database.connection_context():
            cursor = database.cursor()
            cursor.execute("EXPLAIN " + sql, params)
            plan = [line for (line,) in cursor.fetchall()]
        key = name if name not in found else f"{name}.{index}"
        found[key] = {
            "sql": sql.strip()[:400],
            "plan": plan,
            "seq_scan_on_job": any("Seq Scan on job" in line for line in plan),
        }
    return found
