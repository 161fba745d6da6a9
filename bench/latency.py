"""latency: one request at a time at idle, `Prefer: wait=10`, timed by the client until the job is done.

The server answers 200 with the finished job when it is done within the wait (else 202); on a 202 the
client long-polls `GET /inference/{id}?wait=10` until the job is finished, as a real client would. Where
the server honours neither yet, that is plain polling every few milliseconds; the result says how each
request was answered.

Each round then sends the same texts to the floor (`bench.floor`: the same path built from the same parts,
none of the service's code), so that every repeat measures what the service adds over the stack's own floor,
in all and stage by stage (the floor stamps its job where the service stamps its own)."""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from dataclasses import dataclass

from bench import jobs
from bench.client import JSON, Connection
from bench.infra import Infra
from bench.noise import Meter, settle
from bench.settings import Settings
from bench.stack import Stack
from bench.stats import latency_ms, percentile
from bench.texts import texts
from db.base import ms
from harness.processes import Service, wait_http
from harness.servers import free_port

TERMINAL = {"succeeded", "failed", "canceled"}
WAIT = {**JSON, "prefer": "wait=10"}
POLL_PAUSE = 0.005  # between polls that came back at once (the server did not hold the request)
WARMUP = 3


@dataclass(frozen=True)
class Answer:
    """One job, start to finish, timed by the client; `sent` and `answered` are wall-clock (`time.time()`),
    comparable with the timestamps the API and the workers write (same host, same clock)."""

    seconds: float
    how: str  # prefer-wait, long-poll or polling
    status: str
    job_id: str
    sent: float
    answered: float


def request(connection: Connection, model: str, text: str) -> Answer:
    sent, started = time.time(), time.perf_counter()
    reply = connection.request("POST", "/inference", json.dumps({"model": model, "inputs": text}).encode(), WAIT)
    job = reply.json()
    if reply.status == 200 and job.get("status") in TERMINAL:
        return Answer(time.perf_counter() - started, "prefer-wait", job["status"], job["id"], sent, time.time())
    if reply.status != 202:
        raise RuntimeError(f"latency: POST /inference answered {reply.status}: {job}")
    polls = 0
    while job.get("status") not in TERMINAL:
        if time.perf_counter() - started > 60:
            raise TimeoutError(f"latency: job {job.get('id')} not finished after 60 s")
        asked = time.perf_counter()
        reply = connection.request("GET", f"/inference/{job['id']}?wait=10")
        job, polls = reply.json(), polls + 1
        if job.get("status") not in TERMINAL and time.perf_counter() - asked < 0.5:
            time.sleep(POLL_PAUSE)
    how = "long-poll" if polls == 1 else "polling"
    return Answer(time.perf_counter() - started, how, job["status"], job["id"], sent, time.time())


def one_round(settings: Settings, infra: Infra, stack: Stack, seed: int) -> dict:
    connection = Connection(stack.port)
    infra.truncate_jobs()
    settle(settings.settle)
    answers: list[Answer] = []
    meter = Meter().__enter__()
    try:
        for index, text in enumerate(texts(settings.sizes.latency_n + WARMUP, seed=seed)):
            answer = request(connection, settings.model, text)
            if index >= WARMUP:
                answers.append(answer)
    finally:
        connection.close()
    cores = meter.stop()
    times = jobs.times([a.job_id for a in answers])
    return {
        **latency_ms([a.seconds for a in answers]),
        "over_model_p50": over_model_p50(answers, times),
        "answered": dict(Counter(a.how for a in answers)),
        "statuses": dict(Counter(a.status for a in answers)),
        "others": cores["others"],
        "breakdown_ms": breakdown(answers, times),
    }


def floor_round(settings: Settings, port: int, seed: int) -> dict:
    """The same sequential calls against the floor: the p50 of each call's time less its model time
    (`floor_over_model_p50`, ms), and its stages as the service's are measured (`floor_breakdown_ms`)."""
    connection, answers, times = Connection(port), [], {}
    settle(settings.settle)
    try:
        for index, text in enumerate(texts(settings.sizes.latency_n + WARMUP, seed=seed)):
            sent, started = time.time(), time.perf_counter()
            reply = connection.request("POST", "/inference", json.dumps({"inputs": text}).encode(), JSON)
            seconds, answered = time.perf_counter() - started, time.time()
            if reply.status != 200:
                raise RuntimeError(f"latency: the floor answered {reply.status}: {reply.body[:200]!r}")
            if index >= WARMUP:
                row = reply.json()
                answers.append(Answer(seconds, "prefer-wait", row["status"], row["id"], sent, answered))
                stamps = (jobs.utc(row[name]) for name in ("created", "started", "finished"))
                times[row["id"]] = jobs.Times(*stamps, inference_ms=row["inference_ms"])
    finally:
        connection.close()
    return {"floor_over_model_p50": over_model_p50(answers, times), "floor_breakdown_ms": breakdown(answers, times)}


class Floor:
    """The floor's API and worker (`bench.floor`), started once, idle while the other modes run; its table and
    queue go with the run's (`Infra.cleanup`)."""

    def __init__(self, settings: Settings, infra: Infra):
        urls = [infra.database_url, infra.broker_url]
        self.port = free_port()
        module = [sys.executable, "-m", "bench.floor"]
        api = [*module, "api", *urls, "--port", str(self.port), "--threads", str(settings.web_threads)]
        worker = [*module, "worker", *urls, "--model-dir", str(settings.model_dir)]
        self.services = [
            Service(f"floor-{name}", args, {}, settings.log_dir / f"floor-{name}.log")
            for name, args in (("api", api), ("worker", worker))
        ]
        for service in self.services:
            service.start()
        wait_http(self.services[0], self.port)

    def close(self) -> None:
        for service in self.services:
            service.stop()


class Session:
    """Each round: sequential requests against the stack, then against the floor; the round with the lowest
    p50 is reported, as the throughput modes report their best round: other work on the machine only ever adds
    to a request's time."""

    def __init__(self, settings: Settings, infra: Infra, stack: Stack, progress):
        self.settings, self.infra, self.stack, self.progress = settings, infra, stack, progress
        self.rounds: list[dict] = []
        self.floor: Floor | None = None

    def round(self, index: int) -> None:
        self.progress("starting the API and the workers" if self.stack._workers is None else "API and workers up")
        self.stack.api()
        self.stack.workers()
        self.progress(f"{self.settings.sizes.latency_n} sequential requests, one text each, Prefer: wait=10")
        measured = one_round(self.settings, self.infra, self.stack, seed=41 + index)
        self.floor = self.floor or Floor(self.settings, self.infra)
        self.progress("the same requests against the floor (the stack's parts alone)")
        measured |= floor_round(self.settings, self.floor.port, seed=41 + index)
        self.rounds.append(measured)

    def result(self) -> dict:
        rounds = self.rounds
        self.infra.truncate_jobs()
        best = min(rounds, key=lambda r: r["p50"])
        return {
            **{key: value for key, value in best.items() if key != "others"},
            "rounds_p50": [r["p50"] for r in rounds],
            "rounds_over_model_p50": [r["over_model_p50"] for r in rounds],
            "rounds_floor_over_model_p50": [r["floor_over_model_p50"] for r in rounds],
            "others_cores": [r["others"] for r in rounds],
        }

    def close(self) -> None:
        if self.floor is not None:
            self.floor.close()


def over_model_p50(answers: list[Answer], times: dict[str, jobs.Times]) -> float | None:
    """What the service adds to the model in a waited call: the p50, over the calls, of each call's time (the
    client's clock) less the time its own job spent in the model (`inference_ms`, tokenization and pooling
    included, as raw's calls include them). None when no job recorded its model time."""
    spent = [a.seconds * 1000 - times[a.job_id].inference_ms for a in answers if _modelled(times.get(a.job_id))]
    return round(percentile(spent, 50), 3) if spent else None


def _modelled(job: jobs.Times | None) -> bool:
    return job is not None and job.inference_ms is not None


def breakdown(answers: list[Answer], times: dict[str, jobs.Times]) -> dict[str, float]:
    """Where a request's time goes, stage by stage (p50 of each over the requests whose job ran), from the
    client's clock and the timestamps the API and the worker wrote, all read off the same host clock:
    sent -> created: the API reads and validates the request (it stamps `created_at` before its insert);
    created -> started: the insert's commit, the message's publish and delivery, the worker's pick-up (it
    stamps `started_at` before its claim); started -> finished: the claim and the model (`model`:
    `inference_ms`), the outputs made ready (`finished_at` is stamped before the save); finished ->
    answered: the save's commit, the notification, the API's read of the job and the reply."""
    ran = [(a, times[a.job_id]) for a in answers if a.job_id in times and times[a.job_id].started is not None]

    def p50(values) -> float:
        return round(percentile(list(values), 50), 3) if ran else 0.0

    return {
        "sent_to_created_p50": p50(ms(jobs.utc(a.sent), t.created) for a, t in ran),
        "created_to_started_p50": p50(ms(t.created, t.started) for _, t in ran),
        "started_to_finished_p50": p50(ms(t.started, t.finished) for _, t in ran),
        "model_p50": p50(t.inference_ms or 0.0 for _, t in ran),
        "finished_to_answered_p50": p50(ms(t.finished, jobs.utc(a.answered)) for a, t in ran),
    }
