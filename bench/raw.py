"""raw: the limit. ONNX Runtime called in-process on the prepared model (`actors.runtime.load`, one
intra-op thread), on batches of the catalog's `max_batch_size` texts, tokenization and pooling included,
in as many processes as the workers run. Also `raw_single`: one text, one call, at idle."""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import time
from pathlib import Path

from bench.noise import Meter, settle
from bench.settings import Settings
from bench.stats import best, latency_ms
from bench.texts import texts
from harness.processes import memory_mb

TIMEOUT = 120.0  # seconds any one step may take before we call the run broken
IDLE = 3600.0  # how long a child waits for its next round while the other modes take their turns
SINGLE_WARMUP = 5


def _child(index, model_dir, task, batches, singles, seconds, rounds, barrier, results) -> None:
    from actors import runtime  # in the child only: the harness process never loads onnxruntime

    model = runtime.load(Path(model_dir), intra_op_threads=1)
    for batch in batches[:2]:
        model(batch, task=task)  # warm-up: first runs allocate
    for round_ in range(rounds):
        barrier.wait(IDLE)  # the other modes take their turns meanwhile
        seconds_per_batch, texts_done, i = [], 0, index
        meter = Meter(root=os.getppid()).__enter__() if index == 0 else None  # the harness's whole tree is ours
        started, cpu = time.monotonic(), time.process_time()
        while time.monotonic() - started < seconds:
            batch = batches[i % len(batches)]
            t0 = time.perf_counter()
            model(batch, task=task)
            seconds_per_batch.append(time.perf_counter() - t0)
            texts_done += len(batch)
            i += 1
        cores = meter.stop() if meter else None
        cpu = time.process_time() - cpu
        results.put(("round", index, round_, started, time.monotonic(), texts_done, seconds_per_batch, cores, cpu))
        barrier.wait(TIMEOUT)
        if index == 0:  # the others are idle now: one text, one call, as a lone request would get
            results.put(("single", index, round_, _singles(model, singles, task)))
    barrier.wait(IDLE)
    results.put(("memory", index, memory_mb(os.getpid())))
    barrier.wait(TIMEOUT)


def _singles(model, singles: list[str], task: str) -> list[float]:
    took = []
    for k, text in enumerate(singles):
        t0 = time.perf_counter()
        model([text], task=task)
        if k >= SINGLE_WARMUP:
            took.append(time.perf_counter() - t0)
    return took


class Session:
    """The raw processes, started once and kept (idle) while the other modes take their turns; each
    `round()` is one timed round in every process at once, then the single-text calls."""

    def __init__(self, settings: Settings, infra, stack, progress):
        spec = settings.spec()
        self.settings, self.size, sizes = settings, spec.max_batch_size, settings.sizes
        pool = texts(max(self.size * 64, 2048), seed=11)
        batches = [pool[i : i + self.size] for i in range(0, len(pool) - self.size + 1, self.size)]
        singles = texts(sizes.raw_single + SINGLE_WARMUP, seed=12)
        progress(
            f"{settings.processes} processes x 1 intra-op thread, batches of {self.size}, "
            f"rounds of {sizes.raw_seconds:g} s, then {sizes.raw_single} single-text calls"
        )
        context = mp.get_context("spawn")
        self.barrier, self.results = context.Barrier(settings.processes + 1), context.Queue()  # the children and us
        args = (str(settings.model_dir), spec.task, batches, singles, sizes.raw_seconds, sizes.repeats)
        args += (self.barrier, self.results)
        self.children = [
            context.Process(target=_child, args=(i, *args), daemon=True) for i in range(settings.processes)
        ]
        self.messages: list[tuple] = []
        self.rounds = 0
        for child in self.children:
            child.start()

    def round(self, index: int) -> None:
        settle(self.settings.settle)
        self.barrier.wait(TIMEOUT)  # the round starts in every child at once
        self.messages += _collect(self.results, self.children, self.settings.processes)
        self.barrier.wait(TIMEOUT)  # raw_single
        self.messages += _collect(self.results, self.children, 1)
        self.rounds += 1

    def result(self) -> dict:
        self.barrier.wait(TIMEOUT)  # each child's memory
        self.messages += _collect(self.results, self.children, self.settings.processes)
        self.barrier.wait(TIMEOUT)
        for child in self.children:
            child.join(TIMEOUT)
        return summarize(self.messages, self.settings.processes, self.rounds, self.size)

    def close(self) -> None:
        for child in self.children:
            if child.is_alive():
                child.terminate()
                child.join(5)


def _collect(results, children, count: int) -> list[tuple]:
    got = []
    while len(got) < count:
        try:
            got.append(results.get(timeout=1.0))
        except queue.Empty:
            dead = [c for c in children if c.exitcode is not None]
            if dead:
                raise RuntimeError(f"raw: a child process exited with {dead[0].exitcode}") from None
    return got


def summarize(messages: list[tuple], processes: int, rounds: int, size: int) -> dict:
    per_round, batch_seconds, cores, cpu, done = [], [], [], 0.0, 0
    for round_ in range(rounds):
        parts = [m for m in messages if m[0] == "round" and m[2] == round_]
        span = max(m[4] for m in parts) - min(m[3] for m in parts)
        per_round.append(sum(m[5] for m in parts) / span)
        batch_seconds += [s for m in parts for s in m[6]]
        cores += [m[7] for m in parts if m[7] is not None]
        cpu += sum(m[8] for m in parts)
        done += sum(m[5] for m in parts)
    singles = [m[3] for m in sorted((m for m in messages if m[0] == "single"), key=lambda m: m[2])]
    memory = [m[2] for m in sorted((m for m in messages if m[0] == "memory"), key=lambda m: m[1])]
    return {
        "throughput": round(best(per_round), 1),
        "unit": "texts/s",
        "rounds": [round(r, 1) for r in per_round],
        "others_cores": [c["others"] for c in cores],
        "processes": processes,
        "intra_op_threads": 1,
        "batch_size": size,
        "batch_ms": latency_ms(batch_seconds),
        "single_ms": latency_ms([s for took in singles for s in took]),
        "rounds_single_p50": [latency_ms(took)["p50"] for took in singles],  # paired with latency's rounds
        "cpu_ms_per_text": round(1000 * cpu / done, 3) if done else None,  # what the model itself costs
        "rss_mb": memory,
    }
