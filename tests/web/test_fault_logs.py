"""Logs above debug name the kind of a database or broker fault, never its text: a driver's text may quote a
statement's values (user input), hosts or users (web/errors.py, web/resources)."""

import logging

import peewee
from falcon.testing import TestClient

from web import create_app, waiting
from web.resources import health, inference

MARKER = "user-text-9c41"


def leaked(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno > logging.DEBUG and MARKER in r.getMessage()]


def test_a_database_error_answered_as_503_logs_its_kind_not_its_text(client, monkeypatch, caplog):
    def failing(self, job_id, owner=None):
        raise peewee.OperationalError(f'invalid input "{MARKER}"')

    monkeypatch.setattr(inference.Job, "find", classmethod(lambda cls, job_id, owner=None: failing(cls, job_id)))
    with caplog.at_level(logging.DEBUG):
        response = client.simulate_get("/inference/00000000-0000-0000-0000-000000000001")
    assert response.status_code == 503
    assert not leaked(caplog)
    assert any("OperationalError" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


def test_a_database_error_after_the_accept_logs_its_kind_not_its_text(client, monkeypatch, caplog):
    def failing(self, job, seconds, owner=""):
        raise peewee.OperationalError(f'value "{MARKER}" out of range')

    monkeypatch.setattr(waiting.Waiter, "wait", failing)
    with caplog.at_level(logging.DEBUG):
        response = client.simulate_post("/inference", json={"inputs": "x"}, headers={"Prefer": "wait=5"})
    assert response.status_code == 202
    assert not leaked(caplog)


def test_a_database_error_while_awaiting_embeddings_logs_its_kind_not_its_text(api, worker, monkeypatch, caplog):
    def failing(self, job, seconds):
        raise peewee.OperationalError(f'value "{MARKER}" out of range')

    worker.outcome = lambda job: None
    monkeypatch.setattr(waiting.Waiter, "wait_holding", failing)
    with caplog.at_level(logging.DEBUG):
        api.simulate_post("/v1/embeddings", json={"model": "all-MiniLM-L6-v2", "input": "x"})
    assert not leaked(caplog)


def test_readyz_logs_the_kind_of_an_unavailable_dependency_not_its_text(
    config, catalog, sender_stub, monkeypatch, caplog
):
    def refused():
        raise ConnectionError(f"host {MARKER} refused")

    monkeypatch.setattr(sender_stub, "ping", refused)
    app = create_app(config, sender=sender_stub, catalog=catalog)
    with caplog.at_level(logging.DEBUG, logger=health.logger.name):
        response = TestClient(app).simulate_get("/readyz")
    assert response.status_code == 503
    assert not leaked(caplog)
    assert any(MARKER in r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG)  # the detail
