"""Configuration, read from the environment once (`Config.from_env`) and passed in from there."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

EMBEDDED_BROKER = "stub://"


class ConfigError(ValueError):
    """An environment variable holds a value we cannot use."""


@dataclass(frozen=True)
class Config:
    data_dir: Path = Path("var")
    database_url: str = ""  # empty: SQLite file in data_dir
    broker_url: str = EMBEDDED_BROKER  # stub:// = in-process StubBroker (embedded mode)
    models_dir: Path | None = None  # None: data_dir / "models"
    catalog: Path | None = None  # None: the catalog shipped in the package (actors/catalog.toml)
    default_model: str | None = None  # None: the catalog's `default`
    host: str = "127.0.0.1"
    port: int = 8000
    web_threads: int = 48  # waitress threads; all but two may wait for results (Prefer: wait): 46 callers at once
    worker_threads: int = 64  # in-process worker threads (embedded mode): jobs in flight, batched together
    ort_threads: int = 1  # ONNX Runtime intra-op threads per worker process
    worker_nice: int = 10  # CPU priority given up by worker processes (0 to 19): the API and servers answer first
    preload_models: str = ""  # "": the default model; "all": every prepared one; "none"; or "a,b"
    max_body_bytes: int = 1 << 20
    max_inputs: int = 64
    max_input_chars: int = 20_000
    max_json_depth: int = 32  # arrays and objects nested deeper get 422
    max_backlog: int = 10_000  # queued jobs per model before POST answers 429
    sweep_after: int = 120  # seconds a job may stay queued (or, since its last re-send) before it is re-sent
    sweep_max: int = 3  # re-sends before a job is failed as lost
    sweep_every: int = 10  # seconds between sweeps of the embedded mode's sweeper thread
    heartbeat_seconds: int = 10  # how often a worker process records its loaded models in the database
    lease_seconds: int = 30  # a running job's lease; its worker renews it every third of that
    batch_timeout: int = 120  # seconds a batch may run; jobs it has not reached by then are retried
    statement_timeout_ms: int = 30_000  # PostgreSQL statement_timeout of every connection; 0: none
    broker_send_timeout: int = 5  # seconds a publish may wait on a broker that blocks publishers
    drain_seconds: int = 20  # on SIGTERM, how long `serve` waits for the requests in flight
    api_keys: tuple[str, ...] = field(default=(), repr=False)  # empty: the API is open (the embedded default)
    result_ttl: int = 7 * 24 * 3600  # seconds a finished job keeps its inputs and output (0: for ever)
    purge_every: int = 3600  # seconds between purges of the embedded mode's purge thread
    webhook_secret: str = field(default="", repr=False)  # whsec_... (base64): signs webhooks; empty: no webhooks
    webhook_allow_private: bool = False  # deliver to private/loopback addresses and plain http (tests, dev)
    log_level: str = "INFO"
    log_format: str = "json"  # json (one JSON object a line) or text; from_env defaults to text when embedded
    worker_heartbeat_dir: Path = Path("/tmp/inference-api/heartbeats")  # worker liveness files, one per process
    build_commit: str = "unknown"  # shown by inference_api_build_info

    @property
    def embedded(self) -> bool:
        return self.broker_url == EMBEDDED_BROKER

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'inference.db'}"

    @property
    def max_body_hard_cap(self) -> int:
        """Bodies up to this size are read and refused with the JSON 413; only beyond it does the server
        (waitress) close the connection."""
        return max(4 * self.max_body_bytes, 1 << 20)

    @property
    def models_path(self) -> Path:
        return self.models_dir or self.data_dir / "models"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Config:
        env = os.environ if env is None else env
        defaults = cls()
        read = _Reader(env)
        text, integer, boolean = read.text, read.integer, read.boolean
        broker_url = _url("BROKER_URL", text("BROKER_URL", EMBEDDED_BROKER), ("amqp://", "amqps://"), EMBEDDED_BROKER)
        database_url = _url("DATABASE_URL", text("DATABASE_URL", ""), ("sqlite://", "postgres://", "postgresql://"), "")
        models_dir = text("MODELS_DIR", "")
        return cls(
            data_dir=Path(text("DATA_DIR", str(defaults.data_dir))),
            database_url=database_url,
            broker_url=broker_url,
            models_dir=Path(models_dir) if models_dir else None,
            catalog=Path(catalog) if (catalog := text("INFERENCE_CATALOG", "")) else None,
            default_model=text("DEFAULT_MODEL", "") or None,
            host=text("HOST", defaults.host),
            port=integer("PORT", defaults.port),
            web_threads=integer("WEB_THREADS", defaults.web_threads),
            worker_threads=integer("WORKER_THREADS", defaults.worker_threads),
            ort_threads=integer("ORT_THREADS", defaults.ort_threads),
            worker_nice=integer("WORKER_NICE", defaults.worker_nice, minimum=0, maximum=19),
            preload_models=text("PRELOAD_MODELS", ""),
            max_body_bytes=integer("MAX_BODY_BYTES", defaults.max_body_bytes),
            max_inputs=integer("MAX_INPUTS", defaults.max_inputs),
            max_input_chars=integer("MAX_INPUT_CHARS", defaults.max_input_chars),
            max_json_depth=integer(
                "MAX_JSON_DEPTH", defaults.max_json_depth, minimum=3
            ),  # {"inputs": {"sentences": []}}
            max_backlog=integer("MAX_BACKLOG", defaults.max_backlog),
            sweep_after=integer("SWEEP_AFTER", defaults.sweep_after),
            sweep_max=integer("SWEEP_MAX", defaults.sweep_max, minimum=0),
            sweep_every=integer("SWEEP_EVERY", defaults.sweep_every),
            heartbeat_seconds=integer("HEARTBEAT_SECONDS", defaults.heartbeat_seconds),
            lease_seconds=integer("LEASE_SECONDS", defaults.lease_seconds, minimum=3),
            batch_timeout=integer("BATCH_TIMEOUT", defaults.batch_timeout),
            statement_timeout_ms=integer("STATEMENT_TIMEOUT_MS", defaults.statement_timeout_ms, minimum=0),
            broker_send_timeout=integer("BROKER_SEND_TIMEOUT", defaults.broker_send_timeout),
            drain_seconds=integer("DRAIN_SECONDS", defaults.drain_seconds, minimum=0),
            api_keys=api_keys(env),
            result_ttl=integer("RESULT_TTL", defaults.result_ttl, minimum=0),
            purge_every=integer("PURGE_EVERY", defaults.purge_every),
            webhook_secret=webhook_secret(env),
            webhook_allow_private=boolean("WEBHOOK_ALLOW_PRIVATE"),
            log_level=text("LOG_LEVEL", defaults.log_level).upper(),
            log_format=log_format(env, broker_url),
            worker_heartbeat_dir=Path(text("WORKER_HEARTBEAT_DIR", str(defaults.worker_heartbeat_dir))),
            build_commit=text("BUILD_COMMIT", defaults.build_commit),
        )


class _Reader:
    """Typed reads of the environment; every error names the variable."""

    def __init__(self, env: Mapping[str, str]):
        self.env = env

    def text(self, name: str, default: str) -> str:
        return self.env.get(name, "").strip() or default

    def integer(self, name: str, default: int, minimum: int = 1, maximum: int | None = None) -> int:
        raw = self.env.get(name, "").strip()
        if not raw:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
        if value < minimum:
            raise ConfigError(f"{name} must be >= {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise ConfigError(f"{name} must be <= {maximum}, got {value}")
        return value

    def boolean(self, name: str) -> bool:
        """1/0, true/false, yes/no, on/off; unset or empty is false."""
        raw = self.env.get(name, "").strip().lower()
        if raw in ("", "0", "false", "no", "off"):
            return False
        if raw in ("1", "true", "yes", "on"):
            return True
        raise ConfigError(f"{name} must be true or false (1/0, yes/no), got {raw!r}")


def _url(name: str, value: str, schemes: tuple[str, ...], allowed: str) -> str:
    """`value` when it is `allowed` (the default) or starts with one of `schemes`; else a ConfigError."""
    if value != allowed and not value.startswith(schemes):
        expected = " or ".join(f"{scheme}..." for scheme in schemes[:2]) + (f" or {allowed}" if allowed else "")
        raise ConfigError(f"{name} must be {expected}, got {value!r}")
    return value


def webhook_secret(env: Mapping[str, str]) -> str:
    """`WEBHOOK_SECRET` as Standard Webhooks writes it: `whsec_` and 24 to 64 random bytes in base64."""
    raw = env.get("WEBHOOK_SECRET", "").strip()
    if not raw:
        return ""
    try:
        encoded = raw.removeprefix("whsec_").rstrip("=")
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except ValueError:
        raise ConfigError("WEBHOOK_SECRET must be whsec_ followed by base64") from None
    if not 24 <= len(key) <= 64:
        raise ConfigError(f"WEBHOOK_SECRET must hold 24 to 64 bytes (it holds {len(key)})")
    return raw


def log_format(env: Mapping[str, str], broker_url: str) -> str:
    """`LOG_FORMAT`: json (the default with a real broker, for log collectors) or text (the embedded default)."""
    value = env.get("LOG_FORMAT", "").strip().lower() or ("text" if broker_url == EMBEDDED_BROKER else "json")
    if value not in ("json", "text"):
        raise ConfigError(f"LOG_FORMAT must be json or text, got {value!r}")
    return value


def api_keys(env: Mapping[str, str]) -> tuple[str, ...]:
    """The keys from `API_KEYS` (comma-separated) and `API_KEYS_FILE` (one a line, blank lines and `#`
    comments ignored: a mounted Kubernetes Secret). Errors name the variable and the place, never a key."""
    keys: list[str] = []
    if raw := env.get("API_KEYS", "").strip():
        found = _keys(((f"entry {n}", entry) for n, entry in enumerate(raw.split(","), 1)), "API_KEYS")
        if not found:
            raise ConfigError("API_KEYS is set but holds no key")
        keys += found
    if path := env.get("API_KEYS_FILE", "").strip():
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as e:
            raise ConfigError(f"API_KEYS_FILE {path!r} cannot be read: {e.strerror or e}") from None
        except UnicodeDecodeError:
            raise ConfigError(f"API_KEYS_FILE {path!r} is not UTF-8 text") from None
        lines = (
            (f"line {n}", line) for n, line in enumerate(text.splitlines(), 1) if not line.lstrip().startswith("#")
        )
        found = _keys(lines, f"API_KEYS_FILE {path!r}")
        if not found:
            raise ConfigError(f"API_KEYS_FILE {path!r} holds no key (only blank lines and # comments)")
        keys += found
    return tuple(dict.fromkeys(keys))  # in order, once each


def _keys(entries: Iterable[tuple[str, str]], source: str) -> list[str]:
    """The non-blank entries, stripped; a key must be printable ASCII without spaces to travel in a header."""
    keys = []
    for where, entry in entries:
        key = entry.strip()
        if not key:
            continue
        if not (key.isascii() and key.isprintable()) or " " in key:
            raise ConfigError(f"{source}: {where} is not a usable key (printable ASCII without spaces)")
        keys.append(key)
    return keys
