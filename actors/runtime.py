"""ONNX Runtime models, shaped like optimum's ORTModel but without torch or transformers.

`from_pretrained(path, *, session_options)` reads the prepared directory (model.onnx, tokenizer.json,
manifest.json) once; `__call__` delegates to a typed `forward`. Tokenization uses the `tokenizers`
library directly. One instance per model per worker process, shared by its threads (ONNX Runtime's
`run` and a configured `Tokenizer` are safe to call concurrently).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from tokenizers import Encoding, Tokenizer

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

    def __call__(self, inputs: Any, *, task: str | None = None, **parameters: Any) -> list[dict[str, Any]]:
        return self.forward(inputs, **parameters)

    def forward(self, inputs: Any, **parameters: Any) -> list[dict[str, Any]]:
        raise NotImplementedError


class ORTEncoder(ORTModel):
    """An encoder over padded batches: inputs truncated at max_length, each run padded to its longest.

    Subclasses turn a run's encodings into outputs (`outputs`). A batch's texts are tokenized once and run
    sorted by token count (`runs`), so each run pads little: characters are a poor proxy for tokens when
    languages mix (README, Performance, has the figures)."""

    def __init__(self, session, tokenizer, manifest):
        super().__init__(session, tokenizer, manifest)
        padding = tokenizer.padding or {}
        self.pad_id, self.pad_type_id = padding.get("pad_id", 0), padding.get("pad_type_id", 0)
        tokenizer.no_padding()  # each run is padded to its own longest (`feeds`)
        tokenizer.enable_truncation(max_length=self.max_length)

    def encode(self, texts: list[str], *, truncate: bool = True) -> list[Encoding]:
        """The texts' encodings, unpadded; `InputTooLong` for one past max_length unless `truncate`."""
        encodings = self.tokenizer.encode_batch(texts)
        if not truncate and (index := next((i for i, e in enumerate(encodings) if e.overflowing), None)) is not None:
            raise InputTooLong(f"inputs[{index}] is longer than {self.max_length} tokens and truncate is false")
        return encodings

    def feeds(self, encodings: list[Encoding]) -> dict[str, np.ndarray]:
        """The model's inputs for one run: the encodings padded on the right to the longest of them."""
        shape = (len(encodings), max(map(len, encodings)))  # an encoding's length is its tokens'
        ids = np.full(shape, self.pad_id, dtype=np.int64)
        mask = np.zeros(shape, dtype=np.int64)
        types = np.full(shape, self.pad_type_id, dtype=np.int64)
        for row, encoding in enumerate(encodings):
            width = len(encoding)
            ids[row, :width], mask[row, :width], types[row, :width] = encoding.ids, 1, encoding.type_ids
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        return {name: feeds[name] for name in self.input_names}

    def forward(self, inputs: list[str], *, truncate: bool = True, **parameters: Any) -> list[dict[str, Any]]:
        return self.outputs(self.encode(inputs, truncate=truncate), **parameters)

    def outputs(self, encodings: list[Encoding], **parameters: Any) -> list[dict[str, Any]]:
        """One run over `encodings`: an output per encoding."""
        raise NotImplementedError

    def runs(
        self, texts: list[str], limit: int, *, task: str | None = None, truncate: bool = True, **parameters: Any
    ) -> list[tuple[list[int], Callable[[], list[dict]]]]:
        """`texts` tokenized once, in runs of at most `limit` sorted by token count: each run's indices into
        `texts`, and a call that runs it and returns its outputs (`actors.batching.run_sorted` calls them)."""
        encodings = self.encode(texts, truncate=truncate)
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i]))
        chunks = [order[start : start + limit] for start in range(0, len(order), limit)]
        return [
            (chunk, functools.partial(self.outputs, [encodings[i] for i in chunk], **parameters)) for chunk in chunks
        ]


class ORTModelForFeatureExtraction(ORTEncoder):
    """Sentence embeddings: encoder, then pooling and normalization as the model's sentence-transformers
    configuration says (recorded in the manifest at preparation). Also serves sentence-similarity."""

    tasks = ("feature-extraction", "sentence-similarity")

    def __call__(self, inputs: Any, *, task: str | None = None, **parameters: Any) -> list[dict[str, Any]]:
        if task == "sentence-similarity":
            return self.similarity(inputs["source_sentence"], inputs["sentences"], **parameters)
        return self.forward(inputs, **parameters)

    def embed(self, encodings: list[Encoding], *, normalize: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The encodings' embeddings and token counts."""
        feeds = self.feeds(encodings)
        hidden = self.session.run([self.output_names[0]], feeds)[0]
        mask = feeds["attention_mask"]
        embeddings = pool(hidden, mask, self.manifest.get("pooling", "mean"))
        if self.manifest.get("normalize", False) if normalize is None else normalize:
            embeddings = unit(embeddings)
        return embeddings, mask.sum(axis=1)

    def outputs(self, encodings: list[Encoding], *, normalize: bool | None = None) -> list[dict[str, Any]]:
        embeddings, tokens = self.embed(encodings, normalize=normalize)
        # The float32 values as they are: `db.vectors` stores exactly those as bytes, and readers get them at
        # 8 decimals (`db.vectors.unpack`). Rounded here, they were no longer float32 values and every
        # embedding went to the database as 4 KB of JSON for PostgreSQL to parse.
        vectors = embeddings.astype(np.float32, copy=False)
        return [
            {"embedding": vector.tolist(), "tokens": int(count), "truncated": bool(encoding.overflowing)}
            for vector, count, encoding in zip(vectors, tokens, encodings, strict=True)
        ]

    def similarity(self, source_sentence: str, sentences: list[str], *, truncate: bool = True):
        """Cosine similarity of the source sentence to each sentence, aligned with `sentences`."""
        encodings = self.encode([source_sentence, *sentences], truncate=truncate)
        embeddings, _ = self.embed(encodings, normalize=True)
        scores = embeddings[1:] @ embeddings[0]
        return [
            {"score": float(score), "truncated": bool(encodings[0].overflowing or encoding.overflowing)}
            for score, encoding in zip(scores, encodings[1:], strict=True)
        ]


class ORTModelForSequenceClassification(ORTEncoder):
    """Labels with scores: softmax, or sigmoid for multi-label (and single-logit) models, as the config says."""

    tasks = ("text-classification",)

    def outputs(self, encodings: list[Encoding], *, top_k: int | None = 1) -> list[dict[str, Any]]:
        logits = self.session.run(["logits"], self.feeds(encodings))[0].astype(np.float64)
        labels = self.manifest["labels"]
        if self.manifest.get("problem_type") == "multi_label_classification" or logits.shape[1] == 1:
            scores = 1.0 / (1.0 + np.exp(-logits))
        else:
            shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
            scores = shifted / shifted.sum(axis=1, keepdims=True)
        results = []
        for row, encoding in zip(scores, encodings, strict=True):
            order = np.argsort(-row, kind="stable")[: top_k or len(row)]
            labelled = [{"label": labels[i], "score": float(row[i])} for i in order]
            results.append({"labels": labelled, "truncated": bool(encoding.overflowing)})
        return results


class ORTModelForCausalLM(ORTModel):
    """Text generation over an exported decoder with its KV cache: greedy or sampled, one prompt at a time."""

    tasks = ("text-generation",)

    def __init__(self, session, tokenizer, manifest):
        super().__init__(session, tokenizer, manifest)
        tokenizer.no_padding()
        tokenizer.no_truncation()
        self.eos_token_id = manifest.get("eos_token_id")
        self.past_inputs = [i for i in session.get_inputs() if i.name.startswith("past_key_values.")]
        self.past_dtype = np.float16 if any("float16" in i.type for i in self.past_inputs) else np.float32

    def forward(
        self,
        inputs: list[str],
        *,
        max_new_tokens: int = 20,
        do_sample: bool = False,
        temperature: float = 1.0,
        top_k: int = 50,
        top_p: float = 1.0,
        seed: int | None = None,
        stop: list[str] | None = None,
        return_full_text: bool = True,
        truncate: bool = True,
    ):
        rng = np.random.default_rng(seed)
        sampling = {"temperature": temperature, "top_k": top_k, "top_p": top_p} if do_sample else None
        results = []
        for index, prompt in enumerate(inputs):
            ids = self.tokenizer.encode(prompt).ids
            budget = self.max_length - max_new_tokens
            truncated = len(ids) > budget
            if truncated and not truncate:
                raise InputTooLong(
                    f"inputs[{index}] has {len(ids)} tokens; with max_new_tokens={max_new_tokens} "
                    f"the model takes {budget} and truncate is false"
                )
            ids = ids[-budget:] if truncated else ids  # keep the end of the prompt, nearest to what follows
            new, reason = self.generate_ids(ids, max_new_tokens, rng=rng, sampling=sampling, stop=stop)
            text = self.tokenizer.decode(new, skip_special_tokens=True)
            if reason == "stop":
                text = _cut_at_stop(text, stop)
            results.append(
                {
                    "generated_text": (prompt + text) if return_full_text else text,
                    "tokens": len(new),
                    "finish_reason": reason,
                    "truncated": truncated,
                }
            )
        return results

    def generate_ids(
        self,
        prompt_ids: list[int],
        max_new_tokens: int,
        *,
        rng: np.random.Generator | None = None,
        sampling: dict[str, float] | None = None,
        stop: list[str] | None = None,
    ) -> tuple[list[int], str]:
        """New token ids after `prompt_ids`, and why generation ended: "eos", "stop" or "length"."""
        if not prompt_ids:
            prompt_ids = [self.eos_token_id]  # an empty prompt starts from the beginning-of-text token
        past = {i.name: np.zeros((1, i.shape[1], 0, i.shape[3]), dtype=self.past_dtype) for i in self.past_inputs}
        step_ids = np.array([prompt_ids], dtype=np.int64)
        length, new = 0, []
        for _ in range(max_new_tokens):
            total = length + step_ids.shape[1]
            feeds = {
                "input_ids": step_ids,
                "attention_mask": np.ones((1, total), dtype=np.int64),
                "position_ids": np.arange(length, total, dtype=np.int64)[None, :],
                **past,
            }
            outputs = self.session.run(None, {k: v for k, v in feeds.items() if k in self.input_names})
            named = dict(zip(self.output_names, outputs, strict=True))
            logits = named["logits"][0, -1].astype(np.float64)
            token = int(np.argmax(logits)) if sampling is None else _sample(logits, rng, **sampling)
            if token == self.eos_token_id:
                return new, "eos"
            new.append(token)
            if stop and _cut_at_stop(self.tokenizer.decode(new, skip_special_tokens=True), stop) is not None:
                return new, "stop"
            past = {name: named[name.replace("past_key_values", "present")] for name in past}
            step_ids, length = np.array([[token]], dtype=np.int64), total
        return new, "length"


def _sample(logits: np.ndarray, rng: np.random.Generator, *, temperature: float, top_k: int, top_p: float) -> int:
    """Sampling as transformers orders it: temperature, then top-k, then top-p (nucleus)."""
    logits = logits / temperature
    if 0 < top_k < logits.size:
        kth = np.partition(logits, -top_k)[-top_k]
        logits = np.where(logits < kth, -np.inf, logits)
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    if top_p < 1.0:
        order = np.argsort(-probs, kind="stable")
        cumulative = np.cumsum(probs[order])
        keep = order[: int(np.searchsorted(cumulative, top_p) + 1)]
        mask = np.zeros_like(probs)
        mask[keep] = 1
        probs = probs * mask / (probs * mask).sum()
    return int(rng.choice(probs.size, p=probs))


def _cut_at_stop(text: str, stop: list[str] | None) -> str | None:
    """The text before the first stop sequence, or None when there is none."""
    positions = [text.find(s) for s in stop or () if s and s in text]
    return text[: min(positions)] if positions else None


def unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


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
