"""What one run measures: the model, the process and thread counts, and how much work each mode does."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from core.config import Config

MODES = ("raw", "seed", "worker", "latency", "e2e", "calls")
MODES += ("peer",)  # the same calls against infinity-emb, when installed: bench/peer.py
MODES += ("ingest",)
MODES += ("bulk",)  # a batch beside interactive requests: bench/bulk.py
MODES += ("flood", "fairness")  # two tenants (API keys) sharing the model: bench/flood.py, bench/fairness.py
TENANT_MODES = ("flood", "fairness")
# what runs unless --modes says otherwise: every mode but the peer, which serves the fp32 model only
DEFAULT_MODES = tuple(m for m in MODES if m != "peer")
# what `make bench` runs for its second model (the fp32 one, as the peer serves it): the others measure the
# API and the lanes, not the model
MODEL_MODES = tuple(m for m in MODES if m not in ("bulk", *TENANT_MODES))
ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Sizes:
    """How much work each mode does in a round. `repeats`: how many times every mode runs one round, the
    modes taking turns (raw, seed, worker, ... then raw again), so the two sides of a ratio see the same
    phase of the host; each ratio is the median of its per-repeat pairs."""

    raw_seconds: float  # per round, per process
    raw_single: int  # one-text calls for raw_single, per round
    seed_n: int  # messages per round
    worker_n: int  # jobs per round (each round boots the workers anew)
    latency_n: int  # sequential requests per round
    e2e_n: int  # POSTs per round (calls too)
    ingest_n: int  # POSTs per round, to the API and to the hello-world each
    repeats: int
    bulk_lines: int = 50_000  # the bulk mode's batch (one a run, in its first repeat)
    bulk_idle_seconds: float = 15.0  # its paced interactive requests at idle, and again while the batch runs


PRESETS = {
    # a check that every mode runs and reports, for the test suite: seconds, not minutes
    "tiny": Sizes(0.5, 20, 4, 24, 5, 24, 60, repeats=1),
    # every mode in about 5 minutes on 2 cores
    "quick": Sizes(2.5, 200, 100, 1500, 150, 1000, 1000, repeats=4),
    # the default: longer rounds, more repeats
    "full": Sizes(10.0, 600, 400, 8000, 500, 6000, 4000, repeats=5),
}


@dataclass(frozen=True)
class TenantSizes:
    """How much work the two-tenant modes do. Their rounds run in the first `*_rounds` repeats only."""

    flood_seconds: float  # each of B's two phases: alone, then under A's flood
    flood_rate: float  # B's paced requests a second
    flood_clients: int  # A's posting clients (besides its waiting ones)
    flood_a_rate: float  # A's POSTs a second between them, answered or not: ten times its `rps`
    flood_rounds: int
    batch_lines: int  # A's batch
    small_batch_lines: int  # B's batch, created once A's is in progress
    fairness_rounds: int = 1


TENANT_PRESETS = {
    "tiny": TenantSizes(2.0, 10.0, 4, 500.0, 1, 300, 10),
    "quick": TenantSizes(15.0, 10.0, 16, 500.0, 2, 20_000, 10),
    "full": TenantSizes(30.0, 10.0, 32, 500.0, 3, 50_000, 10),
}
PRESETS["tiny"] = replace(PRESETS["tiny"], bulk_lines=500, bulk_idle_seconds=1.0)
OVERRIDABLE = {"raw": "raw_seconds", "seed": "seed_n", "worker": "worker_n", "latency": "latency_n"}
OVERRIDABLE |= {"e2e": "e2e_n", "ingest": "ingest_n", "single": "raw_single"}
OVERRIDABLE |= {"bulk": "bulk_lines"}


def procfile_threads(path: Path = ROOT / "Procfile", default: int = 2) -> int:
    """Worker threads as the deployment runs them (the Procfile's `worker:` line), so we measure that."""
    try:
        for line in path.read_text().splitlines():
            if line.startswith("worker:") and (found := re.search(r"--threads\s+(\d+)", line)):
                return int(found.group(1))
    except OSError:
        pass
    return default


@dataclass(frozen=True)
class Settings:
    model: str = "all-MiniLM-L6-v2-int8"
    models_dir: Path = ROOT / "var" / "models"
    processes: int = field(default_factory=lambda: os.cpu_count() or 1)  # worker and raw processes: one per core
    worker_threads: int = field(default_factory=procfile_threads)
    web_threads: int = field(default_factory=lambda: Config().web_threads)  # as `inference-api serve` defaults
    clients: int = 4  # concurrent HTTP clients in e2e: a few
    ingest_clients: int | None = None  # ingest: None = one per waitress thread, so every thread has work
    postgres_url: str = "postgresql://postgres@127.0.0.1:5432/test"  # an admin connection, to create ours
    rabbitmq_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    database: str = "inference_api_bench"
    vhost: str = "inference_api_bench"
    log_dir: Path = ROOT / "var" / "bench" / "logs"
    settle: float | None = None  # wait (up to 30 s) before each round until other work uses <= this many cores
    preset: str = "full"
    sizes: Sizes = PRESETS["full"]
    modes: tuple[str, ...] = DEFAULT_MODES
    # the peer mode's server: the `infinity_emb` executable (a path, or a name on PATH), in a venv of its own
    peer: str = field(default_factory=lambda: os.environ.get("BENCH_PEER") or "infinity_emb")

    @property
    def model_dir(self) -> Path:
        return self.models_dir / self.model

    @property
    def tenants(self) -> TenantSizes:
        return TENANT_PRESETS[self.preset]

    @property
    def ingest_concurrency(self) -> int:
        return self.ingest_clients or self.web_threads

    def spec(self):
        """The model's catalog entry (the catalog the workers read: INFERENCE_CATALOG or the shipped one)."""
        from catalog import Catalog

        spec = Catalog.from_config(Config.from_env()).get(self.model)
        if spec is None:
            raise ValueError(f"model {self.model!r} is not in the catalog")
        return spec

    def with_overrides(self, overrides: list[str]) -> Settings:
        """`--n worker=5000 --n raw=6`: replace one mode's size (raw: seconds per round)."""
        sizes = self.sizes
        for item in overrides:
            name, _, value = item.partition("=")
            if name not in OVERRIDABLE or not value:
                raise ValueError(f"--n {item!r}: use MODE=NUMBER with MODE one of {', '.join(OVERRIDABLE)}")
            kind = float if name == "raw" else int
            sizes = replace(sizes, **{OVERRIDABLE[name]: kind(value)})
        return replace(self, sizes=sizes)
