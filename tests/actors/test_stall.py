"""Liveness by progress: a worker whose batcher is blocked (a database call on a socket gone silent) is
reported not alive, however alive its threads are, and alive again once the batcher moves."""

from __future__ import annotations

import os
import threading
import time
from types import SimpleNamespace

import pytest

from actors.batching import Batcher
from actors.liveness import LivenessBeat, alive
from actors.progress import Progress
from db import Job
from tests.doubles import FakeModel, FakeRuntimes, new_job

IDLE_WORKER = SimpleNamespace(consumers={}, workers=[])  # threads all alive: only progress can fail it


def wait_for(condition, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition never met"
        time.sleep(0.02)


@pytest.fixture
def blocked_claims(monkeypatch):
    """Every batch claim blocks until the event is set, as on a database socket that went silent."""
    release, entered = threading.Event(), threading.Event()
    claim_fresh = Job.claim_fresh

    def blocked(*args, **kwargs):
        entered.set()
        release.wait(30)
        return claim_fresh(*args, **kwargs)

    monkeypatch.setattr(Job, "claim_fresh", blocked)
    yield entered, release
    release.set()


def test_a_batcher_blocked_on_the_database_stops_the_heartbeat_until_it_moves_again(database, tmp_path, blocked_claims):
    entered, release = blocked_claims
    progress = Progress()
    beat = LivenessBeat(tmp_path, stall_seconds=0.2, progress=progress)
    beat._beat(IDLE_WORKER)
    assert alive(tmp_path) == [os.getpid()]
    future = Batcher(FakeRuntimes(FakeModel()), progress=progress).submit(new_job().id)
    wait_for(entered.is_set)
    wait_for(lambda: progress.stalled(0.2))
    beat._beat(IDLE_WORKER)
    assert alive(tmp_path) == []  # the probe fails at once, not max_age later
    assert set(progress.stalled(0.2)) == {"batcher"}
    release.set()
    assert future.result(timeout=10) is True
    wait_for(lambda: not progress.stalled(0.2))
    beat._beat(IDLE_WORKER)
    assert alive(tmp_path) == [os.getpid()]


def test_an_idle_batcher_is_never_stalled_however_long_it_waits(database, tmp_path):
    progress = Progress()
    batcher = Batcher(FakeRuntimes(FakeModel()), progress=progress)
    assert batcher.submit(new_job().id).result(timeout=10) is True
    wait_for(lambda: progress.stalled(0.0) == {})  # done with its work: no bound, however small, is passed
    beat = LivenessBeat(tmp_path, stall_seconds=0.0, progress=progress)
    beat._beat(IDLE_WORKER)
    assert alive(tmp_path) == [os.getpid()]
