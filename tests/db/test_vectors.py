"""Embeddings packed as float32 bytes and put back; anything else is left as JSON, exactly."""

from __future__ import annotations

import math
import random
from array import array

import pytest

from db import Job, Status
from db.vectors import pack, unpack


def float32(values):
    return array("f", values).tolist()  # what ONNX Runtime's float32 vectors become in Python


def test_an_embedding_output_packs_into_bytes_and_unpacks_rounded_to_8_decimals():
    vectors = [float32([0.1, -0.25, 1 / 3]), float32([2.0, 0.0, -1e-9])]
    output = [{"embedding": v, "tokens": 4, "truncated": False} for v in vectors]
    rest, packed = pack(output)
    assert rest == [{"tokens": 4, "truncated": False}] * 2
    assert len(packed) == 2 * 3 * 4  # float32
    back = unpack(rest, packed)
    assert [item["tokens"] for item in back] == [4, 4]
    assert back[0]["embedding"] == [round(x, 8) for x in vectors[0]] == [0.1, -0.25, 0.33333334]
    assert list(back[0]) == ["embedding", "tokens", "truncated"]  # the order the API always showed


def test_unpacking_rounds_as_round_to_8_decimals_does_for_every_float32_value_it_meets():
    randoms = random.Random(7)
    values = float32(
        [randoms.uniform(-2, 2) * 10.0 ** randoms.randint(-10, 4) for _ in range(20_000)]
        + [0.5e-8, 1.5e-8, 2.5e-8, -0.5e-8, 0.0, -0.0, 3.4e38, 1.4e-45]  # halfway cases, extremes
    )
    rest, packed = pack([{"embedding": values}])
    assert unpack(rest, packed)[0]["embedding"] == [round(x, 8) for x in values]


def test_an_infinity_or_a_nan_unpacks_as_it_was_stored():
    rest, packed = pack([{"embedding": float32([1.0, math.inf])}])
    assert unpack(rest, packed)[0]["embedding"] == [1.0, math.inf]
    rest, packed = pack([{"embedding": [0.0]}])
    nan = unpack(rest, array("f", [math.nan]).tobytes())[0]["embedding"][0]
    assert math.isnan(nan)


@pytest.mark.parametrize(
    "output",
    [
        None,
        [],
        [{"label": "POSITIVE", "score": 0.9}],  # classification
        [{"score": 0.5}],  # similarity
        [{"embedding": [0.1, 0.2]}],  # float64 values: packing would change them
        [{"embedding": [1.0, 2.0]}, {"embedding": [1.0]}],  # ragged
        [{"embedding": ["a"]}],
        [{"embedding": []}],
        "text",
    ],
)
def test_outputs_that_are_not_float32_embeddings_stay_as_they_are(output):
    assert pack(output) == (output, None)
    assert unpack(output, None) == output


def test_a_finished_job_stores_its_vectors_as_bytes_and_reads_back_its_output(database):
    job = Job.create(model="m", task="feature-extraction", inputs=["a", "b"])
    Job.claim_fresh([job.id])
    output = [{"embedding": float32([0.5, -0.125]), "tokens": 3, "truncated": False}] * 2
    assert Job.get_by_id(job.id).finish(Status.SUCCEEDED, output=output)
    stored = Job.get_by_id(job.id)
    assert stored.vectors is not None and stored.result == [{"tokens": 3, "truncated": False}] * 2
    assert stored.output == output
