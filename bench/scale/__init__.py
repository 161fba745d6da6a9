"""`python -m bench scale`: the database and broker paths measured per core of their server, for sizing.

The database: a job table pre-filled to `--rows` (one `INSERT ... SELECT generate_series`), then
`--clients` threads running job lifecycles through the project's own `db.jobs` (group-commit inserts,
claims, saves, reads) beside the sweeper's and retention's queries; jobs/s divided by
the cores PostgreSQL spent (our backends and its background writers, from /proc). The broker: messages
published with confirms and consumed with acks through `actors.broker.make_broker`, on a classic and a
quorum queue; messages/s divided by the cores RabbitMQ's VM spent. Both in our own database and vhost.
The EXPLAIN of every hot statement at the filled size goes into the JSON."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

import db
from bench import report
from bench.infra import Infra, InfraError
from bench.scale import broker, database, fill
from bench.settings import Settings

QUEUE_TYPES = ("classic", "quorum")


def parse(argv: list[str]) -> argparse.Namespace:
    defaults = Settings()
    parser = argparse.ArgumentParser(prog="python -m bench scale", description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="seconds: checks that it runs (the test suite)")
    parser.add_argument("--rows", type=int, default=100_000, help="jobs in the table first (default: %(default)s)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent database clients (threads)")
    parser.add_argument("--batch", type=int, default=16, help="jobs per lifecycle: a worker's batch")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long the database path runs")
    parser.add_argument("--messages", type=int, default=5000, help="messages per queue type")
    parser.add_argument("--publishers", type=int, default=4, help="publishing threads")
    parser.add_argument("--queue-types", default=",".join(QUEUE_TYPES), help="comma-separated: classic, quorum")
    parser.add_argument("--model", default=defaults.model)
    parser.add_argument("--json", type=Path, metavar="FILE", help="write every result here")
    parser.add_argument("--postgres", default=defaults.postgres_url, help="an admin URL; we create our database")
    parser.add_argument("--rabbitmq", default=defaults.rabbitmq_url, help="a URL on the server; we add our vhost")
    parser.add_argument("--database", default=defaults.database, help="our own database (default: %(default)s)")
    parser.add_argument("--vhost", default=defaults.vhost, help="our own vhost (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.tiny:
        args.rows, args.clients, args.seconds, args.messages, args.publishers = 300, 2, 1.0, 200, 2
    return args


def measure(args: argparse.Namespace, infra: Infra) -> dict:
    db.connect(infra.database_url, max_connections=args.clients + 4)
    print(f"scale: filling the job table with {args.rows} rows", file=sys.stderr, flush=True)
    seconds = fill.fill(args.rows, args.model)
    size = fill.table_size()
    plans = database.explain(args.model)  # at the filled size, before the run adds its own rows
    print(f"scale: {args.clients} clients for {args.seconds:g} s", file=sys.stderr, flush=True)
    result = {
        "fill": {**size, "seconds": round(seconds, 1)},
        "database": database.run(args.model, clients=args.clients, batch=args.batch, seconds=args.seconds),
        "explain": plans,
        "broker": {},
    }
    for kind in [k.strip() for k in args.queue_types.split(",") if k.strip()]:
        print(f"scale: {args.messages} messages through a {kind} queue", file=sys.stderr, flush=True)
        result["broker"][kind] = broker.run(infra.broker_url, kind, messages=args.messages, publishers=args.publishers)
    return result


def summary(doc: dict) -> str:
    base = doc["database"]
    lines = [
        f"database: {base['jobs_per_s']:g} jobs/s with {base['clients']} clients on {doc['fill']['rows']} rows; "
        f"PostgreSQL cores {base['postgres_cores']}: {base['jobs_per_s_per_core']:g} jobs/s per PostgreSQL core",
        "  ops p50/p99 ms: "
        + ", ".join(f"{name} {ms['p50']:.2f}/{ms['p99']:.2f}" for name, ms in base["ops_ms"].items()),
    ]
    scans = [name for name, plan in doc["explain"].items() if plan["seq_scan_on_job"]]
    lines.append(f"  sequential scans of job: {', '.join(scans) or 'none'}")
    for kind, found in doc["broker"].items():
        lines.append(
            f"broker ({kind}): {found['messages_per_s']:g} messages/s, RabbitMQ cores {found['rabbitmq_cores']:g}: "
            f"{found['messages_per_s_per_core']:g} messages/s per RabbitMQ core"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    args = parse(argv)
    started = dt.datetime.now(dt.UTC)
    settings = Settings(
        postgres_url=args.postgres, rabbitmq_url=args.rabbitmq, database=args.database, vhost=args.vhost
    )
    infra = Infra(settings)
    try:
        infra.setup()
    except InfraError as e:
        sys.exit(f"bench scale: {e}")
    try:
        result = measure(args, infra)
    finally:
        infra.cleanup()
    doc = {
        "command": " ".join(["python -m bench scale", *argv]),
        "date": started.isoformat(timespec="seconds"),
        "git": report.git(),
        "machine": report.machine(),
        "settings": {k: v for k, v in vars(args).items() if k not in ("json", "postgres", "rabbitmq")},
        **result,
    }
    print(summary(doc), flush=True)
    if args.json is not None:
        report.write(args.json, doc)
        print(f"wrote {args.json}", flush=True)
    return 0
