"""The settings read by functions of their own: API keys (a variable and a file), the webhook secret's
format and the log format, whose default depends on the broker."""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from pathlib import Path

from core.errors import ConfigError

EMBEDDED_BROKER = "stub://"
LIMIT_NAMES = ("rps", "backlog", "waits")  # a key's own limits in API_KEYS_FILE (docs/security.md#per-key-limits)


class ApiKey(str):
    """A key as configured: the key itself (a `str`, so that everything taking keys takes it) and its own
    limits from its line of API_KEYS_FILE (`rps=5 backlog=100 waits=4`), the names absent from it taking
    the defaults (`KEY_RPS`, `KEY_BACKLOG`, `KEY_WAITS`)."""

    limits: dict[str, int]

    def __new__(cls, key: str, limits: Mapping[str, int] | None = None) -> ApiKey:
        made = super().__new__(cls, key)
        made.limits = dict(limits or {})
        return made


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
    keys: list[ApiKey] = []
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
        found = _keys(lines, f"API_KEYS_FILE {path!r}", with_limits=True)
        if not found:
            raise ConfigError(f"API_KEYS_FILE {path!r} holds no key (only blank lines and # comments)")
        keys += found
    return tuple(dict.fromkeys(keys))  # in order, once each (a key listed twice: the first has its limits)


def _keys(entries: Iterable[tuple[str, str]], source: str, *, with_limits: bool = False) -> list[ApiKey]:
    """The non-blank entries, stripped; a key must be printable ASCII without spaces to travel in a header.
    `with_limits` (the file): the words after the key are its limits, `name=value` each."""
    keys = []
    for where, entry in entries:
        key, *words = (entry.split() if with_limits else [entry.strip()]) or [""]
        if not key:
            continue
        if not (key.isascii() and key.isprintable()) or " " in key or not all("=" in word for word in words):
            raise ConfigError(f"{source}: {where} is not a usable key (printable ASCII without spaces)")
        keys.append(ApiKey(key, _limits(words, f"{source}: {where}")))
    return keys


def with_parameters(url: str, parameters: Mapping[str, object]) -> str:
    """`url` with the query parameters of `parameters` it does not set itself; its hosts (libpq's
    `host1:port1,host2:port2` included) are left as written."""
    base, _, query = url.partition("?")
    named = {pair.split("=", 1)[0] for pair in query.split("&") if pair}
    added = [f"{key}={value}" for key, value in parameters.items() if key not in named]
    return base + "?" + "&".join(filter(None, [query, *added])) if added else url


def _limits(words: list[str], where: str) -> dict[str, int]:
    """`rps=5 backlog=100 waits=4` as a dict; an unknown name or a value not a whole number names the place
    (never the key, which is on the same line)."""
    limits = {}
    for word in words:
        name, _, value = word.partition("=")
        if name not in LIMIT_NAMES:
            raise ConfigError(f"{where}: {name!r} is no limit; a key takes {', '.join(LIMIT_NAMES)} as name=value")
        if not value.isdigit():
            raise ConfigError(f"{where}: {name} must be a whole number (0: no limit)")
        limits[name] = int(value)
    return limits
