"""A prepared model's manifest: written last by preparation, so its presence means "prepared"."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from core.errors import ModelNotPrepared

MANIFEST = "manifest.json"


def prepared(models_dir: Path, name: str) -> bool:
    """Whether `name` is prepared in `models_dir` (its manifest is written last, so it means complete)."""
    return (Path(models_dir) / name / MANIFEST).is_file()


def read_manifest(model_dir: Path) -> dict[str, Any]:
    """The manifest of a prepared model directory; ModelNotPrepared when there is none."""
    try:
        return json.loads((Path(model_dir) / MANIFEST).read_text())
    except FileNotFoundError:
        raise ModelNotPrepared(f"no prepared model in {model_dir}") from None
