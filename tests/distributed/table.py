"""The failure-mode table's rows (docs/failure-modes.md) from what the fault tests measured:

python -m tests.distributed.table [var/bed/measured]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.distributed.conftest import MEASURED

NAMES = {
    "rabbitmq_leader_killed": "the RabbitMQ node holding the queue killed (`kill -9`), started again 20 s later",
    "postgres_failover": "the PostgreSQL primary killed (`kill -9`), the standby promoted 5 s later",
    "partition_workers_postgres": "silent partition, workers to PostgreSQL",
    "partition_workers_rabbitmq": "silent partition, workers to RabbitMQ",
    "partition_api_rabbitmq": "silent partition, API to RabbitMQ",
    "loss_5_percent_everywhere": "5 % packet loss on every link",
}


def seconds(value, none: str = "not seen") -> str:
    return none if value is None else f"{value:g} s"


def row(measured: dict, duration: str) -> str:
    ledger = measured["ledger"]
    answers = ", ".join(f"{n} x {s}" for s, n in sorted(measured["clients"].items()))
    seen = f"{answers}; slowest POST {measured['slowest_post_s']:g} s; {measured['hangs']} hangs"
    lost = (
        f"{ledger['lost']} lost, {ledger['stuck']} stuck, {ledger['saved_twice']} saved twice, "
        f"{sum(ledger['failed'].values())} failed of {ledger['accepted']}; {ledger['extra_attempts']} re-runs"
    )
    name = NAMES.get(measured["fault"], measured["fault"]) + duration
    recovery = seconds(measured["recovery_s"], "none needed (no result saved after it: the load was done)")
    return f"| {name} | {seconds(measured['detection_s'])} | {recovery} | {measured['stall_s']:g} s | {seen} | {lost} |"


def main(argv: list[str]) -> None:
    folder = Path(argv[0]) if argv else MEASURED
    duration = f" for {argv[1]}" if len(argv) > 1 else ""
    for path in sorted(folder.glob("*.json")):
        print(row(json.loads(path.read_text()), duration if "partition" in path.name or "loss" in path.name else ""))


if __name__ == "__main__":
    main(sys.argv[1:])
