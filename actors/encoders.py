"""Encoder models over padded batches: sentence embeddings (and similarity) and text classification."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
from tokenizers import Encoding

from actors.ort_model import InputTooLong, ORTModel
from core.errors import ModelError


class ORTEncoder(ORTModel):
    """An encoder over padded batches: inputs truncated at max_length, each run padded to its longest.

    Subclasses turn a run's encodings into outputs (`outputs`). A batch's texts are tokenized once and run
    sorted by token count (`runs`), so each run pads little: characters are a poor proxy for tokens when
    languages mix (docs/performance.md)."""

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

    def call(
        self, inputs: Any, *, task: str | None, deadline: float, step: Callable[[], None], **parameters: Any
    ) -> list[dict[str, Any]]:
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
