"""calls: what a user of an embedding server compares: `CALL_CLIENTS` clients on keep-alive connections,
each sending one text and waiting for the answer in the same call (`Prefer: wait=10`), against the API and
the workers on RabbitMQ and PostgreSQL. Throughput = calls answered with the result (200) per second."""

from __future__ import annotations

from bench import client
from bench.infra import Infra
from bench.noise import Meter, settle
from bench.settings import Settings
from bench.stack import Stack, StackRounds
from bench.stats import latency_ms, summary

CALL_CLIENTS = 32
PREFER = {"Prefer": "wait=10"}


def measured(
    port: int, path: str, bodies: list[bytes], settle_cores: float | None, headers: dict | None = None
) -> dict:
    """`CALL_CLIENTS` clients POST every body once to `path`, each waiting for its answer: calls/s answered
    with 200, their latencies, and how busy the machine was meanwhile."""
    settle(settle_cores)
    with Meter() as meter:
        load = client.load(port, path, bodies, CALL_CLIENTS, headers)
    answered = load.count(200)
    if not answered:
        raise RuntimeError(f"no call to {path} was answered with its result (statuses {sorted(set(load.statuses))})")
    return {
        "throughput": answered / load.elapsed,
        "answered": answered,
        "not_answered": len(load.statuses) - answered,
        "seconds": round(load.elapsed, 3),
        "call_ms": latency_ms(load.seconds),
        "cores": meter.cores,
    }


def one_round(settings: Settings, infra: Infra, stack: Stack, bodies: list[bytes]) -> dict:
    infra.truncate_jobs()
    return measured(stack.port, "/inference", bodies, settings.settle, PREFER)


class Session(StackRounds):
    """Each round: `CALL_CLIENTS` clients, each call waited on, against the stack."""

    seed = 61

    def describe(self) -> str:
        return f"{self.settings.sizes.e2e_n} calls from {CALL_CLIENTS} clients, waited on"

    def one_round(self, bodies: list[bytes]) -> dict:
        return one_round(self.settings, self.infra, self.stack, bodies)

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
