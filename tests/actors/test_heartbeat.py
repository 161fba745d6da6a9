"""The worker heartbeat: each worker process records the models it has loaded, refreshes the record,
survives database outages and removes it at a clean shutdown."""

import logging
import time

import dramatiq
import pytest

import db
from actors.fleet import Heartbeat
from actors.registry import Runtimes
from actors.setup import worker_sender
from catalog import read_manifest
from db import PreparedModel, WorkerProcess, migrate
from tests.servers import free_port

MODEL = "all-MiniLM-L6-v2"


@pytest.fixture
def runtimes(catalog, models_dir):
    return Runtimes(catalog, models_dir)


def eventually(check, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.02)
    return result


def rows() -> list[WorkerProcess]:
    with db.database.connection_context():
        return list(WorkerProcess.select())


def test_a_worker_reports_a_model_as_soon_as_it_loads_it_and_records_its_preparation(database, runtimes):
    heartbeat = Heartbeat(runtimes, every=60)  # long interval: only the load can explain a second beat
    heartbeat.start()
    try:
        assert eventually(lambda: [(w.id, w.models) for w in rows()]) == [(heartbeat.worker_id, [])]
        runtimes.get(MODEL)
        eventually(lambda: rows()[0].models == [MODEL])
        row = PreparedModel.get(PreparedModel.name == MODEL)  # backfilled: prepared before the table existed
        assert row.digest == read_manifest(runtimes.models_dir / MODEL)["files"]["model.onnx"]
    finally:
        heartbeat.stop()
    assert rows() == []  # a clean shutdown deletes the row at once


def test_beats_refresh_the_row_and_push_its_expiry_forward(database, runtimes):
    heartbeat = Heartbeat(runtimes, every=0.05)
    heartbeat.start()
    try:
        first = eventually(rows)[0].expires_at
        eventually(lambda: heartbeat.beats >= 3)
        assert rows()[0].expires_at > first
    finally:
        heartbeat.stop()


def test_the_heartbeat_survives_a_database_outage_logs_it_once_and_recovers(database, config, runtimes, caplog):
    db.connect(f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere")  # the database goes away
    heartbeat = Heartbeat(runtimes, every=0.05)
    with caplog.at_level(logging.INFO, logger="actors.fleet"):
        heartbeat.start()
        try:
            time.sleep(0.5)  # about ten failed beats
            assert heartbeat.is_alive() and heartbeat.beats == 0
            db.connect(config.database)  # it is back
            migrate.apply()
            eventually(lambda: heartbeat.beats >= 1)
        finally:
            heartbeat.stop()
    messages = [r.getMessage() for r in caplog.records]
    assert len([m for m in messages if "cannot record in the database" in m]) == 1
    assert "worker heartbeat: recorded again" in messages


def test_a_dramatiq_worker_reports_its_preloaded_model_after_boot_and_forgets_it_at_shutdown(database, runtimes):
    sender = worker_sender("stub://", runtimes, preload=[MODEL], heartbeat=60)
    worker = dramatiq.Worker(sender.broker, worker_timeout=50, worker_threads=1)
    worker.start()  # after_worker_boot: the model is loaded first, so the first beat carries it
    try:
        with db.database.connection_context():
            assert eventually(WorkerProcess.loaded) == {MODEL: 1}
    finally:
        worker.stop()
        sender.broker.close()
    assert rows() == []


class LoadedWithoutManifest:
    """Runtimes whose loaded model's directory has lost its manifest since it loaded."""

    def __init__(self, models_dir):
        self.models_dir = models_dir

    def loaded(self):
        return ["gone-model"]

    def on_load(self, listener):
        pass


def test_a_manifest_that_cannot_be_read_is_logged_and_never_stops_the_beats(database, tmp_path, caplog):
    heartbeat = Heartbeat(LoadedWithoutManifest(tmp_path), every=60)
    assert heartbeat.beat() and heartbeat.beat()
    assert WorkerProcess.loaded() == {"gone-model": 1} and PreparedModel.select().count() == 0
    assert len([r for r in caplog.records if "cannot record the preparation of gone-model" in r.getMessage()]) == 1
