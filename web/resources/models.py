"""GET /models and GET /models/{name}: the catalog and what is prepared."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import falcon

from catalog import Catalog, ModelSpec, read_manifest
from core.errors import ModelNotPrepared, UnknownModel


class ModelCollection:
    def __init__(self, catalog: Catalog, models_dir: Path):
        self.catalog = catalog
        self.models_dir = models_dir

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {
            "default": self.catalog.default,
            "models": [model_view(spec, self.models_dir, self.catalog) for spec in self.catalog],
        }


class ModelItem(ModelCollection):
    def on_get(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        spec = self.catalog.models.get(name)
        if spec is None:
            raise UnknownModel(f"no model {name!r} in the catalog (see GET /models)")
        resp.media = model_view(spec, self.models_dir, self.catalog)


def model_view(spec: ModelSpec, models_dir: Path, catalog: Catalog) -> dict[str, Any]:
    view: dict[str, Any] = {
        "name": spec.name,
        "task": spec.task,
        "tasks": list(spec.tasks),
        "source": spec.source,
        "default": spec.name == catalog.default,
        "quantization": spec.quantize,
        "optimization": spec.optimize,
        "batching": {"max_batch_size": spec.max_batch_size, "max_wait_ms": spec.max_wait_ms},
        "prepared": False,
        "max_length": spec.max_length,
    }
    try:
        manifest = read_manifest(models_dir / spec.name)
    except ModelNotPrepared:
        return view
    onnx = models_dir / spec.name / manifest.get("onnx", "model.onnx")
    view.update(prepared=True, onnx_bytes=onnx.stat().st_size if onnx.exists() else None)
    view.update({key: manifest[key] for key in DESCRIBED if key in manifest})
    return view


DESCRIBED = ("max_length", "dimensions", "pooling", "normalize", "labels", "quantization", "prepared_at", "versions")
