"""bulk: does the bulk lane yield to interactive work? Against the stack (the API, the workers and a sweeper,
whose batch keeper releases a batch's lines as jobs): interactive requests at idle, then a batch of
`bulk_lines` embedding lines created with the official `openai` client (`POST /v1/files`, `POST /v1/batches`),
the same interactive requests while it runs, and the batch's lines/s from its creation to its completion.

Interactive requests are what `latency` sends (one text, `Prefer: wait=10`), from one client pacing itself at
`RATE` a second: at idle for `bulk_idle_seconds`, then from `BUSY_AFTER` s into the batch for as long again, or
until the batch is nine tenths done. Reported: `interactive_p50_vs_idle` (busy p50 over idle p50) and the
batch's lines/s, which `bench.report` divides by the `worker` mode's texts/s of the same repeat
(`bulk_vs_worker`); without the worker mode in the run, this mode runs one worker round of its own first.
One batch per run (its first repeat): a batch of 50,000 lines is minutes of work."""

from __future__ import annotations

import datetime as dt
import io
import json
import sys
import threading
import time

from bench import jobs, worker
from bench.client import Connection, run_clients
from bench.infra import Infra
from bench.latency import Answer, breakdown, request
from bench.noise import Meter, settle
from bench.settings import Settings
from bench.stack import Stack, environment
from bench.stats import latency_ms, ratio, summary
from bench.texts import texts
from harness.processes import Service

RATE = 10.0  # interactive requests a second, one client
BUSY_AFTER = 3.0  # seconds into the batch before the busy requests start (at most a tenth of the batch's guess)
DONE_ENOUGH = 0.9  # the busy requests stop once this share of the batch is answered: never its tail alone
WARMUP = 3


def paced(stack: Stack, model: str, pool: list[str], *, seconds: float, stop=lambda: False) -> list[Answer]:
    """Sequential requests at `RATE` a second for `seconds` (or until `stop()`): each one's answer."""
    answers = []

    def client(connection: Connection) -> None:
        began = time.monotonic()
        for index, text in enumerate(pool):
            due = began + index / RATE
            if index and (due - began > seconds or stop()):
                break
            time.sleep(max(0.0, due - time.monotonic()))
            answer = request(connection, model, text)
            if answer.status != "succeeded":
                raise RuntimeError(f"bulk: an interactive job ended {answer.status}")
            answers.append(answer)

    run_clients(stack.port, 1, client)
    return answers


def batch_file(model: str, lines: list[str]) -> bytes:
    rows = ({"custom_id": f"line-{i}", "method": "POST", "url": "/v1/embeddings", "body": {"model": model, "input": t}}
            for i, t in enumerate(lines))  # fmt: skip
    return "".join(json.dumps(row) + "\n" for row in rows).encode()


class Watch:
    """A batch followed from a thread (`GET /v1/batches/{id}` twice a second): its share answered, its end."""

    def __init__(self, port: int, batch_id: str):
        self.port, self.batch_id = port, batch_id
        self.answered, self.status = 0.0, "in_progress"
        self.ended = threading.Event()
        threading.Thread(target=self._follow, name="bulk-watch", daemon=True).start()

    def _follow(self) -> None:
        connection = Connection(self.port)
        try:
            while not self.ended.is_set():
                batch = connection.request("GET", f"/v1/batches/{self.batch_id}").json()
                counts = batch.get("request_counts") or {}
                self.answered = (counts.get("completed", 0) + counts.get("failed", 0)) / max(1, counts.get("total", 1))
                self.status = batch.get("status", "?")
                if self.status in ("completed", "failed", "expired", "cancelled"):
                    self.ended.set()
                time.sleep(0.5)
        finally:
            connection.close()


def one_round(settings: Settings, infra: Infra, stack: Stack, seed: int) -> dict:
    import openai

    from db import database
    from db.bulk import Batch

    sizes = settings.sizes
    infra.truncate_jobs()
    settle(settings.settle)
    pool = texts(int(RATE * sizes.bulk_idle_seconds) * 2 + 2 * WARMUP + 2, seed=seed)
    half = len(pool) // 2
    idle = paced(stack, settings.model, pool[:half], seconds=sizes.bulk_idle_seconds)[WARMUP:]
    client = openai.OpenAI(base_url=f"http://127.0.0.1:{stack.port}/v1", api_key="unused", max_retries=0)
    content = batch_file(settings.model, texts(sizes.bulk_lines, seed=seed + 1))
    with Meter() as meter:
        upload = client.files.create(file=("requests.jsonl", io.BytesIO(content)), purpose="batch")
        batch = client.batches.create(input_file_id=upload.id, endpoint="/v1/embeddings", completion_window="24h")
        watch = Watch(stack.port, batch.id)
        time.sleep(BUSY_AFTER if sizes.bulk_lines >= 10_000 else BUSY_AFTER / 6)
        busy = paced(
            stack,
            settings.model,
            pool[half:],
            seconds=sizes.bulk_idle_seconds,
            stop=lambda: watch.answered >= DONE_ENOUGH or watch.ended.is_set(),
        )
        busy_while = watch.answered  # the batch's share answered when the busy requests ended
        # from here on the batch runs alone (the database's clock: naive UTC)
        alone_from = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(seconds=1)
        if not watch.ended.wait(300 + sizes.bulk_lines / 20):
            raise TimeoutError(f"bulk: batch {batch.id} still {watch.status} ({watch.answered:.0%} answered)")
    with database.connection_context():
        row = Batch.get_by_id(batch.id)
    if row.status != "completed" or row.failed:
        raise RuntimeError(f"bulk: batch {batch.id} ended {row.status} with {row.failed} failed lines")
    seconds = (row.completed_at - row.created_at).total_seconds()
    alone = alone_throughput(batch.id, alone_from, row.finalizing_at)
    idle_ms, busy_ms = latency_ms([a.seconds for a in idle]), latency_ms([a.seconds for a in busy])
    times = jobs.times([a.job_id for a in idle + busy])
    return {
        "throughput": row.completed / seconds,
        "lines": row.completed,
        "seconds": round(seconds, 3),
        # of which the last, `finalizing`: the output and error files written once every line was answered
        "finalizing_seconds": round((row.completed_at - row.finalizing_at).total_seconds(), 3),
        # the lines/s until every line was answered (its files not yet written): the lane's own pace
        "answered_throughput": round(row.completed / (row.finalizing_at - row.created_at).total_seconds(), 1),
        # the lines/s answered once the interactive requests had stopped: the batch alone (`bulk_vs_worker`)
        "alone_throughput": alone,
        "idle_ms": idle_ms,
        "busy_ms": busy_ms,
        "interactive_p50_vs_idle": ratio(busy_ms["p50"], idle_ms["p50"]),
        "idle_breakdown_ms": breakdown(idle, times),  # where an interactive request's time went (`latency`)
        "busy_breakdown_ms": breakdown(busy, times),
        "busy_until_answered": round(busy_while, 3),
        "cores": meter.cores,
    }


def alone_throughput(batch_id: str, start: dt.datetime, end: dt.datetime) -> float | None:
    """Lines of the batch answered per second from `start` to `end` (from its jobs' `finished_at`)."""
    from db import Job, database
    from db.bulk import BatchRequest

    if end <= start:
        return None
    with database.connection_context():
        answered = (
            BatchRequest.select()
            .join(Job, on=(BatchRequest.job == Job.id))
            .where((BatchRequest.batch == batch_id) & (Job.finished_at >= start) & (Job.finished_at <= end))
            .count()
        )
    return round(answered / (end - start).total_seconds(), 1)


class Session:
    """One batch (in the first repeat), the stack's API and workers up and a sweeper of its own beside them."""

    def __init__(self, settings: Settings, infra: Infra, stack: Stack, progress):
        self.settings, self.infra, self.stack, self.progress = settings, infra, stack, progress
        self.rounds: list[dict] = []
        self.worker_rounds: list[dict] = []
        self.sweeper: Service | None = None

    def round(self, index: int) -> None:
        settings, sizes = self.settings, self.settings.sizes
        if index > 0:
            return  # one batch a run
        if "worker" not in settings.modes:  # the figure the batch is compared with, measured here
            self.stack.stop_workers()
            self.progress(f"no worker mode in this run: a worker round of {sizes.worker_n} jobs first")
            pool = texts(sizes.worker_n, seed=31)
            self.worker_rounds.append(worker.one_round(settings, self.infra, pool, "bulk-worker"))
        self.progress("starting the API, the workers and a sweeper" if self.sweeper is None else "stack up")
        self.stack.api()
        self.stack.workers()
        if self.sweeper is None:
            args = [sys.executable, "-m", "inference_api", "sweep", "--every", "10"]
            log = settings.log_dir / "bulk-sweeper.log"
            self.sweeper = Service("sweeper", args, environment(settings, self.infra), log).start()
        self.progress(
            f"{sizes.bulk_idle_seconds:g} s of interactive requests at {RATE:g}/s idle, then a batch of "
            f"{sizes.bulk_lines} lines and the same requests while it runs"
        )
        try:
            self.rounds.append(one_round(settings, self.infra, self.stack, seed=61 + index))
            self.sweeper.alive()
        finally:  # the sweeper goes with the batch, whatever became of it: left running, its passes would take
            self.close()  # CPU from the modes after it, and its keeper would race theirs

    def result(self) -> dict:
        rounds = self.rounds
        self.infra.truncate_jobs()
        chosen = max(rounds, key=lambda r: r["throughput"])
        own = [r.get("throughput_after_ready") or r["throughput"] for r in self.worker_rounds]
        return {
            **summary(rounds),
            "unit": "lines/s (a batch of one text a line)",
            "lines": chosen["lines"],
            "seconds": chosen["seconds"],
            "finalizing_seconds": chosen["finalizing_seconds"],
            "answered_throughput": chosen["answered_throughput"],
            "alone_throughput": chosen["alone_throughput"],
            # alone, or (a batch answered before the interactive requests ended) until its files were written
            "rounds_alone": [r["alone_throughput"] or r["answered_throughput"] for r in rounds],
            "idle_ms": chosen["idle_ms"],
            "busy_ms": chosen["busy_ms"],
            "idle_breakdown_ms": chosen["idle_breakdown_ms"],
            "busy_breakdown_ms": chosen["busy_breakdown_ms"],
            "interactive_p50_vs_idle": chosen["interactive_p50_vs_idle"],
            "rounds_idle_p50": [r["idle_ms"]["p50"] for r in rounds],
            "rounds_busy_p50": [r["busy_ms"]["p50"] for r in rounds],
            "rate_per_s": RATE,
            # the worker mode's texts/s measured by this mode (when the run had no worker mode), round by round
            "rounds_worker": [round(t, 1) for t in own],
            "detail": rounds,
        }

    def close(self) -> None:
        if self.sweeper is not None:
            self.sweeper.stop()
            self.sweeper = None
