"""Which export of a model to run on this machine: its fp32 and int8 variants timed here, in-process.

Dynamic int8 quantization is faster than fp32 on CPUs with fast int8 dot products (VNNI, AMX) and no
faster, sometimes slower, on others, while it always costs some accuracy. So the choice is measured on
the machine that will run it, not assumed: each prepared variant of a family (catalog entries with the
same source and task, one of them quantized) runs the same fixed texts in batches, with one intra-op
thread (what a worker process uses), and the two rates and their agreement (the cosine of their
embeddings) are printed with a one-line recommendation."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from actors import runtime
from catalog.spec import ModelSpec

TEXTS = [
    "The delivery arrived two days later than promised, but the box was intact.",
    "O atendimento foi rápido e resolveu o meu problema na primeira ligação.",
    "Battery life dropped sharply after the last software update.",
    "The hotel staff were friendly and the room was spotless.",
    "Nobody explained why the flight was cancelled at the last minute.",
    "A entrega chegou antes do prazo e o produto funciona muito bem.",
    "The app keeps crashing whenever I open the settings page.",
    "Our team shipped the new release after three long weeks of testing.",
]  # a fixed set: the same work on every machine
FASTER = 1.1  # int8 must be at least this much faster to be worth its accuracy cost


@dataclass(frozen=True)
class Timing:
    name: str
    texts_per_s: float


@dataclass(frozen=True)
class Advice:
    fp32: Timing
    int8: Timing
    cosine: float  # the lowest cosine between the two variants' embeddings of the same text

    @property
    def speedup(self) -> float:
        return self.int8.texts_per_s / self.fp32.texts_per_s

    @property
    def choice(self) -> str:
        return self.int8.name if self.speedup >= FASTER else self.fp32.name

    def lines(self) -> list[str]:
        rates = [f"{t.name}: {t.texts_per_s:.0f} texts/s (one intra-op thread)" for t in (self.fp32, self.int8)]
        if self.choice == self.int8.name:
            verdict = f"int8 is {self.speedup:.2f}x faster here: use {self.int8.name}"
        else:
            verdict = f"int8 is no faster here ({self.speedup:.2f}x): use {self.fp32.name}"
        return [*rates, f"{verdict} (int8 costs accuracy: cosine >= {self.cosine:.3f})"]


def families(specs: Iterable[ModelSpec]) -> list[tuple[ModelSpec, ModelSpec]]:
    """(fp32, int8) pairs of catalog entries exported from the same source for the same task."""
    specs = list(specs)
    pairs = []
    for fp32 in (s for s in specs if not s.quantize):
        for int8 in (s for s in specs if s.quantize == "int8"):
            if (int8.source, int8.task, int8.max_length) == (fp32.source, fp32.task, fp32.max_length):
                pairs.append((fp32, int8))
    return pairs


def time_variant(path: Path, task: str, *, runs: int, batch: int = 8) -> tuple[float, np.ndarray | None]:
    """Texts per second over `runs` batches of the fixed texts (after one warm-up), and their embeddings."""
    model = runtime.load(path, intra_op_threads=1)
    texts = (TEXTS * (batch // len(TEXTS) + 1))[:batch]
    outputs = model(texts, task=task)
    started = time.perf_counter()
    for _ in range(runs):
        model(texts, task=task)
    rate = runs * len(texts) / (time.perf_counter() - started)
    vectors = [o.get("embedding") for o in outputs if isinstance(o, dict)]
    return rate, (np.asarray(vectors, dtype=np.float32) if vectors and vectors[0] is not None else None)


def advise(fp32: ModelSpec, int8: ModelSpec, models_dir: Path, *, runs: int = 20) -> Advice:
    fp32_rate, fp32_vectors = time_variant(models_dir / fp32.name, fp32.task, runs=runs)
    int8_rate, int8_vectors = time_variant(models_dir / int8.name, int8.task, runs=runs)
    return Advice(Timing(fp32.name, fp32_rate), Timing(int8.name, int8_rate), _cosine(fp32_vectors, int8_vectors))


def _cosine(a: np.ndarray | None, b: np.ndarray | None) -> float:
    if a is None or b is None or a.shape != b.shape:
        return float("nan")
    a = a.reshape(len(a), -1)
    b = b.reshape(len(b), -1)
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return float(np.min(np.sum(a * b, axis=1) / np.maximum(norms, 1e-12)))


def prepared(spec: ModelSpec, models_dir: Path) -> bool:
    return (models_dir / spec.name / "manifest.json").is_file()


def report(specs: Iterable[ModelSpec], models_dir: Path, *, only: Iterable[str] = (), runs: int = 20) -> list[str]:
    """The advice for every family with both variants prepared (and, given `only`, one of them among
    those names): the lines to print, empty when there is no such family."""
    wanted = set(only)
    lines = []
    for fp32, int8 in families(specs):
        if wanted and not wanted & {fp32.name, int8.name}:
            continue
        if prepared(fp32, models_dir) and prepared(int8, models_dir):
            lines += [
                f"{fp32.name} vs {int8.name}, timed on this machine:",
                *advise(fp32, int8, models_dir, runs=runs).lines(),
            ]
    return lines
