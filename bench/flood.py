"""flood: per-key limits under a flood. Tenant B sends paced interactive requests (`POST /inference`,
`Prefer: wait=10`, one text each, `flood_rate` a second for `flood_seconds`), alone; then tenant A floods
(`flood_clients` clients posting `flood_a_rate` requests a second between them, ten times A's `rps`,
whatever the answers, and `A_WAITERS` more holding `GET ?wait=60`, twice A's `waits`) while B repeats the
same paced load. Per round: B's admission (share accepted) and p50 under the flood against alone (the two
phases back to back: one phase of the host), where B's time went stage by stage
(`bench.latency.breakdown`), and what A got (accepted, refused, and that refusals were 429s with
`Retry-After` and the rate-limit headers).

A's clients run in a process of their own (spawned once, before the first round), so the client threads
measuring B never queue behind them for this process' interpreter lock."""

from __future__ import annotations

import http.client
import itertools
import json
import multiprocessing
import threading
import time
from collections import Counter, deque
from concurrent.futures import ProcessPoolExecutor

from bench import jobs
from bench.client import JSON, Connection, encode, run_clients
from bench.infra import Infra
from bench.latency import TERMINAL, Answer, breakdown
from bench.noise import Meter, settle
from bench.settings import Settings
from bench.stack import Stack, worker_cpu
from bench.stats import latency_ms, median, ratio
from bench.tenants import KEY_A, KEY_B, TenantApi, authorization
from bench.texts import texts
from harness.processes import cpu_seconds

A_WAITERS = 8  # A's clients holding `GET /inference/{id}?wait=60`: twice its `waits`
B_CLIENTS = 4  # B's paced requests go out on time even when one is slow
RAMP = 1.0  # seconds of A's flood before B starts again
RATE_HEADERS = ("Retry-After", "RateLimit", "RateLimit-Policy")


def b_request(connection: Connection, request: bytes, key: str) -> tuple[int, Answer | None]:
    """One paced request of B, waited on until its job is finished: its first status and the answer."""
    sent, started = time.time(), time.perf_counter()
    reply = connection.send(request)
    if reply.status not in (200, 202):
        return reply.status, None
    job, polls = reply.json(), 0
    while job.get("status") not in TERMINAL:
        if time.perf_counter() - started > 60:
            raise TimeoutError(f"flood: B's job {job.get('id')} not finished after 60 s")
        job, polls = connection.request("GET", f"/inference/{job['id']}?wait=10", None, authorization(key)).json(), 1
    how = "prefer-wait" if not polls else "long-poll"
    return reply.status, Answer(time.perf_counter() - started, how, job["status"], job["id"], sent, time.time())


def paced(port: int, model: str, inputs: list[str], rate: float) -> list[tuple[int, Answer | None]]:
    """B's load: request `i` goes out at `i / rate` s from the start (or as soon as a client is free)."""
    headers = {**JSON, "Prefer": "wait=10", **authorization(KEY_B)}
    bodies = [json.dumps({"model": model, "inputs": text}).encode() for text in inputs]
    requests = [encode("POST", "/inference", body, headers) for body in bodies]
    outcomes: list = [None] * len(requests)
    indices = itertools.count()
    start = time.perf_counter() + 0.05

    def client(connection: Connection) -> None:
        while (index := next(indices)) < len(requests):
            time.sleep(max(0.0, start + index / rate - time.perf_counter()))
            outcomes[index] = b_request(connection, requests[index], KEY_B)

    run_clients(port, B_CLIENTS, client)
    return outcomes


def phase(outcomes: list[tuple[int, Answer | None]]) -> dict:
    """B's figures of one phase: admission, latency of the admitted requests, and where their time went."""
    answers = [answer for _, answer in outcomes if answer is not None]
    if not answers:
        raise RuntimeError(f"flood: none of B's requests was admitted ({Counter(s for s, _ in outcomes)})")
    return {
        "admission": round(len(answers) / len(outcomes), 4),
        "statuses": {str(k): v for k, v in sorted(Counter(s for s, _ in outcomes).items())},
        **latency_ms([a.seconds for a in answers]),
        "breakdown_ms": breakdown(answers, jobs.times([a.job_id for a in answers])),
    }


def flood_a(port: int, model: str, seconds: float, clients: int, waiters: int, rate: float) -> dict:
    """A's flood, in a process of its own: `clients` POST `rate` requests a second between them (request `n` at
    `n / rate` s, whatever the answers), `waiters` hold `?wait=60` on A's latest accepted job, each asking
    again a tenth of a second after a refusal; one more request is made with `http.client` to read a
    refusal's headers."""
    headers = {**JSON, **authorization(KEY_A)}
    bodies = [json.dumps({"model": model, "inputs": t}).encode() for t in texts(64, seed=83)]
    requests = [encode("POST", "/inference", body, headers) for body in bodies]
    deadline = time.monotonic() + seconds
    posted, gets, accepted, lock = Counter(), Counter(), deque(maxlen=256), threading.Lock()
    schedule, began = itertools.count(), time.monotonic()

    def poster(offset: int) -> None:
        connection = Connection(port)
        while True:
            with lock:
                n = next(schedule)
            time.sleep(max(0.0, began + n / rate - time.monotonic()))
            if time.monotonic() >= deadline:
                break
            reply = connection.send(requests[n % len(requests)])
            with lock:
                posted[reply.status] += 1
            if reply.status in (200, 202):
                accepted.append(reply.json()["id"])
        connection.close()

    def waiter() -> None:
        connection = Connection(port, timeout=90)
        while time.monotonic() < deadline:
            if not accepted:
                time.sleep(0.01)
                continue
            reply = connection.request("GET", f"/inference/{accepted[-1]}?wait=60", None, authorization(KEY_A))
            with lock:
                gets[reply.status] += 1
            if reply.status == 429:
                time.sleep(0.1)
        connection.close()

    failures: list[str] = []

    def guarded(target, *args) -> None:  # a client that dies would only weaken the flood: it fails the round
        try:
            target(*args)
        except Exception as e:
            with lock:
                failures.append(f"{type(e).__name__}: {e}")

    cpu = time.process_time()
    threads = [threading.Thread(target=guarded, args=(poster, i), daemon=True) for i in range(clients)]
    threads += [threading.Thread(target=guarded, args=(waiter,), daemon=True) for _ in range(waiters)]
    for thread in threads:
        thread.start()
    refusal = refusal_headers(port, bodies[0], headers)
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()) + 90)
    if failures:
        raise RuntimeError(f"flood: {len(failures)} of A's {len(threads)} clients failed, the first: {failures[0]}")
    return tally(posted, gets, time.monotonic() - began, time.process_time() - cpu, refusal)


def tally(posted: Counter, gets: Counter, elapsed: float, cpu: float, refusal: dict) -> dict:
    """What A got: its POSTs' and waits' answers by status over the flood's `elapsed` seconds."""
    refused = posted[429] + gets[429]
    return {
        "seconds": round(elapsed, 2),
        "client_cores": round(cpu / elapsed, 2),  # the CPU A's clients took, this machine's too
        "posted": sum(posted.values()),
        "posted_per_s": round(sum(posted.values()) / elapsed, 1),
        "accepted": posted[200] + posted[202],
        "accepted_per_s": round((posted[200] + posted[202]) / elapsed, 1),
        "refused": refused,
        "refused_not_429": sum(n for s, n in (posted + gets).items() if s >= 400 and s != 429),
        "post_statuses": {str(k): v for k, v in sorted(posted.items())},
        "get_statuses": {str(k): v for k, v in sorted(gets.items())},
        "refusal_headers": refusal,
    }


def refusal_headers(port: int, body: bytes, headers: dict, tries: int = 200) -> dict[str, str | None]:
    """The rate-limit headers of one of A's refusals during the flood (None each if none was refused)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        for _ in range(tries):
            connection.request("POST", "/inference", body, headers)
            response = connection.getresponse()
            response.read()
            if response.status == 429:
                return {name: response.getheader(name) for name in RATE_HEADERS}
    finally:
        connection.close()
    return dict.fromkeys(RATE_HEADERS)


class Tiers:
    """Cores the tenants' API and the workers kept busy during the block (what B's requests shared)."""

    def __init__(self, tenant: TenantApi, stack: Stack):
        self.tenant, self.workers = tenant, stack.workers()
        self.cores: dict[str, float] = {}

    def __enter__(self) -> Tiers:
        self.began, self.used = time.monotonic(), self._used()
        return self

    def _used(self) -> dict[str, float]:
        return {"api": cpu_seconds(self.tenant.api.pid), "workers": worker_cpu(self.workers)}

    def __exit__(self, *exc) -> None:
        wall, used = time.monotonic() - self.began, self._used()
        self.cores = {tier: round((used[tier] - self.used[tier]) / wall, 2) for tier in used}


def one_round(
    settings: Settings, infra: Infra, tenant: TenantApi, stack: Stack, pool: ProcessPoolExecutor, seed: int
) -> dict:
    sizes = settings.tenants
    inputs = texts(max(2, round(sizes.flood_seconds * sizes.flood_rate)), seed=seed)
    infra.truncate_jobs()
    settle(settings.settle)
    with Meter() as idle_meter:
        idle = phase(paced(tenant.port, settings.model, inputs, sizes.flood_rate))
    flooding = pool.submit(flood_a, tenant.port, settings.model, sizes.flood_seconds + RAMP + 1.0,
                           sizes.flood_clients, A_WAITERS, sizes.flood_a_rate)  # fmt: skip
    time.sleep(RAMP)
    with Meter() as flood_meter, Tiers(tenant, stack) as tiers:
        flooded = phase(paced(tenant.port, settings.model, inputs, sizes.flood_rate))
    a = flooding.result(timeout=sizes.flood_seconds + 180)
    tenant.alive()
    return {
        "idle": idle,
        "flooded": flooded,
        "a": a,
        "p50_vs_idle": ratio(flooded["p50"], idle["p50"]),
        "admission_vs_idle": ratio(flooded["admission"], idle["admission"]),
        "cores": {"idle": idle_meter.cores, "flooded": flood_meter.cores, "by_tier": tiers.cores},
    }


class Session:
    """`flood_rounds` rounds (the first repeats), each: B alone, then B under A's flood, back to back."""

    def __init__(self, settings: Settings, infra: Infra, stack: Stack, progress):
        self.settings, self.infra, self.stack, self.progress = settings, infra, stack, progress
        self.tenant = TenantApi(settings, infra, "flood")
        self.pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
        self.pool.submit(time.sleep, 0).result()  # spawned and ready before any clock runs
        self.rounds: list[dict] = []

    def round(self, index: int) -> None:
        sizes = self.settings.tenants
        if index >= sizes.flood_rounds:
            self.tenant.close()
            return
        self.progress("starting the workers and the tenants' API" if self.tenant.api is None else "tenants' API up")
        self.stack.workers()
        self.tenant.start()
        self.progress(f"B: {sizes.flood_rate:g}/s for {sizes.flood_seconds:g} s alone, then under A's flood "
                      f"({sizes.flood_a_rate:g} POSTs/s, {A_WAITERS} waiting)")  # fmt: skip
        self.rounds.append(one_round(self.settings, self.infra, self.tenant, self.stack, self.pool, seed=91 + index))

    def result(self) -> dict:
        self.infra.truncate_jobs()
        return summarize(self.rounds)

    def close(self) -> None:
        self.pool.shutdown(cancel_futures=True)
        self.tenant.close()


def summarize(rounds: list[dict]) -> dict:
    """The mode's figures: each ratio per round (its two phases back to back) and their median; B's phases
    of the median round; A's counts over every round."""
    by_ratio = sorted(rounds, key=lambda r: r["p50_vs_idle"])
    middle = by_ratio[(len(by_ratio) - 1) // 2]
    a_total = {key: sum(r["a"][key] for r in rounds) for key in ("posted", "accepted", "refused", "refused_not_429")}
    a_total |= {key: median([r["a"][key] for r in rounds]) for key in ("posted_per_s", "accepted_per_s")}
    return {
        "rounds": [r["p50_vs_idle"] for r in rounds],  # per round: B's p50 under the flood over alone
        "unit": "B's p50 under A's flood / alone",
        "rounds_idle_p50": [r["idle"]["p50"] for r in rounds],
        "rounds_flooded_p50": [r["flooded"]["p50"] for r in rounds],
        "rounds_idle_admission": [r["idle"]["admission"] for r in rounds],
        "rounds_flooded_admission": [r["flooded"]["admission"] for r in rounds],
        "p50_vs_idle": median([r["p50_vs_idle"] for r in rounds]),
        "admission_vs_idle": median([r["admission_vs_idle"] for r in rounds]),
        "idle": middle["idle"],
        "flooded": middle["flooded"],
        "a": {**a_total, "refusal_headers": middle["a"]["refusal_headers"]},
        "others_cores": [r["cores"]["flooded"]["others"] for r in rounds],
        "cores_flooded": [r["cores"]["flooded"] for r in rounds],
        "cores_by_tier": {**middle["cores"]["by_tier"], "a_clients": middle["a"]["client_cores"]},  # the median round
        "detail": rounds,
    }
