"""Fixtures shaped like Dramatiq's own (`stub_broker`, `stub_worker`) plus the database and the
prepared default model, which is exported once into var/models and reused (like `make run` does)."""

from __future__ import annotations

import os
from pathlib import Path

import dramatiq
import pytest

import db
from actors import setup
from actors.catalog import Catalog
from db import migrate
from inference_api.config import Config

ROOT = Path(__file__).resolve().parent.parent
MODELS_DIR = Path(os.environ.get("TEST_MODELS_DIR", ROOT / "var" / "models"))


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return Catalog.load()


@pytest.fixture(scope="session")
def models_dir(catalog) -> Path:
    """The default model, prepared for real (optimum export of the packaged weights); once per machine."""
    from actors.prepare import prepare

    prepare(catalog.get(None), MODELS_DIR)
    return MODELS_DIR


@pytest.fixture
def config(tmp_path) -> Config:
    return Config(data_dir=tmp_path, models_dir=MODELS_DIR)


@pytest.fixture
def database(config):
    """A fresh migrated SQLite database bound to the proxy."""
    bound = db.connect(config.database)
    migrate.apply()
    yield bound
    bound.close()


@pytest.fixture
def stub_broker():
    actors = setup("stub://")
    yield actors.broker
    actors.broker.flush_all()
    actors.broker.close()


@pytest.fixture
def actors_stub(database):
    """Actors on a StubBroker, senders only (no models): what the API process holds."""
    actors = setup("stub://")
    yield actors
    actors.broker.flush_all()


def queued_messages(actors) -> int:
    return sum(q.qsize() for q in actors.broker.queues.values())


@pytest.fixture
def stub_worker(request):
    workers = []

    def start(broker: dramatiq.Broker) -> dramatiq.Worker:
        worker = dramatiq.Worker(broker, worker_timeout=50, worker_threads=2)
        worker.start()
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()
