"""Short, varied texts (8 to 15 words, English and Portuguese), the same ones on every run."""

from __future__ import annotations

import json
import random

SUBJECTS = [
    "the customer", "our support team", "the new phone", "this restaurant", "the delivery driver",
    "my neighbour", "the football club", "o atendimento", "a entrega", "o time", "the hotel staff",
    "the mobile app", "the airline", "a loja", "the teacher", "the software update",
]  # fmt: skip
VERBS = [
    "arrived", "worked", "answered", "failed", "improved", "surprised everyone", "broke down",
    "chegou", "funcionou", "respondeu", "was praised", "kept crashing", "looked great",
]  # fmt: skip
TAILS = [
    "much later than the promised date", "after three long weeks of waiting", "without any problem at all",
    "com muita rapidez e cuidado", "just before the big match on Sunday", "and nobody explained why",
    "in the middle of a busy morning", "depois de muita espera", "better than we had hoped for",
    "while the battery was almost empty", "for the second time this month", "e todos ficaram felizes",
    "right after the last software update", "despite the heavy rain outside", "as everyone expected",
]  # fmt: skip
OPENERS = ["Honestly,", "Yesterday", "Hoje", "Again", "Finally", "Sadly,", "Apparently", "Once more"]


def texts(count: int, *, seed: int = 7) -> list[str]:
    """`count` texts of 8 to 15 words, deterministic for a given seed."""
    rng = random.Random(seed)
    made: list[str] = []
    while len(made) < count:
        words = f"{rng.choice(OPENERS)} {rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(TAILS)}".split()
        if rng.random() < 0.5:
            words += rng.choice(TAILS).split()[:3]
        if 8 <= len(words) <= 15:
            made.append(" ".join(words) + rng.choice([".", "!", "?", "."]))
    return made


def request_bodies(model: str, count: int, *, seed: int) -> list[bytes]:
    """POST /inference bodies of one text each, for `model`."""
    return [json.dumps({"model": model, "inputs": text}).encode() for text in texts(count, seed=seed)]
