"""How a configuration setting comes from the environment: `Setting` and the helpers that declare one.

`core.config.Config` declares each field with one of these (`text`, `integer`, `boolean`, `custom`), so the
variable's name, how it is read, its default and its meaning are written once; `Config.from_env` reads
through them and the manual's configuration page is rendered from them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from core.errors import ConfigError


@dataclass(frozen=True)
class Setting:
    """How one `Config` field comes from the environment, and what the configuration page says of it."""

    env: tuple[str, ...]  # the variables read, the first one the main
    help: str  # what it means (Markdown, one line)
    read: Callable[[Mapping[str, str], Any], Any]  # (environment, the field's default) -> the value
    shown: str | None = None  # the default as the page states it, when not the field's default itself
    secret: bool = False  # its value is never shown (repr, the page)


def _setting(setting: Setting, default: Any) -> Any:
    """A dataclass field carrying its setting (secret values stay out of the repr)."""
    return dataclasses.field(default=default, repr=not setting.secret, metadata={"setting": setting})


def read_raw(env: Mapping[str, str], name: str) -> str:
    return env.get(name, "").strip()


def text(
    name: str,
    default: Any,
    help: str,
    *,
    convert: Callable[[str], Any] = str,
    schemes: tuple[str, ...] = (),
    shown: str | None = None,
) -> Any:
    """A string (or what `convert` makes of it); unset or blank is the default. With `schemes`, a URL that
    starts with one of them (or is the default itself)."""

    def read(env: Mapping[str, str], default: Any) -> Any:
        raw = read_raw(env, name)
        if not raw:
            return default
        return convert(_url(name, raw, schemes, default) if schemes else raw)

    return _setting(Setting((name,), help, read, shown), default)


def integer(name: str, default: int, help: str, *, minimum: int = 1, maximum: int | None = None) -> Any:
    """An integer within bounds; unset or blank is the default; every error names the variable."""

    def read(env: Mapping[str, str], default: int) -> int:
        raw = read_raw(env, name)
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

    return _setting(Setting((name,), help, read), default)


def boolean(name: str, help: str) -> Any:
    """1/0, true/false, yes/no, on/off; unset or empty is false."""

    def read(env: Mapping[str, str], default: bool) -> bool:
        raw = read_raw(env, name).lower()
        if raw in ("", "0", "false", "no", "off"):
            return False
        if raw in ("1", "true", "yes", "on"):
            return True
        raise ConfigError(f"{name} must be true or false (1/0, yes/no), got {raw!r}")

    return _setting(Setting((name,), help, read), False)


def custom(
    names: tuple[str, ...],
    default: Any,
    help: str,
    read: Callable[[Mapping[str, str]], Any],
    *,
    shown: str | None = None,
    secret: bool = False,
) -> Any:
    """A setting read by a function of its own (several variables, a format to check)."""
    return _setting(Setting(names, help, lambda env, _default: read(env), shown, secret), default)


def _url(name: str, value: str, schemes: tuple[str, ...], allowed: str) -> str:
    """`value` when it is `allowed` (the default) or starts with one of `schemes`; else a ConfigError."""
    if value != allowed and not value.startswith(schemes):
        expected = " or ".join(f"{scheme}..." for scheme in schemes[:2]) + (f" or {allowed}" if allowed else "")
        raise ConfigError(f"{name} must be {expected}, got {value!r}")
    return value


@dataclass(frozen=True)
class Variable:
    """An environment variable read by another program than `Config.from_env`."""

    name: str
    default: str
    help: str
    read_by: str


# The few variables read by other programs (Dramatiq's metrics server, the client, the Kubernetes manifests).
ELSEWHERE = (
    Variable(
        "dramatiq_prom_port", "`9191`", "the port of a worker's metrics server", "Dramatiq's Prometheus middleware"
    ),
    Variable(
        "dramatiq_prom_host",
        "`0.0.0.0`",
        "the interface of a worker's metrics server",
        "Dramatiq's Prometheus middleware",
    ),
    Variable(
        "dramatiq_prom_db",
        "`/tmp/dramatiq-prometheus`",
        "the worker processes' shared metrics directory: give each pod its own (an `emptyDir`)",
        "Dramatiq's Prometheus middleware",
    ),
    Variable(
        "PROMETHEUS_MULTIPROC_DIR",
        "`dramatiq_prom_db`",
        "set by the worker entry (`actors.worker`) to `dramatiq_prom_db`, for prometheus-client's multiprocess "
        "mode; do not set it yourself",
        "`actors.worker`, prometheus-client",
    ),
    Variable(
        "WORKER_PROCESSES",
        "none",
        "worker processes per pod, passed to `dramatiq --processes`",
        "the Kubernetes worker Deployment",
    ),
    Variable(
        "INFERENCE_API_URL", "`http://localhost:8000`", "the API the client talks to", "the Python client, `submit`"
    ),
    Variable(
        "INFERENCE_API_KEY",
        "none",
        "the Bearer key the client sends (one of the server's `API_KEYS`)",
        "the Python client, `submit`",
    ),
)
