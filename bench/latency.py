"""latency: one request at a time at idle, `Prefer: wait=10`, timed by the client until the job is done.

The server answers 200 with the finished job when it is done within the wait (else 202); on a 202 the
client long-polls `GET /inference/{id}?wait=10` until the job is finished, as a real client would. Where
the server honours neither yet, that is plain polling every few milliseconds; the result says how each
request was answered."""

from __future__ import annotations

import json
import time

from bench import jobs
from bench.client import JSON, Connection
from bench.infra import Infra
from bench.noise import Meter, settle
from bench.settings import Settings
from bench.stack import Stack
from bench.stats import latency_ms, percentile
from bench.texts import texts

TERMINAL = {"succeeded", "failed", "canceled"}
WAIT = {**JSON, "prefer": "wait=10"}
POLL_PAUSE = 0.005  # between polls that came back at once (the server did not hold the request)
WARMUP = 3


def request(connection: Connection, model: str, text: str) -> tuple[float, str, str]:
    """One job, start to finish: (seconds, how it was answered, final status)."""
    started = time.perf_counter()
    reply = connection.request("POST", "/inference", json.dumps({"model": model, "inputs": text}).encode(), WAIT)
    job = reply.json()
    if reply.status == 200 and job.get("status") in TERMINAL:
        return time.perf_counter() - started, "prefer-wait", job["status"]
    if reply.status != 202:
        raise RuntimeError(f"latency: POST /inference answered {reply.status}: {job}")
    polls = 0
    while job.get("status") not in TERMINAL:
        if time.perf_counter() - started > 60:
            raise TimeoutError(f"latency: job {job.get('id')} not finished after 60 s")
        asked = time.perf_counter()
        reply = connection.request("GET", f"/inference/{job['id']}?wait=10")
        job, polls = reply.json(), polls + 1
        if job.get("status") not in TERMINAL and time.perf_counter() - asked < 0.5:
            time.sleep(POLL_PAUSE)
    how = "long-poll" if polls == 1 else "polling"
    return time.perf_counter() - started, how, job["status"]


def one_round(settings: Settings, infra: Infra, stack: Stack, seed: int) -> dict:
    connection = Connection(stack.port)
    infra.truncate_jobs()
    settle(settings.settle)
    seconds, answered, statuses = [], {}, {}
    meter = Meter().__enter__()
    try:
        for index, text in enumerate(texts(settings.sizes.latency_n + WARMUP, seed=seed)):
            took, how, status = request(connection, settings.model, text)
            if index < WARMUP:
                continue
            seconds.append(took)
            answered[how] = answered.get(how, 0) + 1
            statuses[status] = statuses.get(status, 0) + 1
    finally:
        connection.close()
    cores = meter.stop()
    return {
        **latency_ms(seconds),
        "answered": answered,
        "statuses": statuses,
        "others": cores["others"],
        "breakdown_ms": breakdown(jobs.timeline()),
    }


def run(settings: Settings, infra: Infra, stack: Stack, progress) -> dict:
    """Rounds of sequential requests; the round with the lowest p50 is reported, as the throughput modes
    report their best round: other work on the machine only ever adds to a request's time."""
    progress("starting the API and the workers" if stack._workers is None else "API and workers up")
    stack.api()
    stack.workers()
    rounds = []
    for round_ in range(settings.sizes.latency_rounds):
        progress(
            f"round {round_ + 1}/{settings.sizes.latency_rounds}: {settings.sizes.latency_n} sequential requests, "
            "one text each, Prefer: wait=10"
        )
        rounds.append(one_round(settings, infra, stack, seed=41 + round_))
    infra.truncate_jobs()
    best = min(rounds, key=lambda r: r["p50"])
    return {
        **{key: value for key, value in best.items() if key != "others"},
        "rounds_p50": [r["p50"] for r in rounds],
        "others_cores": [r["others"] for r in rounds],
    }


def breakdown(line: jobs.Timeline) -> dict[str, float]:
    """Where a request's time goes, from the database's timestamps (p50 of each part over all requests):
    created -> started (API commit, broker, worker pick-up) and started -> finished (claim, model, save)."""

    def p50(pairs) -> float:
        return round(percentile([(b - a).total_seconds() * 1000 for a, b in pairs], 50), 3)

    return {
        "created_to_started_p50": p50(zip(line.created, line.started, strict=True)),
        "started_to_finished_p50": p50(zip(line.started, line.finished, strict=True)),
        "created_to_finished_p50": p50(zip(line.created, line.finished, strict=True)),
    }
