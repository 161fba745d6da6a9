"""calls: what a user of an embedding server compares: `CALL_CLIENTS` clients on keep-alive connections,
each sending one text and waiting for the answer in the same call (`Prefer: wait=10`), against the API and
the workers on RabbitMQ and PostgreSQL. Throughput = calls answered with the result (200) per second."""

from __future__ import annotations

from bench import client
from bench.infra import Infra
from bench.noise import Meter, settle
from bench.settings import Settings
from bench.stack import Stack
from bench.stats import latency_ms, summary
from bench.texts import request_bodies

CALL_CLIENTS = 32
PREFER = {"Prefer": "wait=10"}


def one_round(settings: Settings, infra: Infra, stack: Stack, bodies: list[bytes]) -> dict:
    infra.truncate_jobs()
    settle(settings.settle)
    with Meter() as meter:
        load = client.load(stack.port, "/inference", bodies, CALL_CLIENTS, PREFER)
    answered = load.count(200)
    if not answered:
        raise RuntimeError(f"calls: no call was answered with its result (statuses {sorted(set(load.statuses))})")
    return {
        "throughput": answered / load.elapsed,
        "answered": answered,
        "not_answered": len(load.statuses) - answered,
        "seconds": round(load.elapsed, 3),
        "call_ms": latency_ms(load.seconds),
        "cores": meter.cores,
    }


def run(settings: Settings, infra: Infra, stack: Stack, progress) -> dict:
    sizes = settings.sizes
    progress("starting the API and the workers" if stack._workers is None else "API and workers up")
    stack.api()
    stack.workers()
    rounds = []
    for round_ in range(sizes.e2e_rounds):
        progress(f"round {round_ + 1}/{sizes.e2e_rounds}: {sizes.e2e_n} calls from {CALL_CLIENTS} clients, waited on")
        bodies = request_bodies(settings.model, sizes.e2e_n, seed=61 + round_)
        rounds.append(one_round(settings, infra, stack, bodies))
    infra.truncate_jobs()
    chosen = max(rounds, key=lambda r: r["throughput"])
    return {
        **summary(rounds),
        "unit": "calls/s answered with the result",
        "clients": CALL_CLIENTS,
        "not_answered": sum(r["not_answered"] for r in rounds),
        "call_ms": chosen["call_ms"],
        "detail": rounds,
    }
