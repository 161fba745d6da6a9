from dataclasses import replace

import falcon.testing
import pytest
from falcon.testing import TestClient

from actors.sending import open_sender
from db.fleet import PreparedModel
from tests.web.openai_helpers import InstantWorker
from web import create_app


@pytest.fixture
def client(config, database, sender_stub, catalog):
    return falcon.testing.TestClient(create_app(config, sender=sender_stub, catalog=catalog))


@pytest.fixture
def worker(database):
    sender = open_sender("stub://")
    worker = InstantWorker(sender.broker, sender.actor)
    yield worker
    sender.broker.flush_all()


@pytest.fixture
def models(database):
    """all-MiniLM-L6-v2 recorded as prepared in the database: its manifest there is all the API reads."""
    manifest = {
        "name": "all-MiniLM-L6-v2",
        "task": "feature-extraction",
        "dimensions": 384,
        "files": {"model.onnx": "0" * 64},
        "prepared_at": "2026-11-26T15:10:37+00:00",
    }
    PreparedModel.record(manifest)


@pytest.fixture
def record_prepared(database):
    """Record catalog models as prepared (what `inference-api models prepare` writes): a request for a
    model that is not prepared is refused at once."""

    def record(spec) -> None:
        PreparedModel.record({"name": spec.name, "task": spec.task, "files": {"model.onnx": spec.name}})

    return record


@pytest.fixture
def app_for(config, catalog, models):
    def build(sender, **changes):
        return TestClient(create_app(replace(config, **changes), sender=sender, catalog=catalog))

    return build


@pytest.fixture
def api(app_for, worker):
    return app_for(worker)
