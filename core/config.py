"""Configuration, read from the environment once (`Config.from_env`) and passed in from there.

Each field of `Config` is declared with its `Setting`: the environment variable, how it is read and what it
means. `Config.from_env` reads through those settings and the manual's configuration page
(docs/configuration.md) is rendered from them, so the two cannot differ. `ELSEWHERE` lists the few variables
read by other programs (Dramatiq's metrics server, the client, the Kubernetes manifests).
"""

# ruff: noqa: RUF009 - the setting helpers (text, integer, ...) return dataclasses.field(...)
from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.elsewhere import ELSEWHERE
from core.errors import ConfigError
from core.readers import EMBEDDED_BROKER, api_keys, log_format, webhook_secret, with_parameters
from core.servers import Servers
from core.settings import Setting, Variable, boolean, custom, integer, read_raw, text

MAX_UPLOAD_BYTES = 200 * 1000 * 1000  # a batch input file (`POST /v1/files`): OpenAI's limit
MULTIPART_SLACK = 1 << 20  # the multipart envelope around an upload of MAX_UPLOAD_BYTES

__all__ = ["ELSEWHERE", "EMBEDDED_BROKER", "Config", "ConfigError", "Setting", "Variable", "settings"]


def _log_format(env: Mapping[str, str]) -> str:
    return log_format(env, read_raw(env, "BROKER_URL") or EMBEDDED_BROKER)


@dataclass(frozen=True)
class Config(Servers):
    """What a process is told by its environment: the servers and how each connection to them is bounded
    (`core.servers.Servers`, listed first on the configuration page), then the rest, in the order the page
    lists them."""

    data_dir: Path = text(
        "DATA_DIR", Path("var"), "where the embedded database and the prepared models live", convert=Path
    )
    models_dir: Path | None = text(
        "MODELS_DIR", None, "prepared ONNX models, one directory each", convert=Path, shown="`$DATA_DIR/models`"
    )
    catalog: Path | None = text(
        "INFERENCE_CATALOG",
        None,
        "a catalog file of your own (see [Models](models.md#the-catalog))",
        convert=Path,
        shown="the shipped `catalog/catalog.toml`",
    )
    default_model: str | None = text(
        "DEFAULT_MODEL", None, "the model of requests that name none", shown="the catalog's `default`"
    )
    preload_models: str = text(
        "PRELOAD_MODELS",
        "",
        "models a worker loads at start: `all`, `none` or `a,b`; any other on first use",
        shown="the default model",
    )
    host: str = text("HOST", "127.0.0.1", "the interface `serve` listens on (`--host` wins)")
    port: int = integer("PORT", 8000, "the port `serve` listens on (`--port` wins)")
    web_threads: int = integer(
        "WEB_THREADS",
        48,
        "waitress threads; all but two may wait for results at once (see [Waiting](api.md#waiting))",
    )
    worker_threads: int = integer(
        "WORKER_THREADS", 64, "in-process worker threads (embedded mode): jobs in flight, batched together"
    )
    ort_threads: int = integer(
        "ORT_THREADS", 1, "ONNX Runtime intra-op threads per worker process (scale with processes, not threads)"
    )
    worker_nice: int = integer(
        "WORKER_NICE",
        10,
        "CPU priority the worker processes give up (`nice`, 0 to 19) so that on a shared host the API, "
        "PostgreSQL and RabbitMQ answer first; `0` keeps the default priority",
        minimum=0,
        maximum=19,
    )
    bulk_nice: int = integer(
        "BULK_NICE",
        19,
        "CPU priority of each worker process' bulk-lane threads (`nice`, 0 to 19, per thread on Linux; never "
        "below WORKER_NICE): a batch's runs take only the CPU that interactive requests, the API, PostgreSQL "
        "and RabbitMQ leave idle, and the whole machine when nothing else runs",
        minimum=0,
        maximum=19,
    )
    max_body_bytes: int = integer(
        "MAX_BODY_BYTES",
        1 << 20,
        "larger JSON bodies get the JSON 413 (the server takes bodies up to the size of a batch file upload, "
        "200 MB, spooling past 512 KiB to a temporary file, and closes the connection beyond)",
    )
    max_inputs: int = integer("MAX_INPUTS", 64, "inputs per request")
    max_input_chars: int = integer("MAX_INPUT_CHARS", 20_000, "characters per input")
    max_generated_tokens: int = integer(
        "MAX_GENERATED_TOKENS",
        1280,
        "new tokens a text-generation job may ask for, its inputs times `max_new_tokens`; more is refused with "
        "422. A decoder makes one ONNX run a new token and reads all its weights in each: for a small model "
        "such as distilgpt2 (82M parameters, 330 MB in float32) that is some tens of milliseconds on one core, "
        "so the default (`MAX_INPUTS` at the default `max_new_tokens` of 20, or 2 inputs of 512) takes about "
        "half the default `BATCH_TIMEOUT` and leaves the rest for the prompts' own runs. A job alone that "
        "still outruns `BATCH_TIMEOUT` fails (`time_limit`); raise both together, or this one for a smaller "
        "or int8 model (see [API](api.md#jobs))",
    )
    max_json_depth: int = integer(
        "MAX_JSON_DEPTH",
        32,
        'arrays and objects nested deeper are refused with 422 (at least 3: `{"inputs": {"sentences": []}}`)',
        minimum=3,
    )
    max_json_nodes: int = integer(
        "MAX_JSON_NODES",
        10_000,
        "JSON values (objects, arrays, strings, numbers, literals) a body may hold; more is refused with 413 "
        "before anything is built from it (see [Security](security.md#hostile-input))",
        minimum=4,
    )
    max_backlog: int = integer(
        "MAX_BACKLOG", 10_000, "queued jobs per model before `POST` answers 429 with `Retry-After`"
    )
    api_keys: tuple[str, ...] = custom(
        ("API_KEYS", "API_KEYS_FILE"),
        (),
        "API keys: comma-separated in `API_KEYS`, one a line in the file `API_KEYS_FILE` (blank lines and `#` "
        "comments ignored: a mounted Secret); both may be set (see [Security](security.md#api-keys))",
        api_keys,
        shown="none: the API is open",
        secret=True,
    )
    key_rps: int = integer(
        "KEY_RPS",
        500,
        "requests per second an API key may send to each API process (a token bucket holding one second of "
        "them); `0`: no limit; a key's own value in the keys file wins (see [Security](security.md#per-key-limits))",
        minimum=0,
    )
    key_backlog: int = integer(
        "KEY_BACKLOG",
        5_000,
        "queued jobs an API key may have before its `POST` answers 429; `0`: no limit; a key's own value wins",
        minimum=0,
    )
    key_waits: int = integer(
        "KEY_WAITS",
        16,
        "requests of one API key that may wait for results at once; past that they are answered at once; "
        "`0`: no limit; a key's own value wins",
        minimum=0,
    )
    allow_open: bool = boolean(
        "ALLOW_OPEN",
        "`true` lets `serve` listen on an address other than loopback without API keys (an open API); "
        "without it, it refuses to start",
    )
    sweep_after: int = integer(
        "SWEEP_AFTER",
        120,
        "seconds a job may stay queued (since its last re-send) before the sweeper looks at it "
        "(see [Reliability](reliability.md#the-sweeper))",
    )
    sweep_max: int = integer("SWEEP_MAX", 3, "counted re-sends before the sweeper fails a job as lost", minimum=0)
    sweep_every: int = integer(
        "SWEEP_EVERY",
        10,
        "seconds between sweeps of the embedded mode's sweeper thread (`inference-api sweep --every N` elsewhere)",
    )
    heartbeat_seconds: int = integer(
        "HEARTBEAT_SECONDS",
        10,
        "how often each worker process records its loaded models in the database; it counts as gone three "
        "beats after its last (see [Models](models.md#prepared-and-ready))",
    )
    lease_seconds: int = integer(
        "LEASE_SECONDS",
        30,
        "a running job's lease, renewed by its worker every third of it; the sweeper sends the job again "
        "once it has expired",
        minimum=3,
    )
    batch_timeout: int = integer(
        "BATCH_TIMEOUT", 120, "seconds a batch may run; the jobs it has not reached by then are retried"
    )
    stall_seconds: int = integer(
        "STALL_SECONDS",
        45,
        "a worker process whose batcher or writer has had work this long without a step (a claim, an ONNX run, "
        "a save: blocked on a silent socket) stops its liveness beat, and `inference-api worker-alive` fails "
        "(see [Reliability](reliability.md#liveness))",
    )
    drain_seconds: int = integer(
        "DRAIN_SECONDS",
        20,
        "on SIGTERM, how long `serve` lets the requests in flight finish; waiting requests are woken at once "
        "and answer the job as it stands",
        minimum=0,
    )
    metrics_port: int = integer(
        "METRICS_PORT",
        0,
        "serve `/metrics` on this port of its own (same interface), and not on the API's port; `0`: on the API's port",
        minimum=0,
        maximum=65535,
    )
    result_ttl: int = integer(
        "RESULT_TTL",
        7 * 24 * 3600,
        "seconds a finished job keeps its inputs, output and idempotency key (7 days); `0` keeps them for ever",
        minimum=0,
    )
    purge_every: int = integer(
        "PURGE_EVERY",
        3600,
        "seconds between purges of the embedded mode's purge thread (elsewhere: `inference-api purge`)",
    )
    webhook_secret: str = custom(
        ("WEBHOOK_SECRET",),
        "",
        'signs webhooks: `whsec_` and 24 to 64 random bytes in base64 (`"whsec_" + base64(os.urandom(32))`)',
        webhook_secret,
        shown="none: webhooks off",
        secret=True,
    )
    webhook_allow_private: bool = boolean(
        "WEBHOOK_ALLOW_PRIVATE",
        "`true` lets webhooks go to private and loopback addresses, and over plain http (tests, development)",
    )
    webhook_timeout: int = integer(
        "WEBHOOK_TIMEOUT",
        5,
        "seconds a webhook delivery attempt may take in all (resolving, connecting, sending, the answer's "
        "headers); a slower receiver's attempt fails and is retried",
        maximum=25,
    )
    log_level: str = text("LOG_LEVEL", "INFO", "`DEBUG`, `INFO`, `WARNING` or `ERROR`", convert=str.upper)
    log_format: str = custom(
        ("LOG_FORMAT",),
        "json",
        "`json` (one JSON object a line) or `text`",
        _log_format,
        shown="`json`; `text` in the embedded mode",
    )
    worker_heartbeat_dir: Path = text(
        "WORKER_HEARTBEAT_DIR",
        Path("/tmp/inference-api/heartbeats"),
        "where worker processes beat, one file each; `inference-api worker-alive` reads it",
        convert=Path,
    )
    build_commit: str = text("BUILD_COMMIT", "unknown", "the commit `inference_api_build_info` shows")

    @property
    def database(self) -> str:
        """The database URL; PostgreSQL's carries the connection bounds (`DB_*`) the URL does not set itself."""
        url = self.database_url or f"sqlite:///{self.data_dir / 'inference.db'}"
        return with_parameters(url, self.database_bounds) if url.startswith("postgres") else url

    @property
    def max_body_hard_cap(self) -> int:
        """Bodies up to this size are taken by the server (waitress), which buffers past 512 KiB in a
        temporary file, not in memory: a batch file upload, and any JSON body up to it, which the app then
        refuses with the JSON 413 beyond MAX_BODY_BYTES. Only beyond this does the server close the
        connection."""
        return max(4 * self.max_body_bytes, MAX_UPLOAD_BYTES + MULTIPART_SLACK)

    @property
    def models_path(self) -> Path:
        return self.models_dir or self.data_dir / "models"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Config:
        """Every field from its setting; the first unusable variable is a ConfigError naming it."""
        env = os.environ if env is None else env
        return cls(**{f.name: setting.read(env, f.default) for f, setting in _fields(cls)})


def _fields(cls: type) -> list[tuple[dataclasses.Field, Setting]]:
    return [(f, f.metadata["setting"]) for f in dataclasses.fields(cls) if "setting" in f.metadata]


def settings() -> list[tuple[str, Setting, Any]]:
    """(field name, setting, default) of every `Config` field, in declaration order: the configuration page."""
    return [(f.name, setting, f.default) for f, setting in _fields(Config)]
