"""Webhook URLs we agree to call: checked when a job names one and again before each delivery.

https only (http too when private addresses are allowed, for tests and receivers inside your own
network), no credentials in the URL, and every address the host resolves to public: loopback, private,
link-local (cloud metadata at 169.254.169.254), multicast, reserved and unspecified addresses are refused
unless `WEBHOOK_ALLOW_PRIVATE` is set. Checked again at delivery time, so a name that later resolves to
an internal address (DNS rebinding) is refused then.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from core.errors import InvalidRequest

MAX_URL_LENGTH = 2048


class Unresolvable(InvalidRequest):
    """The host does not resolve now: a 422 when a job names it, a failed attempt (retried) at delivery."""


def check_webhook_url(url: object, *, allow_private: bool, field: str = "webhook") -> str:
    """`url` if we may call it, else `InvalidRequest` naming `field` and the reason."""
    if not isinstance(url, str) or not url:
        raise InvalidRequest(f"`{field}` must be a URL (https://...)", field=field)
    if len(url) > MAX_URL_LENGTH:
        raise InvalidRequest(f"`{field}` is longer than {MAX_URL_LENGTH} characters", field=field)
    if not url.isascii() or any(c.isspace() or not c.isprintable() for c in url):
        raise InvalidRequest(f"`{field}` must be an ASCII URL without spaces (IDNA-encode the host)", field=field)
    try:
        parts = urlsplit(url)
        port = parts.port
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
    if not allow_private:
        check_addresses(parts.hostname, port or 443, field=field)
    return url


def check_addresses(host: str, port: int, *, field: str = "webhook") -> list[str]:
    """The addresses `host` resolves to, all of them public, else `InvalidRequest`."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as e:
        raise Unresolvable(f"`{field}`: the host {host!r} does not resolve ({e})", field=field) from None
    addresses = sorted({info[4][0] for info in infos})
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if not ip.is_global or ip.is_multicast:
            raise InvalidRequest(
                f"`{field}`: {host!r} resolves to {address}, a private, loopback, link-local or reserved "
                "address; webhooks go to public addresses only",
                field=field,
            )
    return addresses
