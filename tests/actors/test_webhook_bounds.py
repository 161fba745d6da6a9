"""What a webhook receiver cannot do to the deliverer (actors/delivery.py, actors/pinned.py): hold a thread
past the attempt's deadline by trickling its answer, have the connection go to another address than the one
checked (DNS rebinding), or stall the attempt with a name that does not resolve in time."""

import socket
import ssl
import threading
import time

import dramatiq
import pytest

from actors.delivery import Deliverer
from db import Job
from db.webhooks import Delivery, WebhookDelivery
from tests.actors.hostile_receivers import self_signed, tls_receiver, trickler
from tests.webhook_receiver import new_secret, receiver

SECRET = new_secret()
PUBLIC = "93.184.215.14"  # a global address: passes the check (the tests never let a connection reach it)


def cancelled_job(url: str) -> str:
    """The id of the delivery of a job with a webhook at `url`, canceled (so its delivery is due)."""
    job = Job.create(model="m", task="feature-extraction", inputs=["hi"], webhook=url, webhook_events="canceled")
    Job.cancel(job.id)
    return str(WebhookDelivery.get(WebhookDelivery.job == job.id).id)


def answers(monkeypatch, *addresses: str) -> list[str]:
    """socket.getaddrinfo answers each address in turn (the last from then on) for a name, an address for
    itself (as connecting to one asks); returns the names asked."""
    asked = []

    def getaddrinfo(host, port, *args, **kwargs):
        if host.replace(".", "").isdigit():
            address = host
        else:
            address = addresses[min(len(asked), len(addresses) - 1)]
            asked.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


def connections(monkeypatch) -> list[tuple]:
    """socket.create_connection records each address asked for and connects only to loopback (refused
    elsewhere: no test reaches the network)."""
    made, real = [], socket.create_connection

    def create_connection(address, *args, **kwargs):
        made.append(address)
        if address[0] != "127.0.0.1":
            raise ConnectionRefusedError(f"the test refuses {address[0]}")
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", create_connection)
    return made


def test_a_receiver_that_trickles_its_answer_is_cut_off_at_the_deadline_and_retried(database):
    with trickler(every=0.1, for_at_most=10) as slow:
        delivery_id = cancelled_job(f"http://127.0.0.1:{slow.port}/hooks")
        started = time.monotonic()
        with pytest.raises(dramatiq.Retry):
            Deliverer(SECRET, allow_private=True, timeout=1)(delivery_id)
        took = time.monotonic() - started
        deadline = time.monotonic() + 5
        while not slow.closed_after and time.monotonic() < deadline:
            time.sleep(0.05)
    assert took < 3, f"the attempt took {took:.1f} s for a 1 s deadline"  # not the trickler's 10 s
    assert slow.closed_after and slow.closed_after[0] < 3  # the connection was closed at the deadline
    delivery = WebhookDelivery.get_by_id(delivery_id)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (Delivery.PENDING, 1, None)
    assert delivery.last_error == "ReadTimeout: no complete answer within 1 s"


def test_the_connection_goes_to_the_address_checked_not_to_a_second_answer(database, monkeypatch):
    with receiver(SECRET) as hooks:  # on 127.0.0.1: where a rebinding name would lead the second lookup
        asked = answers(monkeypatch, PUBLIC, "127.0.0.1")
        made = connections(monkeypatch)
        delivery_id = cancelled_job(f"https://rebinding.example:{hooks.url.split(':')[2]}")
        with pytest.raises(dramatiq.Retry):
            Deliverer(SECRET, allow_private=False, timeout=2)(delivery_id)
    assert asked == ["rebinding.example"]  # resolved once
    assert [address[0] for address in made] == [PUBLIC]  # and connected to the address checked, only
    assert hooks.calls == []
    assert WebhookDelivery.get_by_id(delivery_id).last_error.startswith("ConnectError")


def test_every_address_is_checked_and_the_checked_ones_are_tried_in_turn(database, monkeypatch):
    def getaddrinfo(host, port, *args, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in (PUBLIC, "1.1.1.1", PUBLIC)]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    made = connections(monkeypatch)
    with pytest.raises(dramatiq.Retry):
        Deliverer(SECRET, allow_private=False, timeout=2)(cancelled_job("https://two.example/hooks"))
    assert [address for address, _ in made] == [PUBLIC, "1.1.1.1"]


def test_https_to_a_pinned_address_keeps_the_name_for_sni_host_and_certificate(database, monkeypatch, tmp_path):
    cert, key = self_signed(tmp_path, "hooks.test")
    trusted = ssl.create_default_context(cafile=str(cert))
    with tls_receiver(cert, key) as server:
        asked = answers(monkeypatch, "127.0.0.1")
        deliver = Deliverer(SECRET, allow_private=True, timeout=5, ssl_context=trusted)
        deliver(cancelled_job(f"https://hooks.test:{server.port}/hooks"))  # delivered: no Retry
        with pytest.raises(dramatiq.Retry):  # another name at the same address: its certificate does not fit
            deliver(other := cancelled_job(f"https://other.test:{server.port}/hooks"))
    assert asked == ["hooks.test", "other.test"]
    assert server.server_names == ["hooks.test", "other.test"]
    assert server.hosts == [f"hooks.test:{server.port}"]
    assert "CERTIFICATE_VERIFY_FAILED" in WebhookDelivery.get_by_id(other).last_error


def test_a_name_that_does_not_resolve_in_time_is_a_failed_attempt_retried(database, monkeypatch):
    release = threading.Event()

    def getaddrinfo(*args, **kwargs):
        release.wait(10)
        raise socket.gaierror("released")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    delivery_id = cancelled_job("https://slow-dns.example/hooks")
    started = time.monotonic()
    try:
        with pytest.raises(dramatiq.Retry):
            Deliverer(SECRET, allow_private=False, timeout=1)(delivery_id)
    finally:
        release.set()
    assert time.monotonic() - started < 3
    delivery = WebhookDelivery.get_by_id(delivery_id)
    assert delivery.status == Delivery.PENDING and "did not resolve within 1 s" in delivery.last_error
