"""The ONNX runtime on the real export of all-MiniLM-L6-v2, against sentence-transformers (PyTorch)."""

import sys

import numpy as np
import pytest

from actors import runtime
from db.vectors import pack
from tests.doubles import TEXTS
from tests.parity import cosine, sentence_transformer


@pytest.fixture(scope="module")
def model(models_dir):
    return runtime.load(models_dir / "all-MiniLM-L6-v2")


@pytest.fixture(scope="module")
def int8(models_dir):
    return runtime.load(models_dir / "all-MiniLM-L6-v2-int8")


@pytest.fixture(scope="module")
def reference():
    return sentence_transformer()


@pytest.mark.slow
def test_embeddings_equal_sentence_transformers_including_a_text_past_the_max_length(model, reference):
    ours = model(TEXTS)
    theirs = reference.encode(TEXTS)
    assert len(ours) == len(TEXTS)
    for text, mine, expected in zip(TEXTS, ours, theirs, strict=True):
        assert len(mine["embedding"]) == 384
        assert cosine(mine["embedding"], expected) >= 0.9999, text[:40]
        assert np.allclose(mine["embedding"], expected, atol=1e-4), text[:40]


@pytest.mark.slow
def test_int8_embeddings_stay_within_cosine_0_99_of_sentence_transformers(int8, reference):
    for text, mine, expected in zip(TEXTS, int8(TEXTS), reference.encode(TEXTS), strict=True):
        assert cosine(mine["embedding"], expected) >= 0.99, text[:40]


@pytest.mark.slow
def test_sentence_similarity_scores_are_the_cosines_of_sentence_transformers_embeddings(model, reference):
    source, sentences = TEXTS[0], TEXTS[1:]
    scores = model({"source_sentence": source, "sentences": sentences}, task="sentence-similarity")
    expected = reference.encode([source, *sentences])
    assert len(scores) == len(sentences)
    for got, want in zip(scores, expected[1:], strict=True):
        assert got["score"] == pytest.approx(cosine(expected[0], want), abs=1e-4)
    assert [s["truncated"] for s in scores] == [False] * 4 + [True]


@pytest.mark.slow
def test_truncate_false_refuses_an_input_past_the_max_length(model):
    with pytest.raises(runtime.InputTooLong, match=r"inputs\[5\] is longer than 256 tokens"):
        model(TEXTS, truncate=False)
    assert len(model(TEXTS[:5], truncate=False)) == 5


@pytest.mark.slow
def test_long_inputs_are_truncated_at_the_sentence_transformers_max_seq_length(model, reference):
    assert model.max_length == reference.max_seq_length == 256
    out = model(TEXTS)
    assert [o["truncated"] for o in out] == [False] * 5 + [True]
    assert out[-1]["tokens"] == 256


@pytest.mark.slow
def test_embeddings_are_normalized_as_the_model_config_says_unless_asked_not_to(model):
    normalized = model(TEXTS[:2])
    raw = model(TEXTS[:2], normalize=False)
    for n, r in zip(normalized, raw, strict=True):
        assert np.linalg.norm(n["embedding"]) == pytest.approx(1.0, abs=1e-5)
        assert np.linalg.norm(r["embedding"]) > 1.5  # mean-pooled MiniLM vectors are far from unit length
        assert np.allclose(np.asarray(r["embedding"]) / np.linalg.norm(r["embedding"]), n["embedding"], atol=1e-6)


@pytest.mark.slow
def test_a_batch_gives_the_same_embedding_as_one_text_at_a_time(model):
    together = model(TEXTS)
    for text, batched in zip(TEXTS, together, strict=True):
        alone = model([text])[0]
        assert np.allclose(alone["embedding"], batched["embedding"], atol=1e-5)


def test_pooling_follows_the_mask():
    hidden = np.array([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]], dtype=np.float32)
    mask = np.array([[1, 1, 0]])
    assert runtime.pool(hidden, mask, "mean").tolist() == [[2.0, 3.0]]
    assert runtime.pool(hidden, mask, "cls").tolist() == [[1.0, 2.0]]
    assert runtime.pool(hidden, mask, "max").tolist() == [[3.0, 4.0]]
    assert np.allclose(runtime.pool(hidden, mask, "mean_sqrt_len"), [[4.0 / np.sqrt(2), 6.0 / np.sqrt(2)]])


@pytest.mark.skipif(sys.platform != "linux", reason="glibc's malloc_trim")
def test_freed_heap_is_handed_back_after_a_load():
    assert runtime.release_freed_heap() is True


@pytest.mark.slow
def test_embeddings_are_float32_values_so_they_are_stored_as_bytes(model):
    out = model(TEXTS[:2])
    rest, packed = pack(out)
    assert packed is not None and len(packed) == 2 * 384 * 4
    assert rest == [{"tokens": o["tokens"], "truncated": o["truncated"]} for o in out]


@pytest.mark.slow
def test_runs_are_sorted_by_tokens_and_give_what_one_call_gives(model):
    # characters and tokens disagree: the Japanese text is short in characters and long in tokens
    texts = [*TEXTS[:5], "ok", "a b c d e f g h i j k l m n o p"]
    tokens = [o["tokens"] for o in model(texts)]
    runs = [(indices, run()) for indices, run in model.runs(texts, 3)]
    assert [len(indices) for indices, _ in runs] == [3, 3, 1]
    order = [i for indices, _ in runs for i in indices]
    assert sorted(order) == list(range(len(texts)))
    assert [tokens[i] for i in order] == sorted(tokens)  # by tokens, which characters would not give
    assert [len(texts[i]) for i in order] != sorted(len(text) for text in texts)
    for indices, outputs in runs:
        for i, output in zip(indices, outputs, strict=True):
            assert output["tokens"] == tokens[i]
            assert np.allclose(output["embedding"], model([texts[i]])[0]["embedding"], atol=1e-5)


@pytest.mark.slow
def test_a_run_is_fed_as_the_tokenizer_would_pad_it(model):
    from tokenizers import Tokenizer

    padded = Tokenizer.from_str(model.tokenizer.to_str())
    padded.enable_padding(pad_id=0, pad_token="[PAD]")
    expected = padded.encode_batch(TEXTS)
    feeds = model.feeds(model.encode(TEXTS))
    assert feeds["input_ids"].tolist() == [e.ids for e in expected]
    assert feeds["attention_mask"].tolist() == [e.attention_mask for e in expected]
    assert feeds["token_type_ids"].tolist() == [e.type_ids for e in expected]


@pytest.mark.slow
def test_runs_refuse_an_input_past_the_max_length_when_truncate_is_false(model):
    with pytest.raises(runtime.InputTooLong, match=r"inputs\[5\]"):
        model.runs(TEXTS, 16, truncate=False)
