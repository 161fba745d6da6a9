"""Resolving and checking webhook hosts (core/urls.py): once, in the resolver's order, within a bound."""

import socket
import threading
import time

import pytest

from core import urls
from core.errors import InvalidRequest


def resolver(monkeypatch, *addresses, wait: threading.Event | None = None) -> list[str]:
    asked = []

    def getaddrinfo(host, port, *args, **kwargs):
        asked.append(host)
        if wait is not None:
            wait.wait(10)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)) for address in addresses]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


def test_a_destination_holds_the_addresses_of_one_lookup_in_the_resolvers_order(monkeypatch):
    asked = resolver(monkeypatch, "93.184.215.14", "1.1.1.1", "93.184.215.14")
    destination = urls.webhook_destination("https://Hooks.Example:8443/x", allow_private=False)
    assert destination == urls.Destination("hooks.example", 8443, ("93.184.215.14", "1.1.1.1"))
    assert asked == ["hooks.example"]


def test_one_private_address_among_public_ones_refuses_the_destination(monkeypatch):
    resolver(monkeypatch, "93.184.215.14", "10.0.0.7")
    with pytest.raises(InvalidRequest, match=r"10\.0\.0\.7"):
        urls.webhook_destination("https://mixed.example/x", allow_private=False)


def test_with_private_addresses_allowed_the_name_is_still_resolved_once_for_the_connection(monkeypatch):
    asked = resolver(monkeypatch, "10.0.0.7")
    destination = urls.webhook_destination("http://internal.example/x", allow_private=True)
    assert (destination.port, destination.addresses, asked) == (80, ("10.0.0.7",), ["internal.example"])


def test_a_lookup_that_takes_too_long_is_a_resolve_timeout_within_the_bound(monkeypatch):
    release = threading.Event()
    resolver(monkeypatch, "93.184.215.14", wait=release)
    started = time.monotonic()
    try:
        with pytest.raises(urls.ResolveTimeout, match=r"did not resolve within 0\.3 s"):
            urls.check_webhook_url("https://slow.example/x", allow_private=False, timeout=0.3)
    finally:
        release.set()
    assert time.monotonic() - started < 2
