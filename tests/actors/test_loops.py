"""Each lane its loop: the bulk lane's runs take place on their own thread, at a lower CPU priority, and an
interactive job never waits behind a bulk run in progress."""

from __future__ import annotations

import os
import threading
import time

import pytest

from actors import loops
from actors.batching import Batcher
from actors.lanes import BULK
from actors.loops import lower_priority
from actors.progress import Progress
from db import Job
from tests.doubles import FakeRuntimes

pytestmark = pytest.mark.skipif(not hasattr(os, "getpriority"), reason="per-thread priority is Linux's")


def new_job(text: str) -> Job:
    return Job.create(model="all-MiniLM-L6-v2", task="feature-extraction", inputs=[text])


class BlockingModel:
    """A model whose runs of bulk inputs block until `release` is set; it records the thread of each run."""

    def __init__(self):
        self.release, self.entered = threading.Event(), threading.Event()
        self.threads: dict[str, int] = {}  # "bulk" or "interactive" -> native id of the thread that ran it

    def __call__(self, inputs, **parameters):
        kind = "bulk" if "bulk" in inputs else "interactive"
        self.threads[kind] = threading.get_native_id()
        if kind == "bulk":
            self.entered.set()
            assert self.release.wait(30), "never released"
        return [{"embedding": [float(len(text))]} for text in inputs]


def test_an_interactive_job_finishes_while_a_long_bulk_run_is_in_progress(database):
    model, progress = BlockingModel(), Progress()
    batcher = Batcher(FakeRuntimes(model), progress=progress, bulk_nice=19)
    try:
        [bulk_future] = batcher.submit_many([new_job("bulk").id], lane=BULK, owner="key-a")
        assert model.entered.wait(10)
        interactive = batcher.submit(new_job("hello").id)
        assert interactive.result(timeout=10) is True  # before the bulk run returns
        assert not bulk_future.done()
        deadline = time.monotonic() + 5
        while set(progress.stalled(0.0)) != {"bulk batcher"}:  # the bulk loop has work; nothing else has
            assert time.monotonic() < deadline, progress.stalled(0.0)
            time.sleep(0.01)
    finally:
        model.release.set()
    assert bulk_future.result(timeout=10) is True


def test_the_bulk_loop_runs_on_its_own_thread_at_the_configured_nice(database):
    model = BlockingModel()
    batcher = Batcher(FakeRuntimes(model), bulk_nice=17)
    assert batcher.submit(new_job("hello").id).result(timeout=10) is True
    try:
        batcher.submit_many([new_job("bulk").id], lane=BULK, owner="key-a")
        assert model.entered.wait(10)
        bulk_thread, interactive_thread = model.threads["bulk"], model.threads["interactive"]
        assert bulk_thread != interactive_thread
        assert os.getpriority(os.PRIO_PROCESS, bulk_thread) == 17
        assert os.getpriority(os.PRIO_PROCESS, interactive_thread) == os.getpriority(os.PRIO_PROCESS, 0)
    finally:
        model.release.set()


def test_a_thread_never_raises_its_priority_and_none_leaves_it_alone():
    seen = {}

    def run():
        seen["start"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        seen["none"] = lower_priority(None)
        seen["same"] = lower_priority(seen["start"])
        seen["lower"] = lower_priority(min(19, seen["start"] + 1))
        seen["raise"] = lower_priority(0)  # asks for more priority than it has: kept as it is (no privilege)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    lowered = min(19, seen["start"] + 1)
    assert seen["none"] is None and seen["same"] == seen["start"]
    assert seen["lower"] == lowered and seen["raise"] == lowered
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == seen["start"]  # only that thread


def test_the_bulk_loop_pauses_after_its_batches_only_while_interactive_batches_are_recent():
    batcher = Batcher(FakeRuntimes(BlockingModel()), progress=Progress())
    interactive, bulk = batcher.loops["interactive"], batcher.loops[BULK]
    assert bulk.yields_to is interactive and interactive.yields_to is None
    assert bulk.pause(0.05) == 0.0  # no interactive batch yet: bulk work runs flat out
    interactive.last_batch = time.monotonic()
    assert bulk.pause(0.05) == pytest.approx(loops.YIELD * 0.05)  # a quarter of the time, or so
    assert bulk.pause(10.0) == loops.MAX_PAUSE
    assert interactive.pause(0.05) == 0.0  # the interactive loop never pauses
    interactive.last_batch = time.monotonic() - loops.RECENT - 0.1
    assert bulk.pause(0.05) == 0.0
