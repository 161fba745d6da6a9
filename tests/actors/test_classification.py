"""Text classification on a tiny random BERT built by the test, exported for real, against PyTorch."""

import numpy as np
import pytest

from actors import runtime

pytestmark = pytest.mark.slow

TEXTS = [
    "it was a great movie and i love the story",
    "a terrible film with bad acting",
    "vai corinthians",
    "hello",
    "the quick brown fox " * 30,  # past the tiny model's 64 positions
]


@pytest.fixture(scope="module")
def model(tiny):
    _, _, models, _ = tiny
    return runtime.load(models / "tiny-bert-classifier")


@pytest.fixture(scope="module")
def reference(tiny):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    source = tiny[3]["tiny-bert-classifier"]
    tokenizer = AutoTokenizer.from_pretrained(source)
    net = AutoModelForSequenceClassification.from_pretrained(source).eval()
    with torch.no_grad():
        batch = tokenizer(TEXTS, padding=True, truncation=True, max_length=64, return_tensors="pt")
        return torch.softmax(net(**batch).logits, dim=-1).numpy(), net.config.id2label


def test_the_top_label_and_probabilities_equal_pytorch(model, reference):
    probabilities, id2label = reference
    results = model(TEXTS, top_k=None)
    for result, expected in zip(results, probabilities, strict=True):
        scores = {item["label"]: item["score"] for item in result["labels"]}
        assert result["labels"][0]["label"] == id2label[int(np.argmax(expected))]
        for index, probability in enumerate(expected):
            assert scores[id2label[index]] == pytest.approx(float(probability), abs=1e-4)


def test_top_k_returns_that_many_labels_best_first(model):
    (one,) = model(TEXTS[:1])
    (every,) = model(TEXTS[:1], top_k=None)
    assert len(one["labels"]) == 1 and len(every["labels"]) == 3
    assert sorted(item["label"] for item in every["labels"]) == ["negative", "neutral", "positive"]
    assert [item["score"] for item in every["labels"]] == sorted(
        (item["score"] for item in every["labels"]), reverse=True
    )
    assert sum(item["score"] for item in every["labels"]) == pytest.approx(1.0)
    assert one["labels"][0] == every["labels"][0]


def test_an_input_past_the_max_length_is_truncated_and_says_so(model):
    results = model(TEXTS)
    assert [r["truncated"] for r in results] == [False, False, False, False, True]
    with pytest.raises(runtime.InputTooLong):
        model(TEXTS, truncate=False)
