"""GET /models and GET /models/{name}: the catalog, what is prepared and what live workers have loaded.

Answered from the database (`db.fleet`), never from files: true whichever host serves the request.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

import falcon

from catalog import Catalog, ModelSpec
from core.errors import UnknownModel
from db import PreparedModel, WorkerProcess


class ModelCollection:
    def __init__(self, catalog: Catalog):
        self.catalog = catalog

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        prepared, loaded = PreparedModel.latest(), WorkerProcess.loaded()
        resp.media = {
            "default": self.catalog.default,
            "models": [model_view(spec, self.catalog, prepared.get(spec.name), loaded) for spec in self.catalog],
        }


class ModelItem(ModelCollection):
    def on_get(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        spec = self.catalog.models.get(name)
        if spec is None:
            raise UnknownModel(f"no model {name!r} in the catalog (see GET /models)")
        resp.media = model_view(spec, self.catalog, PreparedModel.latest().get(name), WorkerProcess.loaded())


def model_view(spec: ModelSpec, catalog: Catalog, row: PreparedModel | None, loaded: Counter[str]) -> dict[str, Any]:
    """A catalog entry; `prepared` when a preparation is recorded (then what its manifest says), `ready`
    when at least one live worker process has it loaded, `workers` how many."""
    view: dict[str, Any] = {
        "name": spec.name,
        "task": spec.task,
        "tasks": list(spec.tasks),
        "source": spec.source,
        "default": spec.name == catalog.default,
        "quantization": spec.quantize,
        "optimization": spec.optimize,
        "batching": {"max_batch_size": spec.max_batch_size, "max_wait_ms": spec.max_wait_ms},
        "prepared": row is not None,
        "ready": loaded[spec.name] > 0,
        "workers": loaded[spec.name],
        "max_length": spec.max_length,
    }
    if row is None:
        return view
    manifest = row.manifest or {}
    view.update({key: manifest[key] for key in DESCRIBED if key in manifest})
    view.update(
        onnx_bytes=row.onnx_bytes,
        quantization=row.quantization,
        prepared_at=row.prepared_at.isoformat(timespec="seconds") + "Z",
        versions=row.versions,
    )
    return view


DESCRIBED = ("max_length", "dimensions", "pooling", "normalize", "labels")


class Readiness:
    """Whether a live worker has a model loaded, for the `Inference-Model-Ready` header of an accepted job.

    Read at most once per `ttl` seconds per process, so accepting a job costs no extra query under load;
    the answer is advice (a worker may be starting, or load the model on first use), never a refusal."""

    def __init__(self, ttl: float = 2.0):
        self.ttl = ttl
        self._loaded: Counter[str] = Counter()
        self._read_at = float("-inf")
        self._lock = threading.Lock()

    def ready(self, model: str) -> bool | None:
        """None when the database cannot say: the job is accepted already, so that is no error."""
        with self._lock:
            if time.monotonic() - self._read_at >= self.ttl:
                try:
                    self._loaded = WorkerProcess.loaded()
                except Exception:  # peewee and driver errors alike: the header is left out
                    return None
                self._read_at = time.monotonic()
            return self._loaded[model] > 0
