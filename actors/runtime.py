"""ONNX Runtime models by task, and how a prepared model directory is loaded into one.

The models are shaped like optimum's ORTModel without torch or transformers (`actors.ort_model`): the
encoders (`actors.encoders`) and text generation (`actors.generation`). `load(path)` picks the one for the
task its manifest names.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from pathlib import Path

from actors.encoders import (
    ORTEncoder,
    ORTModelForFeatureExtraction,
    ORTModelForSequenceClassification,
    pool,
    unit,
)
from actors.generation import ORTModelForCausalLM
from actors.ort_model import InputTooLong, ORTModel, session_options
from catalog import read_manifest
from core.errors import ModelError

__all__ = [
    "RUNTIMES",
    "InputTooLong",
    "ORTEncoder",
    "ORTModel",
    "ORTModelForCausalLM",
    "ORTModelForFeatureExtraction",
    "ORTModelForSequenceClassification",
    "load",
    "pool",
    "release_freed_heap",
    "session_options",
    "unit",
]

RUNTIMES: dict[str, type[ORTModel]] = {
    task: runtime
    for runtime in (ORTModelForFeatureExtraction, ORTModelForSequenceClassification, ORTModelForCausalLM)
    for task in runtime.tasks
}


def load(path: str | Path, *, intra_op_threads: int = 1) -> ORTModel:
    task = read_manifest(Path(path)).get("task")
    runtime = RUNTIMES.get(task)
    if runtime is None:
        raise ModelError(f"no runtime for task {task!r}")
    model = runtime.from_pretrained(path, session_options=session_options(intra_op_threads))
    release_freed_heap()
    return model


def release_freed_heap() -> bool:
    """Give the heap that loading a model freed (the graph before optimization, the weights before
    prepacking) back to the system. glibc keeps freed memory for reuse otherwise, so a worker would carry
    it for its whole life. False where there is no glibc (`malloc_trim` is glibc's)."""
    name = ctypes.util.find_library("c")
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError, TypeError):
        return False
    trim(0)
    return True
