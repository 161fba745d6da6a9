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


class Session:
    """Each round: `CALL_CLIENTS` clients, each call waited on, against the stack."""

    def __init__(self, settings: Settings, infra: Infra, stack: Stack, progress):
        self.settings, self.infra, self.stack, self.progress = settings, infra, stack, progress
        self.rounds: list[dict] = []

    def round(self, index: int) -> None:
        settings, stack = self.settings, self.stack
        self.progress("starting the API and the workers" if stack._workers is None else "API and workers up")
        stack.api()
        stack.workers()
        self.progress(f"{settings.sizes.e2e_n} calls from {CALL_CLIENTS} clients, waited on")
        bodies = request_bodies(settings.model, settings.sizes.e2e_n, seed=61 + index)
        self.rounds.append(one_round(settings, self.infra, stack, bodies))

    def result(self) -> dict:
        rounds = self.rounds
        self.infra.truncate_jobs()
        chosen = max(rounds, key=lambda r: r["throughput"])
        return {
            **summary(rounds),
            "unit": "calls/s answered with the result",
            "clients": CALL_CLIENTS,
            "not_answered": sum(r["not_answered"] for r in rounds),
            "call_ms": chosen["call_ms"],
            "detail": rounds,
        }

    def close(self) -> None:
        pass
