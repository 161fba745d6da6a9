"""Webhook URLs we agree to call: checked when a job names one and again before each delivery.

https only (http too when private addresses are allowed, for tests and receivers inside your own
network), no credentials in the URL, and every address the host resolves to public: loopback, private,
link-local (cloud metadata at 169.254.169.254), multicast, reserved and unspecified addresses are refused
unless `WEBHOOK_ALLOW_PRIVATE` is set. Checked again at delivery time, where the addresses checked are
the ones connected to (`webhook_destination`; `actors.pinned`), so a name that resolves to an internal
address later, or between the check and the connection (DNS rebinding), is refused or never reached.

Names are resolved by the system resolver (`getaddrinfo`) in a small pool of threads, and waited for at
most `RESOLVE_TIMEOUT` seconds: a name that takes longer is a `ResolveTimeout` (503: most likely a slow or
unreachable resolver, worth trying again), never a thread held for the resolver's own minutes.
"""

from __future__ import annotations

import ipaddress
import socket
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from core.errors import InvalidRequest, Unavailable

MAX_URL_LENGTH = 2048
RESOLVE_TIMEOUT = 2.0  # seconds a webhook's host name may take to resolve
_resolver = ThreadPoolExecutor(max_workers=8, thread_name_prefix="resolve")  # threads start on first use


class Unresolvable(InvalidRequest):
    """The host does not resolve now: a 422 when a job names it, a failed attempt (retried) at delivery."""


class ResolveTimeout(Unavailable):
    """The host's resolution took longer than allowed: a 503 when a job names it (nothing is recorded; the
    client may try again), a failed attempt (retried) at delivery."""


@dataclass(frozen=True)
class Destination:
    """Where a webhook goes: the URL's host name (for the Host header and TLS) and port, and the addresses
    resolved for it once, checked, that are the only ones to connect to."""

    host: str
    port: int
    addresses: tuple[str, ...]


def check_webhook_url(url: object, *, allow_private: bool, field: str = "webhook", timeout: float | None = None) -> str:
    """`url` if we may call it, else `InvalidRequest` naming `field` and the reason (`ResolveTimeout` if its
    host takes longer than `timeout` seconds, `RESOLVE_TIMEOUT` by default, to resolve)."""
    parts = _parse(url, allow_private=allow_private, field=field)
    if not allow_private:
        check_addresses(parts.hostname, parts.port or 443, field=field, timeout=timeout)
    return url


def webhook_destination(url: str, *, allow_private: bool, timeout: float | None = None) -> Destination:
    """`url` checked as `check_webhook_url` does, with the addresses to connect to: resolved once, every one
    checked (unless private addresses are allowed: then resolved only, still once)."""
    parts = _parse(url, allow_private=allow_private, field="webhook")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if allow_private:
        addresses = resolve(parts.hostname, port, field="webhook", timeout=timeout)
    else:
        addresses = check_addresses(parts.hostname, port, field="webhook", timeout=timeout)
    return Destination(parts.hostname, port, tuple(addresses))


def _parse(url: object, *, allow_private: bool, field: str) -> SplitResult:
    if not isinstance(url, str) or not url:
        raise InvalidRequest(f"`{field}` must be a URL (https://...)", field=field)
    if len(url) > MAX_URL_LENGTH:
        raise InvalidRequest(f"`{field}` is longer than {MAX_URL_LENGTH} characters", field=field)
    if not url.isascii() or any(c.isspace() or not c.isprintable() for c in url):
        raise InvalidRequest(f"`{field}` must be an ASCII URL without spaces (IDNA-encode the host)", field=field)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as e:
        raise InvalidRequest(f"`{field}` is not a valid URL: {e}", field=field) from None
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes:
        raise InvalidRequest(f"`{field}` must be an {' or '.join(schemes)} URL", field=field)
    if parts.username is not None or parts.password is not None:
        raise InvalidRequest(f"`{field}` must not hold credentials (user:password@)", field=field)
    if not parts.hostname:
        raise InvalidRequest(f"`{field}` has no host", field=field)
    if parts.fragment:
        raise InvalidRequest(f"`{field}` must not have a #fragment", field=field)
    return parts


def resolve(host: str, port: int, *, field: str = "webhook", timeout: float | None = None) -> list[str]:
    """The addresses `host` resolves to, in the resolver's order of preference, waited for at most `timeout`
    seconds: `Unresolvable` if it does not resolve, `ResolveTimeout` if it takes longer."""
    timeout = RESOLVE_TIMEOUT if timeout is None else timeout
    future = _resolver.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    try:
        infos = future.result(timeout=max(timeout, 0.0))
    except FutureTimeout:
        future.cancel()  # still queued behind slow lookups: never started
        raise ResolveTimeout(
            f"`{field}`: the host {host!r} did not resolve within {timeout:g} s; try again later", retry_after=5
        ) from None
    except (OSError, UnicodeError) as e:
        raise Unresolvable(f"`{field}`: the host {host!r} does not resolve ({e})", field=field) from None
    return list(dict.fromkeys(info[4][0] for info in infos))


def check_addresses(host: str, port: int, *, field: str = "webhook", timeout: float | None = None) -> list[str]:
    """The addresses `host` resolves to (`resolve`), all of them public, else `InvalidRequest`."""
    addresses = resolve(host, port, field=field, timeout=timeout)
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if not ip.is_global or ip.is_multicast:
            raise InvalidRequest(
                f"`{field}`: {host!r} resolves to {address}, a private, loopback, link-local or reserved "
                "address; webhooks go to public addresses only",
                field=field,
            )
    return addresses
