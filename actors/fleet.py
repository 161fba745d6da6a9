"""The worker side of the fleet records (`db.fleet`): a prepared model's row, and the heartbeat that says
which models this process has loaded, so `GET /models` is true whichever host answers.

`record_prepared` runs where a model directory is at hand: `inference-api models prepare` right after it
publishes the directory, and a worker when it loads a model whose row is missing (prepared before the
`model` table existed: old deployments converge by themselves).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import uuid
from pathlib import Path

from actors.connection import close_connection
from catalog import read_manifest
from core.errors import ModelNotPrepared
from db import PreparedModel, WorkerProcess
from db.base import utcnow

logger = logging.getLogger(__name__)


def record_prepared(model_dir: Path) -> PreparedModel:
    """Insert or refresh the row of the model prepared in `model_dir`, from its manifest."""
    manifest = read_manifest(model_dir)
    onnx = Path(model_dir) / manifest.get("onnx", "model.onnx")
    return PreparedModel.record(manifest, onnx_bytes=onnx.stat().st_size if onnx.is_file() else None)


class Heartbeat(threading.Thread):
    """Every `every` seconds (and at once when a model loads), record this process and the models it has
    loaded, with an expiry of three beats; prune the rows of processes whose heartbeat expired.

    A database outage is logged once and the beats go on; `stop()` deletes the row (a clean shutdown), a
    killed process' row expires by itself.
    """

    def __init__(self, runtimes, *, every: float, expiry: dt.timedelta | None = None):
        super().__init__(name="worker-heartbeat", daemon=True)
        self.runtimes = runtimes
        self.every = every
        self.expiry = expiry or dt.timedelta(seconds=3 * every)
        self.host, self.pid = socket.gethostname(), os.getpid()
        self.worker_id = f"{self.host[:150]}:{self.pid}:{uuid.uuid4().hex[:8]}"  # pids repeat across containers
        self.started_at = utcnow()
        self.stopping = threading.Event()
        self.poked = threading.Event()
        self.beats = 0  # successful beats, for tests
        self._recorded: set[str] = set()
        self._failing = False
        runtimes.on_load(self.poke)

    def poke(self, *_) -> None:
        """Beat now (a model was loaded)."""
        self.poked.set()

    def run(self) -> None:
        while not self.stopping.is_set():
            self.poked.clear()
            self.beat()
            self.poked.wait(self.every)

    def beat(self) -> bool:
        models = self.runtimes.loaded()
        try:
            for name in (n for n in models if n not in self._recorded):
                self._backfill(name)
            WorkerProcess.beat(
                self.worker_id,
                host=self.host,
                pid=self.pid,
                models=models,
                started_at=self.started_at,
                expiry=self.expiry,
            )
            WorkerProcess.prune()
        except Exception as e:  # the database is down or not migrated: say it once, keep beating
            if not self._failing:
                logger.warning(
                    "worker heartbeat: cannot record in the database (%s); retrying every %g s",
                    type(e).__name__,
                    self.every,
                )
            logger.debug("worker heartbeat: the database's error: %s", e)
            self._failing = True
            return False
        finally:
            close_connection()  # back to the pool between beats
        if self._failing:
            logger.info("worker heartbeat: recorded again")
        self._failing = False
        self.beats += 1
        return True

    def _backfill(self, name: str) -> None:
        """Record a loaded model's preparation if its row is missing (a no-op when it exists). A manifest
        that cannot be read is logged and skipped, so it never stops the beats; database errors propagate."""
        try:
            record_prepared(self.runtimes.models_dir / name)
        except (ModelNotPrepared, OSError, ValueError, KeyError) as e:
            logger.warning("worker heartbeat: cannot record the preparation of %s (%s)", name, e)
        self._recorded.add(name)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop beating and delete this process' row (best effort: otherwise it expires)."""
        self.stopping.set()
        self.poked.set()
        if self.is_alive():
            self.join(timeout)
        try:
            WorkerProcess.forget(self.worker_id)
        except Exception as e:
            logger.warning(
                "worker heartbeat: could not delete row %s (%s); it expires by itself", self.worker_id, type(e).__name__
            )
            logger.debug("worker heartbeat: deleting the row failed: %s", e)
        finally:
            close_connection()
