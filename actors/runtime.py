"""ONNX Runtime models, shaped like optimum's ORTModel but without torch or transformers.

`from_pretrained(path, *, session_options)` reads the prepared directory (model.onnx, tokenizer.json,
manifest.json) once; `__call__` delegates to a typed `forward`. Tokenization uses the `tokenizers`
library directly. One instance per model per worker process, shared by its threads (ONNX Runtime's
`run` and a configured `Tokenizer` are safe to call concurrently).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

from actors.catalog import read_manifest
from inference_api.errors import ModelError


def session_options(intra_op_threads: int = 1) -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.intra_op_num_threads = intra_op_threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return options


class ORTModel:
    """A prepared model directory loaded into one ONNX Runtime session and one tokenizer."""

    task: str = ""

    def __init__(self, session: ort.InferenceSession, tokenizer: Tokenizer, manifest: dict[str, Any]):
        self.session = session
        self.tokenizer = tokenizer
        self.manifest = manifest
        self.max_length: int = manifest["max_length"]
        self.input_names = [i.name for i in session.get_inputs()]
        self.output_names = [o.name for o in session.get_outputs()]
        padding = tokenizer.padding or {}
        tokenizer.enable_padding(pad_id=padding.get("pad_id", 0), pad_token=padding.get("pad_token", "[PAD]"))
        tokenizer.enable_truncation(max_length=self.max_length)

    @classmethod
    def from_pretrained(cls, path: str | Path, *, session_options: ort.SessionOptions | None = None) -> ORTModel:
        path = Path(path)
        manifest = read_manifest(path)
        if cls.task and manifest.get("task") != cls.task:
            raise ModelError(f"{path} holds a {manifest.get('task')!r} model, not {cls.task!r}")
        session = ort.InferenceSession(
            str(path / manifest.get("onnx", "model.onnx")),
            sess_options=session_options,
            providers=["CPUExecutionProvider"],
        )
        tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        return cls(session, tokenizer, manifest)

    def tokenize(self, texts: list[str]) -> tuple[dict[str, np.ndarray], list[bool]]:
        encodings = self.tokenizer.encode_batch(texts)
        feeds = {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }
        truncated = [bool(e.overflowing) for e in encodings]
        return {name: feeds[name] for name in self.input_names}, truncated

    def __call__(self, inputs: list[str], **parameters: Any) -> list[dict[str, Any]]:
        return self.forward(inputs, **parameters)

    def forward(self, inputs: list[str], **parameters: Any) -> list[dict[str, Any]]:
        raise NotImplementedError


class ORTModelForFeatureExtraction(ORTModel):
    """Sentence embeddings: encoder, then pooling and normalization as the model's
    sentence-transformers configuration says (recorded in the manifest at preparation)."""

    task = "feature-extraction"

    def forward(self, inputs: list[str], *, normalize: bool | None = None) -> list[dict[str, Any]]:
        feeds, truncated = self.tokenize(inputs)
        hidden = self.session.run([self.output_names[0]], feeds)[0]
        embeddings = pool(hidden, feeds["attention_mask"], self.manifest.get("pooling", "mean"))
        if self.manifest.get("normalize", False) if normalize is None else normalize:
            embeddings = embeddings / np.maximum(np.linalg.norm(embeddings, axis=1, keepdims=True), 1e-12)
        tokens = feeds["attention_mask"].sum(axis=1)
        return [
            {"embedding": vector.tolist(), "tokens": int(count), "truncated": cut}
            for vector, count, cut in zip(embeddings, tokens, truncated, strict=True)
        ]


def pool(hidden: np.ndarray, mask: np.ndarray, mode: str) -> np.ndarray:
    """sentence-transformers' pooling modes over [batch, tokens, dim] with the attention mask."""
    mask = mask[..., None].astype(hidden.dtype)
    if mode == "cls":
        return hidden[:, 0]
    if mode == "max":
        return np.where(mask > 0, hidden, np.finfo(hidden.dtype).min).max(axis=1)
    summed = (hidden * mask).sum(axis=1)
    counts = np.maximum(mask.sum(axis=1), 1e-9)
    if mode == "mean":
        return summed / counts
    if mode == "mean_sqrt_len":
        return summed / np.sqrt(counts)
    raise ModelError(f"unsupported pooling mode {mode!r}")


RUNTIMES: dict[str, type[ORTModel]] = {ORTModelForFeatureExtraction.task: ORTModelForFeatureExtraction}


def load(path: str | Path, *, intra_op_threads: int = 1) -> ORTModel:
    manifest = read_manifest(Path(path))
    runtime = RUNTIMES.get(manifest.get("task"))
    if runtime is None:
        raise ModelError(f"no runtime for task {manifest.get('task')!r}")
    return runtime.from_pretrained(path, session_options=session_options(intra_op_threads))
