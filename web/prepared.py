"""Which catalog models this deployment can run: a request for one that is not prepared is refused at once.

A model is prepared when `inference-api models prepare` recorded it in the database (true whichever host
answers), or, where the model files are at hand (the embedded mode), when its manifest is there. Both are
read at most once per `ttl` seconds per process, and read again before a refusal, so a model prepared a
moment ago is accepted at once and accepting a job costs no query and no look at the disk under load.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from catalog import prepared
from core.errors import ModelNotServed
from db import PreparedModel


class PreparedModels:
    def __init__(self, models_dir: Path | None = None, *, ttl: float = 2.0):
        self.models_dir = models_dir
        self.ttl = ttl
        self._names: frozenset[str] = frozenset()
        self._read_at = float("-inf")
        self._lock = threading.Lock()

    def check(self, name: str) -> None:
        """Raise `ModelNotServed` unless `name` is prepared. A database that cannot say refuses nothing:
        the request then meets the database error where it writes."""
        if name in self.names():
            return
        try:
            known = self._read(fresh=True)
        except Exception:  # peewee and driver errors alike: not this check's to report
            return
        if name not in known:
            raise ModelNotServed(name)

    def names(self) -> frozenset[str]:
        """The prepared models (recorded, or on disk here)."""
        return self._read(fresh=False)

    def _read(self, *, fresh: bool) -> frozenset[str]:
        with self._lock:
            if fresh or time.monotonic() - self._read_at >= self.ttl:
                self._names = self._local() | frozenset(PreparedModel.latest())
                self._read_at = time.monotonic()
            return self._names

    def _local(self) -> frozenset[str]:
        if self.models_dir is None:
            return frozenset()
        directory = Path(self.models_dir)
        if not directory.is_dir():
            return frozenset()
        return frozenset(p.name for p in directory.iterdir() if prepared(directory, p.name))
