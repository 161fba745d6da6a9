"""The pinned network backend (actors/pinned.py) on its own: no connection outside an attempt, none to a
name it was not given, and every operation bounded by the attempt's deadline."""

import socket
import time

import httpcore
import pytest

from actors.pinned import Attempt, PinnedBackend, pinned


def test_no_connection_is_opened_outside_an_attempt_or_to_another_name():
    backend = PinnedBackend()
    with pytest.raises(httpcore.ConnectError, match="no delivery attempt"):
        backend.connect_tcp("example.org", 443)
    with (
        pinned(Attempt("hooks.example", ("127.0.0.1",), time.monotonic() + 5)),
        pytest.raises(httpcore.ConnectError, match="no checked address"),
    ):
        backend.connect_tcp("other.example", 443)


def test_a_read_waits_only_for_what_is_left_of_the_deadline():
    listener = socket.create_server(("127.0.0.1", 0))
    try:
        with pinned(Attempt("hooks.example", ("127.0.0.1",), time.monotonic() + 0.5)):
            stream = PinnedBackend().connect_tcp("hooks.example", listener.getsockname()[1], timeout=5)
            started = time.monotonic()
            with pytest.raises(httpcore.ReadTimeout):
                stream.read(100, timeout=30)  # the silent listener never sends
            assert time.monotonic() - started < 1.5
            with pytest.raises(httpcore.ReadTimeout, match="deadline has passed"):
                stream.read(100, timeout=30)
            stream.close()
    finally:
        listener.close()


def test_a_write_to_a_receiver_that_does_not_read_ends_at_the_deadline():
    listener = socket.create_server(("127.0.0.1", 0))
    try:
        with pinned(Attempt("hooks.example", ("127.0.0.1",), time.monotonic() + 0.5)):
            stream = PinnedBackend().connect_tcp("hooks.example", listener.getsockname()[1], timeout=5)
            started = time.monotonic()
            with pytest.raises(httpcore.WriteTimeout):
                stream.write(b"x" * (64 << 20), timeout=30)  # more than the socket buffers hold
            assert time.monotonic() - started < 1.5
            stream.close()
    finally:
        listener.close()
