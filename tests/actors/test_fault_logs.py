"""The sending side logs the kind of a broker or database fault above debug, never its text
(actors/sending.py)."""

import logging

import peewee

from actors import sending
from actors.sending import open_sender

MARKER = "user-text-2d7e"


def leaked(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno > logging.DEBUG and MARKER in r.getMessage()]


def test_webhook_deliveries_that_cannot_be_claimed_log_the_kind_of_fault(database, monkeypatch, caplog):
    def failing(ids):
        raise peewee.OperationalError(f'invalid input "{MARKER}"')

    monkeypatch.setattr(sending, "claim_unsent", failing)
    with caplog.at_level(logging.DEBUG, logger="actors.sending"):
        assert open_sender("stub://").deliver_webhooks(["a"]) == 0
    assert not leaked(caplog)
    assert any("OperationalError" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


def test_webhook_deliveries_the_broker_refuses_log_the_kind_of_fault(database, monkeypatch, caplog):
    sender = open_sender("stub://")

    def refused(*args, **kwargs):
        raise ConnectionError(f"host {MARKER} refused")

    monkeypatch.setattr(sender.webhooks, "send", refused)
    monkeypatch.setattr(sending, "unsend", lambda ids: None)
    with caplog.at_level(logging.DEBUG, logger="actors.sending"):
        assert sender.send_deliveries([1, 2]) == 0
    assert not leaked(caplog)
