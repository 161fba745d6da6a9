"""Stand-ins shared by test modules (a test module imports these, never another test module's): a model
that answers by the inputs' lengths, one that takes its time, the runtimes that hand either out, and texts
that exercise tokenization (several languages and scripts, one past the model's maximum length)."""

from __future__ import annotations

import threading
import time

from catalog import Catalog
from core.errors import ModelError
from db import Job

TEXTS = [
    "Vai Corinthians",
    "The quick brown fox jumps over the lazy dog.",
    "O rato roeu a roupa do rei de Roma.",  # Portuguese
    "Der schnelle braune Fuchs springt über den faulen Hund.",
    "東京は日本の首都です。",
    "long " + "sentence with many words " * 120,  # about 600 tokens: past max_seq_length (256)
]


class FakeModel:
    """Stands in for an ONNX model: one output per input, its length; raises on "poison"."""

    def __init__(self, fail: Exception | None = None):
        self.calls = []
        self.fail = fail

    def __call__(self, inputs, **parameters):
        self.calls.append((list(inputs), parameters))
        if self.fail:
            raise self.fail
        if "poison" in inputs:
            raise ModelError("poison input")
        return [{"embedding": [float(len(text))]} for text in inputs]


class SlowModel(FakeModel):
    """A FakeModel that takes `seconds` a call: a run long enough for a lease or a time limit to matter;
    `started` is set once a call is under way, for a test to act while it runs."""

    def __init__(self, seconds: float):
        super().__init__()
        self.seconds = seconds
        self.started = threading.Event()

    def __call__(self, inputs, **parameters):
        self.started.set()
        time.sleep(self.seconds)  # the point: a model call that lasts
        return super().__call__(inputs, **parameters)


class FakeRuntimes:
    """Stands in for `actors.registry.Runtimes`: every model name gets the one model given."""

    catalog = Catalog.load()

    def __init__(self, model):
        self.model = model

    def get(self, name):
        return self.model


def new_job(**fields) -> Job:
    """A feature-extraction job of two inputs, queued (the database must be bound)."""
    return Job.create(model="all-MiniLM-L6-v2", task="feature-extraction", inputs=["hi", "there"], **fields)
