"""fairness: the bulk lane's keys in turn. Tenant A uploads a file of `batch_lines` embeddings requests and
creates a batch (`POST /v1/files`, `POST /v1/batches`, endpoint `/v1/embeddings`); once A's lines are
finishing, tenant B creates a batch of `small_batch_lines`. Figures, read from the job rows behind the
batches (`finished_at`) and the batch rows (`created_at`, `completed_at`), one host clock:

- `lines_ahead`: how many of A's lines finished between B's batch creation and B's first line finishing,
  the bounded number a second tenant waits behind; beside it `bound`, what the batch keeper implies: the
  released jobs the lane holds at most (`IN_FLIGHT`), A's lines finishing while B waits for the keeper's
  next pass (A's measured lines/s times the pass period), and the jobs the workers run at once;
- B's batch completion time (created -> completed) against A's, and A's lines/s."""

from __future__ import annotations

import inspect
import json
import math
import time

from dramatiq.common import dq_name, xq_name

from actors import bulk
from actors.batch_keeper import IN_FLIGHT, BatchKeeper
from bench.client import JSON, Connection
from bench.infra import Infra
from bench.noise import Meter, settle
from bench.settings import Settings
from bench.stack import Stack
from bench.tenants import BULK_TABLES, KEY_A, KEY_B, TenantApi, authorization, upload
from bench.texts import texts
from db import database

KEEPER_EVERY = inspect.signature(BatchKeeper.__init__).parameters["every"].default  # seconds between passes
ENDED = ("completed", "failed", "expired", "cancelled")
BULK_QUEUES = (bulk.QUEUE, dq_name(bulk.QUEUE), xq_name(bulk.QUEUE))


def jsonl(model: str, count: int, seed: int, prefix: str) -> bytes:
    lines = (
        {"custom_id": f"{prefix}-{i}", "method": "POST", "url": "/v1/embeddings", "body": {"model": model, "input": t}}
        for i, t in enumerate(texts(count, seed=seed))
    )
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


def create_batch(connection: Connection, key: str, content: bytes) -> dict:
    """Upload `content` and create its batch as `key`; the batch as the API answered it."""
    uploaded = upload(connection, key, content)
    if uploaded.status != 200:
        raise RuntimeError(f"fairness: POST /v1/files answered {uploaded.status}: {uploaded.body[:300]!r}")
    body = {"input_file_id": uploaded.json()["id"], "endpoint": "/v1/embeddings", "completion_window": "24h"}
    reply = connection.request("POST", "/v1/batches", json.dumps(body).encode(), {**JSON, **authorization(key)})
    if reply.status != 200 or reply.json()["status"] != "in_progress":
        raise RuntimeError(f"fairness: POST /v1/batches answered {reply.status}: {reply.body[:300]!r}")
    return reply.json()


def finished_lines(batch_id: str) -> int:
    return _scalar(
        "SELECT count(*) FROM batch_request r JOIN job j ON j.id = r.job "
        "WHERE r.batch = %s AND j.finished_at IS NOT NULL",
        (batch_id,),
    )


def wait_ended(connection: Connection, key: str, batch_id: str, timeout: float, alive) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        batch = connection.request("GET", f"/v1/batches/{batch_id}", None, authorization(key)).json()
        if batch["status"] in ENDED:
            return batch
        alive()
        time.sleep(0.25)
    raise TimeoutError(f"fairness: batch {batch_id} not ended after {timeout:.0f} s")


def figures(a_id: str, b_id: str) -> dict:
    """The timings of both batches and A's lines finished ahead of B's first, from the database."""
    sql = "SELECT created_at, completed_at FROM batch WHERE id = %s"
    (a_created, a_completed), (b_created, b_completed) = (_row(sql, (a_id,)), _row(sql, (b_id,)))
    lines = "SELECT {} FROM batch_request r JOIN job j ON j.id = r.job WHERE r.batch = %s"
    b_first = _row(lines.format("min(j.finished_at)"), (b_id,))[0]
    a_first, a_last, a_done = _row(lines.format("min(j.finished_at), max(j.finished_at), count(*)"), (a_id,))
    ahead = _scalar(lines.format("count(*)") + " AND j.finished_at > %s AND j.finished_at <= %s",
                    (a_id, b_created, b_first))  # fmt: skip
    a_rate = (a_done - 1) / max((a_last - a_first).total_seconds(), 1e-3)
    return {
        "lines_ahead": ahead,
        "a_lines_per_s": round(a_rate, 1),
        "b_first_line_seconds": round((b_first - b_created).total_seconds(), 3),
        "b_completion_seconds": round((b_completed - b_created).total_seconds(), 3),
        "a_completion_seconds": round((a_completed - a_created).total_seconds(), 3),
        "b_created_after_a_seconds": round((b_created - a_created).total_seconds(), 3),
    }


def bound(a_lines_per_s: float, running: int) -> int:
    """What the keeper implies B's first line waits behind: the released jobs queued ahead (`IN_FLIGHT` at
    most), A's lines finishing until the keeper's next pass releases B's first (keys with the fewest jobs
    under way go first), and the jobs the workers were running."""
    return IN_FLIGHT + math.ceil(a_lines_per_s * KEEPER_EVERY) + running


def one_round(settings: Settings, infra: Infra, tenant: TenantApi, seed: int, progress) -> dict:
    sizes, connection = settings.tenants, Connection(tenant.port, timeout=600)
    try:
        a_started = time.perf_counter()
        a = create_batch(connection, KEY_A, jsonl(settings.model, sizes.batch_lines, seed, "a"))
        a_created_in = time.perf_counter() - a_started
        head_start = min(1000, max(1, sizes.batch_lines // 10))  # A's lines are flowing: the lane is busy
        deadline = time.monotonic() + 120
        while finished_lines(a["id"]) < head_start and time.monotonic() < deadline:
            tenant.alive()
            time.sleep(0.02)
        progress(f"A's batch of {sizes.batch_lines} in progress; B creates one of {sizes.small_batch_lines}")
        b = create_batch(connection, KEY_B, jsonl(settings.model, sizes.small_batch_lines, seed + 1, "b"))
        b_end = wait_ended(connection, KEY_B, b["id"], 600, tenant.alive)
        a_end = wait_ended(connection, KEY_A, a["id"], 60 + sizes.batch_lines / 20, tenant.alive)
    finally:
        connection.close()
    found = figures(a["id"], b["id"])
    running = settings.processes * settings.spec().max_batch_size
    return {
        **found,
        "bound": bound(found["a_lines_per_s"], running),
        "bound_parts": {"in_flight": IN_FLIGHT, "keeper_every_s": KEEPER_EVERY, "running": running},
        "b_completion_vs_a": round(found["b_completion_seconds"] / found["a_completion_seconds"], 4),
        "a_upload_and_create_seconds": round(a_created_in, 2),
        "counts": {"a": a_end["request_counts"], "b": b_end["request_counts"]},
    }


class Session:
    """`fairness_rounds` rounds (the first repeats): A's large batch, then B's small one."""

    def __init__(self, settings: Settings, infra: Infra, stack: Stack, progress):
        self.settings, self.infra, self.stack, self.progress = settings, infra, stack, progress
        self.tenant = TenantApi(settings, infra, "fairness", sweeper=True)
        self.rounds: list[dict] = []

    def round(self, index: int) -> None:
        if index >= self.settings.tenants.fairness_rounds:
            self.tenant.close()
            return
        self.progress("starting the workers, the tenants' API and the sweeper")
        self.stack.workers()
        empty(self.infra)
        self.tenant.start()
        settle(self.settings.settle)
        with Meter() as meter:
            found = one_round(self.settings, self.infra, self.tenant, 101 + index, self.progress)
        self.tenant.close()  # the keeper stops with the sweeper: nothing moves between rounds
        self.rounds.append({**found, "cores": meter.cores})

    def result(self) -> dict:
        rounds = self.rounds
        middle = sorted(rounds, key=lambda r: r["lines_ahead"])[(len(rounds) - 1) // 2]
        return {
            **{key: value for key, value in middle.items() if key != "cores"},
            "rounds": [r["lines_ahead"] for r in rounds],
            "unit": "of A's lines finished ahead of B's first",
            "others_cores": [r["cores"]["others"] for r in rounds],
            "detail": rounds,
        }

    def close(self) -> None:
        self.tenant.close()
        if self.rounds:
            empty(self.infra)


def empty(infra: Infra) -> None:
    """No batch, file or job of an earlier round or run left for the keeper; the bulk queue empty."""
    with database.connection_context():
        database.execute_sql(f"TRUNCATE {BULK_TABLES}, job CASCADE")
    infra.purge(BULK_QUEUES)


def _row(sql: str, params: tuple) -> tuple:
    with database.connection_context():
        return database.execute_sql(sql, params).fetchone()


def _scalar(sql: str, params: tuple) -> int:
    return _row(sql, params)[0]
