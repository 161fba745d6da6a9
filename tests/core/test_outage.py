"""An outage is logged once, naming its kind above debug; the error's text only at debug (core/outage.py)."""

import logging

import peewee

from core.outage import Outage

MARKER = "user-text-51be"


def test_an_outage_warns_once_with_the_kind_of_fault_and_keeps_its_text_at_debug(caplog):
    outage = Outage(logging.getLogger("tests.outage"), "sweep")
    with caplog.at_level(logging.DEBUG, logger="tests.outage"):
        outage.failed(peewee.OperationalError(f'duplicate key value "{MARKER}"'))
        outage.failed(peewee.OperationalError(f'duplicate key value "{MARKER}"'))
        outage.ok()
    above = [r.getMessage() for r in caplog.records if r.levelno > logging.DEBUG]
    assert not [m for m in above if MARKER in m]
    assert above == ["sweep failed (OperationalError); carrying on", "sweep works again after 2 failed attempt(s)"]
    assert any(MARKER in r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG)
