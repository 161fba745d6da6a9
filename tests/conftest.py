"""Fixtures shaped like Dramatiq's own (`stub_broker`, `stub_worker`) plus the database and the
prepared default model, which is exported once into var/models and reused (like `make run` does)."""

from __future__ import annotations

import os
from pathlib import Path

import dramatiq
import pytest

import db
from actors.sending import open_sender
from catalog import Catalog
from core.config import Config
from db import migrate

ROOT = Path(__file__).resolve().parent.parent
MODELS_DIR = Path(os.environ.get("TEST_MODELS_DIR", ROOT / "var" / "models"))


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return Catalog.load()


@pytest.fixture(scope="session")
def models_dir(catalog) -> Path:
    """all-MiniLM-L6-v2 in fp32 and int8, prepared for real (optimum export of the packaged weights),
    once per machine into var/models, where `make run` finds them too."""
    from actors.prepare import prepare

    for name in ("all-MiniLM-L6-v2", "all-MiniLM-L6-v2-int8"):
        prepare(catalog.models[name], MODELS_DIR)
    return MODELS_DIR


@pytest.fixture(scope="session")
def tiny(tmp_path_factory, models_dir):
    """A catalog of every task: MiniLM (fp32, int8) plus a tiny random BERT classifier and GPT-2 built
    here and prepared through the real export path. Returns (catalog, catalog path, models dir, sources)."""
    from actors.prepare import prepare
    from tests import tiny_models

    root = tmp_path_factory.mktemp("tiny")
    sources = {
        "tiny-bert-classifier": tiny_models.build_bert_classifier(root / "src" / "bert"),
        "tiny-gpt2": tiny_models.build_gpt2(root / "src" / "gpt2"),
    }
    path = root / "catalog.toml"
    path.write_text(tiny_models.catalog_toml(sources["tiny-bert-classifier"], sources["tiny-gpt2"]))
    catalog = Catalog.load(path)
    models = root / "models"
    models.mkdir()
    for name in ("all-MiniLM-L6-v2", "all-MiniLM-L6-v2-int8"):
        (models / name).symlink_to(models_dir / name)
    for name in sources:
        prepare(catalog.models[name], models)
    return catalog, path, models, sources


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
    actors = open_sender("stub://")
    yield actors.broker
    actors.broker.flush_all()
    actors.broker.close()


@pytest.fixture
def sender_stub(database):
    """Actors on a StubBroker, senders only (no models): what the API process holds."""
    actors = open_sender("stub://")
    yield actors
    actors.broker.flush_all()


def queued_messages(actors) -> int:
    return sum(q.qsize() for q in actors.broker.queues.values())


@pytest.fixture
def stub_worker(request):
    workers = []

    def start(broker: dramatiq.Broker, threads: int = 2) -> dramatiq.Worker:
        worker = dramatiq.Worker(broker, worker_timeout=50, worker_threads=threads)
        worker.start()
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()


@pytest.fixture
def environment(tmp_path, models_dir, monkeypatch):
    """A data directory of its own whose MODELS_DIR links to the prepared models (nothing is exported),
    set in the environment as a command reads it."""
    models = tmp_path / "models"
    models.mkdir()
    for name in ("all-MiniLM-L6-v2", "all-MiniLM-L6-v2-int8"):
        (models / name).symlink_to(models_dir / name)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MODELS_DIR", str(models))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    return tmp_path
