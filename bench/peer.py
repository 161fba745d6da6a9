"""peer: the synchronous calls a user compares, against this service and against infinity-emb, the in-memory
embedding server they would otherwise run, in the same round with the same client.

Each round, back to back (which side goes first alternates by repeat): `CALL_CLIENTS` keep-alive clients
(`bench.client.load`) each POST one text and wait for its embedding; the stack gets OpenAI's body on
`POST /v1/embeddings` (it waits for its job in the call), infinity-emb the same body on `POST /embeddings`.
Both sides send the same texts. Calls/s (answered with 200), p50 and p99 are recorded for each side, and the
cores other work kept busy meanwhile; `bench.peer_figures` pairs the two sides per repeat.

infinity-emb is not a dependency of this project: it is installed by hand in a venv of its own
(bench/README.md) and found through `Settings.peer` (`BENCH_PEER`, or `infinity_emb` on PATH). It is started
once, on the mode's first turn, as a user would run it (`v2 --engine torch`, its defaults otherwise: batch size,
warm-up, log level), at the same CPU priority as ours, and stopped in `close()`. Without it, the mode runs
nothing and its result says the peer is not installed; the run goes on."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from bench import client
from bench.calls import CALL_CLIENTS, measured
from bench.infra import Infra
from bench.seed import model_path
from bench.settings import Settings
from bench.stack import Stack
from bench.stats import summary
from bench.texts import texts
from harness.processes import Service, wait_http
from harness.servers import free_port

NAME = "infinity-emb"
READY_TIMEOUT = 300.0  # importing torch, loading the model and its own warm-up: 15 to 40 s on 2 idle cores
WARMUP_CALLS = 2 * CALL_CLIENTS  # untimed calls to each side before the first round, other texts than the rounds'
OURS, PEER = "/v1/embeddings", "/embeddings"
# Offline: the model is a local folder, and nothing else needs the network (no Hub lookups, no telemetry).
ENVIRONMENT = {"HF_HUB_OFFLINE": "1", "DO_NOT_TRACK": "1"}


def executable(setting: str) -> str | None:
    """The peer's executable: `setting` as a path, or as a name on PATH; None when it is not installed."""
    return shutil.which(setting)


VERSIONS_CODE = """import importlib.metadata as m, json, sys
def version(name):
    try:
        return m.version(name)
    except m.PackageNotFoundError:
        return None
print(json.dumps({name: version(name) for name in sys.argv[1:]}))"""


def versions(path: str) -> dict[str, str | None]:
    """infinity-emb's and torch's versions, asked of the Python that runs the executable (its `#!` line;
    without one, the `python` beside it)."""
    found = dict.fromkeys(("infinity_emb", "torch"))
    script = Path(path).resolve()
    try:
        with script.open("rb") as file:
            first = file.readline(512).decode().strip()
    except (OSError, UnicodeDecodeError):
        return found
    python = first[2:].split() if first.startswith("#!") else [str(script.parent / "python")]
    try:
        done = subprocess.run(
            [*python, "-c", VERSIONS_CODE, *found], capture_output=True, text=True, timeout=60, check=True
        )
        return {**found, **json.loads(done.stdout)}
    except (OSError, subprocess.SubprocessError, ValueError):
        return found


def server(path: str, port: int, log: Path) -> Service:
    """`infinity_emb v2` serving the fp32 all-MiniLM-L6-v2 the catalog prepares its models from (not started)."""
    args = [path, "v2", "--model-id", model_path(), "--engine", "torch", "--host", "127.0.0.1", "--port", str(port)]
    return Service(NAME, args, ENVIRONMENT, log)


def served_model(port: int) -> str:
    """The id infinity-emb serves the model under (`GET /models`), the `model` of its requests."""
    connection = client.Connection(port)
    try:
        reply = connection.request("GET", "/models")
    finally:
        connection.close()
    if reply.status != 200 or not reply.json().get("data"):
        raise RuntimeError(f"{NAME}: GET /models answered {reply.status}: {reply.body[:200]!r}")
    return reply.json()["data"][0]["id"]


def bodies(model: str, lines: list[str]) -> list[bytes]:
    """OpenAI's embeddings body, one text each."""
    return [json.dumps({"model": model, "input": text}).encode() for text in lines]


class Session:
    """Each round: the same calls from `CALL_CLIENTS` clients against the stack, then infinity-emb (or the
    other way round, by repeat)."""

    seed = 67  # the rounds' texts: seed + index; the warm-up's: seed - 1

    def __init__(self, settings: Settings, infra: Infra, stack: Stack, progress):
        self.settings, self.infra, self.stack, self.progress = settings, infra, stack, progress
        self.executable = executable(settings.peer)
        self.versions: dict[str, str | None] = {}
        self.service: Service | None = None
        self.port, self.model = 0, ""
        self.rounds: list[dict] = []

    @property
    def missing(self) -> str:
        return f"{NAME} is not installed (no executable {self.settings.peer!r}: set BENCH_PEER, see bench/README.md)"

    def round(self, index: int) -> None:
        if self.executable is None:
            self.progress(f"{self.missing}: not measured")
            return
        if self.service is None:
            self.start()
        stack = self.stack
        self.progress("starting the API and the workers" if stack._workers is None else "API and workers up")
        stack.api()
        stack.workers()
        self.service.alive()
        lines = texts(self.settings.sizes.e2e_n, seed=self.seed + index)
        if not self.rounds:
            self.warm_up()
        first = "ours" if index % 2 == 0 else "peer"  # neither side always runs on the warmer machine
        self.progress(f"{len(lines)} calls from {CALL_CLIENTS} clients to each, {first} first")
        done = {}
        for name in (first, "peer" if first == "ours" else "ours"):
            if name == "ours":
                self.infra.truncate_jobs()
                done[name] = measured(stack.port, OURS, bodies(self.settings.model, lines), self.settings.settle)
            else:
                done[name] = measured(self.port, PEER, bodies(self.model, lines), self.settings.settle)
        self.rounds.append({**done, "first": first})

    def start(self) -> None:
        self.versions = versions(self.executable)
        self.port = free_port()
        self.progress(f"starting {NAME} {self.versions.get('infinity_emb') or '?'} ({self.executable})")
        self.service = server(self.executable, self.port, self.settings.log_dir / "peer.log").start()
        wait_http(self.service, self.port, "/models", timeout=READY_TIMEOUT)
        self.model = served_model(self.port)

    def warm_up(self) -> None:
        """A few untimed calls to each side: connections, caches and threads as in a server already serving."""
        lines = texts(WARMUP_CALLS, seed=self.seed - 1)
        client.load(self.stack.port, OURS, bodies(self.settings.model, lines), CALL_CLIENTS)
        client.load(self.port, PEER, bodies(self.model, lines), CALL_CLIENTS)

    def result(self) -> dict:
        if self.executable is None:
            return {
                "installed": False,
                "note": self.missing,
                "peer": self.settings.peer,
                "throughput": None,
                "unit": f"calls/s answered by {NAME}",
                "rounds": [],
                "others_cores": [],
            }
        self.infra.truncate_jobs()
        peer, ours = [r["peer"] for r in self.rounds], [r["ours"] for r in self.rounds]
        return {
            "installed": True,
            "peer": self.executable,
            "version": self.versions,
            "peer_model": self.model,
            "model": self.settings.model,
            "clients": CALL_CLIENTS,
            **figures(peer),
            "unit": f"calls/s answered by {NAME}",
            "ours": {**figures(ours), "unit": f"calls/s answered by {OURS}"},
            "detail": self.rounds,
        }

    def close(self) -> None:
        if self.service is not None:
            self.service.stop()  # SIGTERM, then SIGKILL after a bound
            self.service = None


def figures(rounds: list[dict]) -> dict:
    """One side's figures: the best round's calls/s and latencies, every round's calls/s and p50."""
    chosen = max(rounds, key=lambda r: r["throughput"])
    return {
        **summary(rounds),
        "rounds_p50": [r["call_ms"]["p50"] for r in rounds],
        "not_answered": sum(r["not_answered"] for r in rounds),
        "call_ms": chosen["call_ms"],
    }
