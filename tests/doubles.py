"""Stand-ins shared by test modules (a test module imports these, never another test module's): a model
that answers by the inputs' lengths, one that takes its time, the runtimes that hand either out, and texts
that exercise tokenization (several languages and scripts, one past the model's maximum length)."""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid

from actors.runs import NO_DEADLINE, no_step
from catalog import Catalog
from core.errors import ModelError
from db import Job
from db.base import utcnow
from db.bulk import Batch, BatchRequest, BatchStatus
from db.bulk.batches import new_batch_id

TEXTS = [
    "Vai Corinthians",
    "The quick brown fox jumps over the lazy dog.",
    "O rato roeu a roupa do rei de Roma.",  # Portuguese
    "Der schnelle braune Fuchs springt über den faulen Hund.",
    "東京は日本の首都です。",
    "long " + "sentence with many words " * 120,  # about 600 tokens: past max_seq_length (256)
]


class FakeModel:
    """Stands in for an ONNX model: one output per input, its length; raises on "poison". It takes the batch's
    `deadline` and `step` as a model does (`actors.ort_model.ORTModel`), and records the other parameters."""

    def __init__(self, fail: Exception | None = None):
        self.calls = []
        self.fail = fail

    def __call__(self, inputs, *, deadline: float = NO_DEADLINE, step=no_step, **parameters):
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


def make_batch(owner: str, lines: int, *, invalid: int = 0) -> Batch:
    """A batch of `owner` in progress whose first `invalid` lines were refused and the rest wait for release
    (the database must be bound)."""
    now = utcnow()
    batch = Batch.create(
        id=new_batch_id(),
        owner=owner,
        endpoint="/v1/embeddings",
        input_file_id="file-in",
        completion_window="24h",
        status=BatchStatus.IN_PROGRESS,
        created_at=now,
        expires_at=now + dt.timedelta(hours=24),
        total=lines,
    )
    for line in range(1, lines + 1):
        fields = {"batch": batch.id, "line": line, "custom_id": f"c{line}", "owner": owner}
        if line <= invalid:
            BatchRequest.create(**fields, error_code="invalid_json", error_message="no")
        else:
            BatchRequest.create(
                **fields, model="m", task="feature-extraction", inputs=[f"t{line}"], parameters={}, job=uuid.uuid4()
            )
    return batch
