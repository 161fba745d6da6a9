"""Chaos run: the real web and `dramatiq` workers on the real RabbitMQ and PostgreSQL, a steady POST
load on loopback, and faults injected while it runs. Then it waits for the queues to drain and reports
what was accepted and whether anything was lost or written twice.

    python -m tests.chaos --accepted 2000          # by hand (about 3 minutes)
    python -m tests.chaos --accepted 150 --json r.json

Faults: `kill -9` of a worker process (the supervisor restarts the worker as Kubernetes would),
`rabbitmqctl close_all_connections`, `rabbitmqctl stop_app` / `start_app`, a PostgreSQL restart. Every
server it stops is started again in a `finally`. It uses its own database and vhost.

One client in four asks for a webhook: a local receiver checks every call's signature (its first call
answers 500, so retries are exercised) and the report counts finished jobs whose webhook never arrived
and calls that were not correctly signed.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

from actors.liveness import alive
from tests import servers
from tests.processes import command, wait_until_serving
from tests.webhook_receiver import Receiver, new_secret, receiver

ROOT = Path(__file__).resolve().parent.parent
PG_CLUSTER = ["pg_ctlcluster", "--skip-systemctl-redirect"]


@dataclass
class Report:
    accepted: int = 0
    faults: list[str] = field(default_factory=list)
    lost: int = 0  # accepted, never terminal
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


class Supervisor(threading.Thread):
    """Keeps `dramatiq actors.worker` running: restarts it whenever it exits, as Kubernetes would, and kills
    it when it has had no live worker process for `liveness` seconds (`boot_grace` before the first one
    beat), as the liveness probe `inference-api worker-alive` would: Dramatiq's main process can hang for
    good when a worker process crashes while it signals that it is ready. Worker processes are told by
    their heartbeat files (the main process has another child: the metrics server)."""

    def __init__(self, args: list[str], env: dict, log: Path):
        super().__init__(daemon=True)
        self.heartbeats = log.parent / "heartbeats"
        env = {**env, "PYTHONUNBUFFERED": "1", "WORKER_HEARTBEAT_DIR": str(self.heartbeats)}
        self.args, self.env, self.log = args, env, log
        self.process: subprocess.Popen | None = None
        self.stopping = threading.Event()
        self.restarts = 0

    liveness = 8.0
    boot_grace = 30.0

    def run(self) -> None:
        with self.log.open("ab") as out:
            while not self.stopping.is_set():
                self.process = subprocess.Popen(self.args, env=self.env, stdout=out, stderr=subprocess.STDOUT)
                alive_at, booted = time.monotonic(), False
                while self.process.poll() is None and not self.stopping.is_set():
                    time.sleep(0.5)
                    if self.children():
                        alive_at, booted = time.monotonic(), True
                    elif time.monotonic() - alive_at > (self.liveness if booted else self.boot_grace):
                        self.process.kill()  # the liveness probe's verdict
                        self.process.wait()
                if not self.stopping.is_set():
                    self.restarts += 1
                    time.sleep(1)

    def children(self) -> list[int]:
        """The worker processes of the current main process that are alive (not zombies) and beat recently."""
        if self.process is None:
            return []
        found = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True)
        beating = set(alive(self.heartbeats, max_age=self.liveness))
        return [
            int(pid) for pid in found.stdout.split() if int(pid) in beating and _state(int(pid)) not in ("Z", "X", "")
        ]

    def stop(self) -> None:
        self.stopping.set()
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return ""


class Load(threading.Thread):
    """POSTs at a steady rate until `total` jobs are accepted and the faults are over (`settled`); each
    request retries with its Idempotency-Key until it is accepted."""

    def __init__(
        self, port: int, total: int, rate: float, in_fault: threading.Event, report: Report, webhook: str | None = None
    ):
        super().__init__(daemon=True)
        self.port, self.total, self.rate, self.in_fault, self.report = port, total, rate, in_fault, report
        self.webhook = webhook  # client 0 asks for it on every job
        self.accepted: list[str] = []
        self.hooked: list[str] = []
        self.lock = threading.Lock()
        self.settled = threading.Event()  # set once every fault has been injected

    def run(self) -> None:
        threads = [threading.Thread(target=self._client, args=(i,), daemon=True) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def _client(self, index: int) -> None:
        connection = None
        n = index
        while True:
            with self.lock:
                if len(self.accepted) >= self.total and self.settled.is_set():
                    return
            hooked = index == 0 and self.webhook is not None
            body = json.dumps(
                {"inputs": f"chaos message {n} from client {index}", **({"webhook": self.webhook} if hooked else {})}
            )
            key = str(uuid.uuid4())
            while True:  # a client that keeps its promise: retry the same request until it is accepted
                try:
                    if connection is None:
                        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                    connection.request(
                        "POST",
                        "/inference",
                        body,
                        {"content-type": "application/json", "Idempotency-Key": key},
                    )
                    response = connection.getresponse()
                    payload = json.loads(response.read() or b"{}")
                    status = response.status
                except (OSError, http.client.HTTPException, ValueError):
                    connection = None
                    status, payload = 599, {}
                if status in (200, 202):
                    with self.lock:
                        self.accepted.append(payload["id"])
                        if hooked:
                            self.hooked.append(payload["id"])
                    break
                if status >= 500:
                    field_name = "http_5xx_during_faults" if self.in_fault.is_set() else "http_5xx_outside_faults"
                    setattr(self.report, field_name, getattr(self.report, field_name) + 1)
                self.report.client_retries += 1
                time.sleep(0.5)
            n += 4
            time.sleep(4 / self.rate)


def psql(url: str, sql: str) -> list[tuple]:
    import psycopg2

    with contextlib.closing(psycopg2.connect(url, connect_timeout=5)) as connection, connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall() if cursor.description else []


def snapshot(url: str, ids: list[str]) -> dict[str, tuple]:
    """The terminal jobs among `ids`: id -> (status, finished_at, hash of output and error, attempts)."""
    if not ids:
        return {}
    quoted = ",".join(f"'{i}'" for i in ids)
    rows = psql(
        url,
        f"SELECT id::text, status, finished_at, md5(coalesce(output::text, '') || coalesce(error, '')), attempts "
        f"FROM job WHERE id IN ({quoted}) AND status IN ('succeeded', 'failed', 'canceled')",
    )
    return {row[0]: row[1:] for row in rows}


def wait_for_postgres(timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not servers.reachable(servers.POSTGRES_ADMIN_URL) and time.monotonic() < deadline:
        time.sleep(0.5)


def wait_for_rabbitmq(timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not servers.reachable(servers.RABBITMQ_URL) and time.monotonic() < deadline:
        time.sleep(0.5)


def restore_servers() -> None:
    """Whatever happened, leave PostgreSQL and RabbitMQ running."""
    if not servers.reachable(servers.POSTGRES_ADMIN_URL):
        version = sorted(os.listdir("/etc/postgresql"))[0]
        subprocess.run([*PG_CLUSTER, version, "main", "start"], check=False)
        wait_for_postgres()
    if not servers.reachable(servers.RABBITMQ_URL):
        subprocess.run(["rabbitmqctl", "start_app"], capture_output=True, check=False)
        wait_for_rabbitmq()
    if not servers.reachable(servers.RABBITMQ_URL):
        subprocess.run(["rabbitmq-server", "-detached"], check=False)
        wait_for_rabbitmq()


def faults(supervisor: Supervisor) -> list[tuple[str, callable]]:
    version = sorted(os.listdir("/etc/postgresql"))[0]

    def kill_worker():
        children = supervisor.children()
        if children:
            os.kill(children[0], signal.SIGKILL)

    def rabbit_bounce():
        subprocess.run(["rabbitmqctl", "stop_app"], capture_output=True, check=True)
        time.sleep(3)
        subprocess.run(["rabbitmqctl", "start_app"], capture_output=True, check=True)
        wait_for_rabbitmq()

    def close_connections():
        subprocess.run(["rabbitmqctl", "close_all_connections", "chaos"], capture_output=True, check=True)

    def postgres_restart():
        subprocess.run([*PG_CLUSTER, version, "main", "restart"], capture_output=True, check=True)
        wait_for_postgres()

    return [
        ("kill -9 worker", kill_worker),
        ("rabbitmqctl close_all_connections", close_connections),
        ("kill -9 worker", kill_worker),
        ("rabbitmqctl stop_app/start_app", rabbit_bounce),
        ("postgresql restart", postgres_restart),
        ("kill -9 worker", kill_worker),
    ]


def run(
    accepted: int, rate: float, models_dir: Path, workdir: Path, *, only: str = "", drain_timeout: float = 240
) -> Report:
    with receiver(new_secret(), answers=[500, 204]) as hooks:
        return _run(accepted, rate, models_dir, workdir, hooks, only=only, drain_timeout=drain_timeout)


def received(hooks: Receiver) -> set[str]:
    """The job ids the receiver got a correctly signed call for, answered 2xx."""
    return {c.payload["data"]["id"] for c in list(hooks.calls) if c.payload is not None and c.answered < 300}


def _run(
    accepted: int, rate: float, models_dir: Path, workdir: Path, hooks: Receiver, *, only: str, drain_timeout: float
) -> Report:
    report = Report()
    started = time.monotonic()
    database_url = servers.postgres_url("inference_api_chaos")
    broker_url = servers.rabbitmq_url("inference_api_chaos")
    psql(database_url, "DROP TABLE IF EXISTS webhook_delivery, job, migratehistory")
    port = servers.free_port()
    env = os.environ | {
        "DATABASE_URL": database_url,
        "BROKER_URL": broker_url,
        "MODELS_DIR": str(models_dir),
        "PORT": str(port),
        "SWEEP_AFTER": "20",
        "LOG_LEVEL": "WARNING",
        "WEBHOOK_SECRET": hooks.secret,
        "WEBHOOK_ALLOW_PRIVATE": "1",  # the receiver is on loopback
    }
    workdir.mkdir(parents=True, exist_ok=True)
    subprocess.run([command("inference-api"), "migrate"], env=env, check=True, capture_output=True)
    # a queue left over from an earlier run would deliver ids of jobs that no longer exist: drop it
    for queue in ("inference", "webhooks"):
        subprocess.run(["rabbitmqctl", "purge_queue", "-p", "inference_api_chaos", queue], capture_output=True)
    web_log = workdir / "web.log"
    processes: list[subprocess.Popen] = []
    supervisor = Supervisor(
        [command("dramatiq"), "actors.worker", "--processes", "2", "--threads", "16", "--worker-fork-timeout", "1000"],
        env,
        workdir / "worker.log",
    )
    in_fault = threading.Event()
    load = Load(port, accepted, rate, in_fault, report, webhook=hooks.url)
    seen: dict[str, tuple] = {}
    try:
        with web_log.open("wb") as out:
            web = subprocess.Popen([command("inference-api"), "serve"], env=env, stdout=out, stderr=subprocess.STDOUT)
        processes.append(web)
        with (workdir / "sweeper.log").open("wb") as out:
            processes.append(
                subprocess.Popen([command("inference-api"), "sweep", "--every", "5"], env=env, stdout=out, stderr=out)
            )
        wait_until_serving(f"http://127.0.0.1:{port}", web, web_log)
        supervisor.start()
        load.start()
        plan = [(name, inject) for name, inject in faults(supervisor) if only in name]
        interval = max(2.0, accepted / rate / (len(plan) + 1))
        for name, inject in plan:
            time.sleep(interval)
            print(f"chaos: {name}", flush=True)
            in_fault.set()
            try:
                inject()
                report.faults.append(name)
            finally:
                time.sleep(2)
                in_fault.clear()
            seen.update(snapshot(database_url, list(load.accepted)))
        load.settled.set()
        load.join()
        deadline = time.monotonic() + drain_timeout
        while time.monotonic() < deadline:
            current = snapshot(database_url, load.accepted)
            report.written_twice += sum(1 for i, row in current.items() if i in seen and seen[i][:3] != row[:3])
            seen.update(current)
            if len(current) >= len(load.accepted):
                break
            time.sleep(2)
        while time.monotonic() < deadline + 60 and set(load.hooked) & set(current) - received(hooks):
            time.sleep(1)  # deliveries retried with backoff, or relayed by the sweeper
    finally:
        supervisor.stop()
        for process in processes:
            process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(15)
            if process.poll() is None:
                process.kill()
        restore_servers()
    final = snapshot(database_url, load.accepted)
    report.accepted = len(load.accepted)
    report.lost = report.accepted - len(final)
    report.written_twice += sum(1 for i, row in final.items() if i in seen and seen[i][:3] != row[:3])
    report.re_executions = sum(max(0, row[3] - 1) for row in final.values())
    for status, *_ in final.values():
        report.succeeded += status == "succeeded"
        report.failed += status == "failed"
    if report.failed:
        quoted = ",".join(f"'{i}'" for i in load.accepted)
        for (error,) in psql(database_url, f"SELECT error FROM job WHERE status='failed' AND id IN ({quoted})"):
            reason = (error or "")[:80]
            report.failed_reasons[reason] = report.failed_reasons.get(reason, 0) + 1
    finished_hooked = set(load.hooked) & set(final)
    report.webhooks_expected = len(finished_hooked)
    report.webhooks_missing = len(finished_hooked - received(hooks))
    report.webhooks_unsigned = sum(1 for c in list(hooks.calls) if c.payload is None)
    report.webhook_calls = len(hooks.calls)
    report.seconds = round(time.monotonic() - started, 1)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accepted", type=int, default=2000, help="jobs to get accepted (default 2000)")
    parser.add_argument("--rate", type=float, default=40.0, help="POSTs per second (default 40)")
    parser.add_argument("--models-dir", type=Path, default=ROOT / "var" / "models")
    parser.add_argument("--workdir", type=Path, default=ROOT / "var" / "chaos")
    parser.add_argument("--json", type=Path, help="write the report here")
    parser.add_argument("--only", default="", help="inject only the faults whose name contains this")
    args = parser.parse_args()
    report = run(args.accepted, args.rate, args.models_dir, args.workdir, only=args.only)
    text = json.dumps(asdict(report), indent=2, default=str)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    webhooks_ok = report.webhooks_missing == 0 and report.webhooks_unsigned == 0
    sys.exit(0 if report.lost == 0 and report.written_twice == 0 and webhooks_ok else 1)


if __name__ == "__main__":
    main()
