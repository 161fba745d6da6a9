"""Text generation: an exported decoder run with its KV cache, greedy or sampled, one prompt at a time.

Each new token is one ONNX run: a call checks the batch's deadline before each (`actors.runs.check_deadline`)
and reports a step after each (the worker's liveness), so a job of many prompts and tokens stops within a
token of its batch's time bound and never looks stalled while it runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from actors.ort_model import InputTooLong, ORTModel
from actors.runs import NO_DEADLINE, check_deadline, no_step
from catalog.tasks import DEFAULT_MAX_NEW_TOKENS


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

    def call(
        self, inputs: Any, *, task: str | None, deadline: float, step: Callable[[], None], **parameters: Any
    ) -> list[dict[str, Any]]:
        return self.forward(inputs, deadline=deadline, step=step, **parameters)

    def forward(
        self,
        inputs: list[str],
        *,
        deadline: float = NO_DEADLINE,
        step: Callable[[], None] = no_step,
        max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
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
            new, reason = self.generate_ids(
                ids, max_new_tokens, rng=rng, sampling=sampling, stop=stop, deadline=deadline, step=step
            )
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
        deadline: float = NO_DEADLINE,
        step: Callable[[], None] = no_step,
    ) -> tuple[list[int], str]:
        """New token ids after `prompt_ids`, and why generation ended: "eos", "stop" or "length". Each token is
        one ONNX run: past `deadline` (time.monotonic), `BatchTimeout` before the next; `step` after each."""
        if not prompt_ids:
            prompt_ids = [self.eos_token_id]  # an empty prompt starts from the beginning-of-text token
        past = {i.name: np.zeros((1, i.shape[1], 0, i.shape[3]), dtype=self.past_dtype) for i in self.past_inputs}
        step_ids = np.array([prompt_ids], dtype=np.int64)
        length, new = 0, []
        for _ in range(max_new_tokens):
            check_deadline(deadline)
            total = length + step_ids.shape[1]
            feeds = {
                "input_ids": step_ids,
                "attention_mask": np.ones((1, total), dtype=np.int64),
                "position_ids": np.arange(length, total, dtype=np.int64)[None, :],
                **past,
            }
            outputs = self.session.run(None, {k: v for k, v in feeds.items() if k in self.input_names})
            step()
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
