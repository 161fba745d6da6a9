"""Token counts for the `truncate: false` check at the door: the prepared model's own tokenizer, loaded
on first use. Only the embedded mode uses it (its models are at hand); a separate API process reads no
model files, and the worker refuses such an input instead (the job fails with the reason)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from catalog import read_manifest
from core.errors import ModelNotPrepared


class TokenCounter:
    def __init__(self, models_dir: Path):
        self.models_dir = Path(models_dir)
        self._loaded: dict[str, tuple[Any, int]] = {}
        self._lock = threading.Lock()

    def limit(self, model: str) -> tuple[Any, int] | None:
        """The tokenizer and max length of a prepared model; None when it is not prepared here (or this
        install has no `tokenizers`)."""
        with self._lock:
            if model not in self._loaded:
                try:
                    manifest = read_manifest(self.models_dir / model)
                except ModelNotPrepared:
                    return None
                try:
                    from tokenizers import Tokenizer
                except ImportError:  # an API-only install: the worker checks the length and fails the job
                    return None

                tokenizer = Tokenizer.from_file(str(self.models_dir / model / "tokenizer.json"))
                tokenizer.no_truncation()
                tokenizer.no_padding()
                self._loaded[model] = (tokenizer, manifest["max_length"])
            return self._loaded[model]

    def count(self, model: str, texts: list[str]) -> tuple[list[int], int] | None:
        """Tokens per text (special tokens included) and the model's max length, or None if unknown."""
        known = self.limit(model)
        if known is None:
            return None
        tokenizer, max_length = known
        return [len(e.ids) for e in tokenizer.encode_batch(texts)], max_length
