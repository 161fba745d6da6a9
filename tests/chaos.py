"""Chaos run: the real web, `dramatiq` workers and sweeper (as the Procfile runs them) on a real RabbitMQ
and PostgreSQL of their own (tests/private_servers.py: the machine's shared servers are never touched), a
steady POST load on loopback, and faults injected while it runs. Then it waits for every accepted job to
finish and reports what was accepted, lost, failed, written twice and left unfinished.

    python -m tests.chaos --accepted 2000                                  # the short faults (3 minutes)
    python -m tests.chaos --accepted 1500 --pg-outage 150 --alarm 30       # and the long ones
    python -m tests.chaos --accepted 150 --json r.json

Faults: `kill -9` of a worker process (the supervisor restarts the worker as Kubernetes would),
`rabbitmqctl close_all_connections`, `rabbitmqctl stop_app` / `start_app`, a PostgreSQL restart; with
`--pg-outage S` PostgreSQL stopped for S seconds (longer than the workers' retry window: their messages
are dead-lettered and only the sweeper brings the jobs back); with `--alarm S` a RabbitMQ memory alarm
(`set_vm_memory_high_watermark 0`, publishers blocked) for S seconds. Nothing is restarted by hand.

One client in four asks for a webhook: a local receiver checks every call's signature (its first call
answers 500, so retries are exercised) and the report counts finished jobs whose webhook never arrived
and calls that were not correctly signed.

With `--batch-seconds S` (default 90; 0: none) a batch of embedding lines, as many as the bulk lane answers
in S seconds at the pace of a probe batch, is created before the faults (tests/chaos_batch.py) and runs on
the bulk lane through them; the report says how its lines were answered: each once, in the output file, is
the promise.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from actors.liveness import alive
from harness.processes import Service
from harness.supervisor import Supervisor
from tests import private_servers, servers
from tests.chaos_batch import ChaosBatch, whole
from tests.chaos_load import Load, _recovery, psql, received, snapshot, tally
from tests.processes import command, wait_until_serving
from tests.webhook_receiver import Receiver, new_secret, receiver

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Report:
    accepted: int = 0
    faults: list[str] = field(default_factory=list)
    lost: int = 0  # accepted, never terminal: still unfinished after recovery (drain timeout)
    failed_as_lost: int = 0  # failed by the sweeper as lost
    written_twice: int = 0  # a terminal result that changed after it was first read
    re_executions: int = 0  # extra attempts, over all accepted jobs
    succeeded: int = 0
    failed: int = 0
    failed_reasons: dict[str, int] = field(default_factory=dict)
    http_5xx_during_faults: int = 0
    http_5xx_outside_faults: int = 0
    client_retries: int = 0
    webhooks_expected: int = 0  # finished jobs that asked for a webhook
    webhooks_missing: int = 0  # of those, never received correctly signed
    webhooks_unsigned: int = 0  # calls whose signature did not verify
    webhook_calls: int = 0
    seconds: float = 0.0
    recovery_seconds: float = 0.0  # from the end of the last fault until every accepted job had finished
    after_faults: list[dict] = field(default_factory=list)  # per fault: jobs unfinished at its end, and how
    # long until every job accepted by then had finished
    batch: dict = field(default_factory=dict)  # the batch in flight through the faults (chaos_batch.BatchReport)


def faults(supervisor: Supervisor, pg, rabbit, *, pg_outage: float, alarm: float) -> list[tuple[str, callable]]:
    def kill_worker():
        children = supervisor.children()
        if children:
            os.kill(children[0], signal.SIGKILL)

    def rabbit_bounce():
        rabbit.stop_app()
        time.sleep(3)  # deliberate: the broker stays down long enough for every connection to notice
        rabbit.start_app()

    def close_connections():
        rabbit.ctl("close_all_connections", "chaos")

    def postgres_restart():
        pg.stop()
        pg.start()

    def postgres_outage():
        pg.stop()
        try:
            time.sleep(pg_outage)
        finally:
            pg.start()

    def memory_alarm():
        with rabbit.memory_alarm():
            time.sleep(alarm)

    plan = [  # the first three meet the batch (`--batch-seconds`) in flight: `ChaosBatch.pause`
        ("rabbitmqctl stop_app/start_app", rabbit_bounce),
        ("postgresql restart", postgres_restart),
        ("kill -9 worker", kill_worker),
        ("rabbitmqctl close_all_connections", close_connections),
        ("kill -9 worker", kill_worker),
        ("kill -9 worker", kill_worker),
    ]
    if pg_outage:
        plan.append((f"postgresql down {pg_outage:g} s", postgres_outage))
    if alarm:
        plan.append((f"rabbitmq memory alarm {alarm:g} s", memory_alarm))
    return plan


def run(
    accepted: int,
    rate: float,
    models_dir: Path,
    workdir: Path,
    *,
    only: str = "",
    pg_outage: float = 0,
    alarm: float = 0,
    drain_timeout: float = 300,
    sweep: tuple[float, float, float] = (20, 5, 15),
    batch_seconds: float = 0,
) -> Report:
    """Start private servers, run the load and the faults, and report; the servers are removed at the end."""
    why = private_servers.available()
    if why:
        raise RuntimeError(f"chaos needs private servers: {why}")
    with (
        private_servers.private_postgres() as pg,
        private_servers.private_rabbitmq() as rabbit,
        receiver(new_secret(), answers=[500, 204]) as hooks,
    ):
        servers_ = (pg, rabbit, hooks)
        options = (only, pg_outage, alarm, batch_seconds)
        return _run(servers_, accepted, rate, models_dir, workdir, options, drain_timeout, sweep)


def _run(servers_, accepted, rate, models_dir, workdir, options, drain_timeout, sweep) -> Report:
    pg, rabbit, hooks = servers_
    only, pg_outage, alarm, batch_seconds = options
    report = Report()
    started = time.monotonic()
    database_url = pg.create_database("chaos")
    port = servers.free_port()
    supervisor, web, sweeper = _processes(_environment(database_url, rabbit, hooks, models_dir, port, sweep), workdir)
    in_fault = threading.Event()
    load = Load(port, accepted, rate, in_fault, report, webhook=hooks.url)
    batch = ChaosBatch(port, batch_seconds)
    seen: dict[str, tuple] = {}
    recovered_at = time.monotonic()
    try:
        web.start()
        sweeper.start()
        wait_until_serving(f"http://127.0.0.1:{port}", web.process, web.log)
        supervisor.start()
        batch.create()  # before the faults: its jobs are on the bulk lane through them
        load.start()
        plan = [(n, f) for n, f in faults(supervisor, pg, rabbit, pg_outage=pg_outage, alarm=alarm) if only in n]
        interval = max(2.0, accepted / rate / (len(plan) + 1))
        for index, (name, inject) in enumerate(plan):
            time.sleep(batch.pause(index, interval))  # deliberate: the faults are spread over the load
            print(f"chaos: {name}", flush=True)
            before = batch.state()
            in_fault.set()
            try:
                inject()
                report.faults.append(name)
            finally:
                time.sleep(2)  # deliberate: errors just after a fault still count as the fault's
                in_fault.clear()
            recovered_at = time.monotonic()
            batch.around(name, before)
            report.after_faults.append(_recovery(name, database_url, list(load.accepted), seen))
        load.settled.set()
        load.join()
        _drain(report, database_url, load, seen, hooks, drain_timeout)
        report.recovery_seconds = round(time.monotonic() - recovered_at, 1)
        report.batch = asdict(batch.finish(drain_timeout))
        final = snapshot(database_url, load.accepted)
        failed = psql(database_url, "SELECT id::text, error, failure FROM job WHERE status = 'failed'")
    finally:
        supervisor.stop()
        web.stop(15)
        sweeper.stop(15)
    tally(report, load, final, failed, seen, hooks)
    report.seconds = round(time.monotonic() - started, 1)
    return report


def _environment(database_url: str, rabbit, hooks: Receiver, models_dir: Path, port: int, sweep) -> dict:
    sweep_after, sweep_every, lease = sweep
    return os.environ | {
        "DATABASE_URL": database_url,
        "BROKER_URL": rabbit.url,
        "MODELS_DIR": str(models_dir),
        "PORT": str(port),
        "SWEEP_AFTER": f"{sweep_after:g}",
        "SWEEP_EVERY": f"{sweep_every:g}",
        "LEASE_SECONDS": f"{lease:g}",
        "LOG_LEVEL": "WARNING",
        "WEBHOOK_SECRET": hooks.secret,
        "WEBHOOK_ALLOW_PRIVATE": "1",  # the receiver is on loopback
    }


def _processes(env: dict, workdir: Path) -> tuple[Supervisor, Service, Service]:
    """The Procfile's worker (supervised, as Kubernetes would), web and sweeper; the schema migrated."""
    workdir.mkdir(parents=True, exist_ok=True)
    subprocess.run([command("inference-api"), "migrate"], env=env, check=True, capture_output=True)
    heartbeats = workdir / "heartbeats"
    env["WORKER_HEARTBEAT_DIR"] = str(heartbeats)
    worker = [command("dramatiq"), "actors.worker", "--processes", "2", "--threads", "16"]
    worker += ["--worker-fork-timeout", "1000"]
    supervisor = Supervisor(worker, env, workdir / "worker.log", lambda: set(alive(heartbeats, Supervisor.liveness)))
    web = Service("web", [command("inference-api"), "serve"], env, workdir / "web.log")
    sweep = [command("inference-api"), "sweep", "--every", env["SWEEP_EVERY"]]
    return supervisor, web, Service("sweeper", sweep, env, workdir / "sweeper.log")


def _drain(report: Report, database_url: str, load: Load, seen: dict, hooks: Receiver, timeout: float) -> None:
    """Wait until every accepted job finished (and its webhook arrived), noting any result that changed."""
    deadline = time.monotonic() + timeout
    current: dict = {}
    while time.monotonic() < deadline:
        current = snapshot(database_url, load.accepted)
        report.written_twice += sum(1 for i, row in current.items() if i in seen and seen[i][:3] != row[:3])
        seen.update(current)
        if len(current) >= len(load.accepted):
            break
        time.sleep(2)
    while time.monotonic() < deadline + 60 and set(load.hooked) & set(current) - received(hooks):
        time.sleep(1)  # deliveries retried with backoff, or relayed by the sweeper


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accepted", type=int, default=2000, help="jobs to get accepted (default 2000)")
    parser.add_argument("--rate", type=float, default=40.0, help="POSTs per second (default 40)")
    parser.add_argument("--pg-outage", type=float, default=0, metavar="S", help="also stop PostgreSQL for S s")
    parser.add_argument("--alarm", type=float, default=0, metavar="S", help="also raise a memory alarm for S s")
    parser.add_argument(
        "--sweep",
        type=float,
        nargs=3,
        default=(20, 5, 15),
        metavar=("AFTER", "EVERY", "LEASE"),
        help="SWEEP_AFTER, sweep --every and LEASE_SECONDS (default 20 5 15; the Procfile's: 120 10 30)",
    )
    parser.add_argument("--models-dir", type=Path, default=ROOT / "var" / "models")
    parser.add_argument("--workdir", type=Path, default=ROOT / "var" / "chaos")
    parser.add_argument("--json", type=Path, help="write the report here")
    parser.add_argument("--only", default="", help="inject only the faults whose name contains this")
    parser.add_argument("--batch-seconds", type=float, default=90, help="the batch's size in seconds of work (0: none)")
    args = parser.parse_args()
    report = run(
        args.accepted,
        args.rate,
        args.models_dir,
        args.workdir,
        only=args.only,
        pg_outage=args.pg_outage,
        alarm=args.alarm,
        sweep=tuple(args.sweep),
        batch_seconds=args.batch_seconds,
    )
    text = json.dumps(asdict(report), indent=2, default=str)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    webhooks_ok = report.webhooks_missing == 0 and report.webhooks_unsigned == 0 and whole(report.batch)
    sys.exit(0 if report.lost == 0 and report.written_twice == 0 and report.failed == 0 and webhooks_ok else 1)


if __name__ == "__main__":
    main()
