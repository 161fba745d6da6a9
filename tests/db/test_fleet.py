"""The fleet records: a prepared model's row (one per name and preparation) and worker heartbeats that
expire by themselves."""

import datetime as dt

import pytest

from db import PreparedModel, WorkerProcess
from db.base import utcnow

MANIFEST = {
    "name": "m",
    "source": "package:x",
    "task": "feature-extraction",
    "onnx": "model.onnx",
    "max_length": 256,
    "dimensions": 384,
    "quantization": None,
    "optimization": "O2",
    "files": {"model.onnx": "a" * 64, "tokenizer.json": "b" * 64},
    "versions": {"onnxruntime": "1.23.0"},
    "prepared_at": "2026-11-26T12:00:00+00:00",
}


def beat(worker_id: str, models: list[str], expiry: float = 30.0) -> None:
    WorkerProcess.beat(
        worker_id, host="h", pid=1, models=models, started_at=utcnow(), expiry=dt.timedelta(seconds=expiry)
    )


def test_a_preparation_is_recorded_once_per_name_and_onnx_hash(database):
    first = PreparedModel.record(MANIFEST, onnx_bytes=10)
    again = PreparedModel.record({**MANIFEST, "prepared_at": "2026-11-26T13:00:00+01:00"}, onnx_bytes=10)
    assert again.id == first.id and PreparedModel.select().count() == 1
    assert again.prepared_at == dt.datetime(2026, 11, 26, 12, 0)  # stored as naive UTC
    assert (again.digest, again.task, again.optimization, again.onnx_bytes) == (
        "a" * 64,
        "feature-extraction",
        "O2",
        10,
    )
    assert again.manifest["dimensions"] == 384 and again.versions == {"onnxruntime": "1.23.0"}


def test_a_new_preparation_is_a_new_row_and_the_latest_one_wins(database):
    PreparedModel.record(MANIFEST)
    redone = {**MANIFEST, "files": {"model.onnx": "c" * 64}, "prepared_at": "2026-11-27T00:00:00+00:00"}
    PreparedModel.record(redone)
    PreparedModel.record({**MANIFEST, "name": "other"})
    latest = PreparedModel.latest()
    assert PreparedModel.select().count() == 3
    assert latest["m"].digest == "c" * 64 and set(latest) == {"m", "other"}


def test_a_heartbeat_is_one_row_per_process_refreshed_in_place(database):
    beat("h:1:a", [])
    beat("h:1:a", ["m"])
    (row,) = WorkerProcess.select()
    assert row.models == ["m"] and row.expires_at > row.seen_at


def test_live_workers_count_per_model(database):
    beat("w1", ["m", "n"])
    beat("w2", ["m"])
    assert WorkerProcess.loaded() == {"m": 2, "n": 1}


@pytest.mark.parametrize("clean", [True, False], ids=["forgotten at shutdown", "expired"])
def test_a_worker_gone_no_longer_counts_and_its_expired_row_is_pruned(database, clean):
    beat("alive", ["m"])
    beat("gone", ["m"], expiry=30.0 if clean else -1.0)  # an expired heartbeat: a process killed long ago
    if clean:
        WorkerProcess.forget("gone")
    assert WorkerProcess.loaded() == {"m": 1}
    assert [w.id for w in WorkerProcess.live()] == ["alive"]
    assert WorkerProcess.prune() == (0 if clean else 1)
    assert [w.id for w in WorkerProcess.select()] == ["alive"]


@pytest.mark.parametrize("model", [PreparedModel, WorkerProcess], ids=lambda m: m._meta.table_name)
def test_the_migration_builds_every_field_of_the_fleet_tables(database, model):
    columns = {column.name for column in database.get_columns(model._meta.table_name)}
    assert columns == {field.column_name for field in model._meta.sorted_fields}
