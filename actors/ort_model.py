"""The base of our ONNX Runtime models, shaped like optimum's ORTModel but without torch or transformers.

`from_pretrained(path, *, session_options)` reads the prepared directory (model.onnx, tokenizer.json,
manifest.json) once; `__call__` delegates to a typed `forward`. Tokenization uses the `tokenizers`
library directly. One instance per model per worker process, shared by its threads (ONNX Runtime's
`run` and a configured `Tokenizer` are safe to call concurrently). A call takes the batch's `deadline`
(`time.monotonic`): past it, `actors.runs.BatchTimeout` instead of a run; a model that makes several runs a
call (text generation) checks it between them. The models per task are in
`actors.encoders` and `actors.generation`; `actors.runtime` loads them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import onnxruntime as ort
from tokenizers import Tokenizer

from actors.runs import NO_DEADLINE, check_deadline, no_step
from catalog import read_manifest
from core.errors import ModelError


def session_options(intra_op_threads: int = 1) -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.intra_op_num_threads = intra_op_threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.enable_mem_pattern = False  # shapes change with every batch: patterns only cost memory
    return options


class InputTooLong(ModelError):
    """An input is longer than the model takes and the request said `truncate: false`."""


class ORTModel:
    """A prepared model directory loaded into one ONNX Runtime session and one tokenizer."""

    tasks: tuple[str, ...] = ()

    def __init__(self, session: ort.InferenceSession, tokenizer: Tokenizer, manifest: dict[str, Any]):
        self.session = session
        self.tokenizer = tokenizer
        self.manifest = manifest
        self.max_length: int = manifest["max_length"]
        self.input_names = [i.name for i in session.get_inputs()]
        self.output_names = [o.name for o in session.get_outputs()]

    @classmethod
    def from_pretrained(cls, path: str | Path, *, session_options: ort.SessionOptions | None = None) -> ORTModel:
        path = Path(path)
        manifest = read_manifest(path)
        if manifest.get("task") not in cls.tasks:
            raise ModelError(f"{path} holds a {manifest.get('task')!r} model, not one of {cls.tasks}")
        session = ort.InferenceSession(
            str(path / manifest.get("onnx", "model.onnx")),
            sess_options=session_options,
            providers=["CPUExecutionProvider"],
        )
        return cls(session, Tokenizer.from_file(str(path / "tokenizer.json")), manifest)

    def __call__(
        self,
        inputs: Any,
        *,
        task: str | None = None,
        deadline: float = NO_DEADLINE,
        step: Callable[[], None] = no_step,
        **parameters: Any,
    ) -> list[dict[str, Any]]:
        check_deadline(deadline)  # before the call's first run
        return self.call(inputs, task=task, deadline=deadline, step=step, **parameters)

    def call(
        self, inputs: Any, *, task: str | None, deadline: float, step: Callable[[], None], **parameters: Any
    ) -> list[dict[str, Any]]:
        """What a call does, by task: one run of `forward` (a model of several runs a call checks `deadline`
        between them and reports each with `step`)."""
        return self.forward(inputs, **parameters)

    def forward(self, inputs: Any, **parameters: Any) -> list[dict[str, Any]]:
        raise NotImplementedError
