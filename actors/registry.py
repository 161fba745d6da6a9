"""The models loaded in this worker process: one ONNX Runtime model per catalog entry, loaded once
(on first use or by `PreloadModels`) and shared by the process' threads."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from actors.metrics import MODEL_LOAD_SECONDS
from catalog import Catalog, prepared
from core.errors import ModelNotPrepared, ModelUnavailable, UnknownModel

logger = logging.getLogger(__name__)


class Runtimes:
    def __init__(self, catalog: Catalog, models_dir: Path, *, intra_op_threads: int = 1):
        self.catalog = catalog
        self.models_dir = Path(models_dir)
        self.intra_op_threads = intra_op_threads
        self._loaded: dict[str, object] = {}
        self._lock = threading.Lock()
        self._preloading = False
        self._listeners: list = []

    def loaded(self) -> list[str]:
        """The models loaded in this process now, by name."""
        return sorted(self._loaded)

    def on_load(self, listener) -> None:
        """Call `listener(name)` after each model loads (the heartbeat reports it at once)."""
        self._listeners.append(listener)

    def preload(self, names: list[str]) -> None:
        self._preloading = True
        try:
            for name in names:
                self.get(name)
        finally:
            self._preloading = False

    def preload_names(self, setting: str) -> list[str]:
        """Which models to load at worker start: PRELOAD_MODELS ("" = the default, "all" = every prepared
        model, "none", or a comma-separated list). The others load on first use."""
        setting = setting.strip()
        if not setting:
            return [self.catalog.default]
        if setting == "none":
            return []
        if setting == "all":
            return [spec.name for spec in self.catalog if prepared(self.models_dir, spec.name)]
        names = [name.strip() for name in setting.split(",") if name.strip()]
        unknown = [name for name in names if self.catalog.get(name) is None]
        if unknown:
            raise UnknownModel(f"PRELOAD_MODELS names model(s) not in the catalog: {', '.join(unknown)}")
        return names

    def get(self, name: str):
        model = self._loaded.get(name)
        if model is not None:
            return model
        with self._lock:
            if name not in self._loaded:
                self._loaded[name] = self._load(name)
                for listener in self._listeners:
                    listener(name)
            return self._loaded[name]

    def _load(self, name: str):
        from actors import runtime  # onnxruntime is imported by workers only, never by the API

        if self.catalog.get(name) is None:
            raise UnknownModel(f"model {name!r} is not in the catalog")
        path = self.models_dir / name
        if not prepared(self.models_dir, name):
            raise ModelNotPrepared(f"model {name!r} is not prepared: run `inference-api models prepare {name}`")
        started = time.perf_counter()
        try:
            model = runtime.load(path, intra_op_threads=self.intra_op_threads)
        except Exception as e:  # ONNX Runtime, a file, memory: this worker's fault, retried (`ModelUnavailable`)
            logger.error("could not load model %s from %s: %s: %s", name, path, type(e).__name__, e)
            raise ModelUnavailable(f"model {name!r} could not be loaded on a worker") from e
        how = "preloaded" if self._preloading else "on first use"
        seconds = time.perf_counter() - started
        MODEL_LOAD_SECONDS.labels(name).observe(seconds)
        logger.info("loaded model %s (%s) in %.0f ms", name, how, seconds * 1000)
        return model
