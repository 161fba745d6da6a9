"""The official `openai` client against `inference-api serve` (embedded), with and without API keys: its
embeddings equal sentence-transformers' on the same weights, and its errors are the ones it knows."""

import numpy as np
import openai
import pytest

from tests.parity import cosine, sentence_transformer
from tests.processes import serving

pytestmark = pytest.mark.slow

MODEL = "all-MiniLM-L6-v2"
KEY = "e2e-key-3c9d"
TEXTS = [
    "Vai Corinthians",
    "The quick brown fox jumps over the lazy dog.",
    "O rato roeu a roupa do rei de Roma.",
    "Der schnelle braune Fuchs springt über den faulen Hund.",
    "東京は日本の首都です。",
    "long " + "sentence with many words " * 120,  # past the model's 256 tokens: truncated, as sentence-transformers
]


@pytest.fixture(scope="module")
def reference():
    return sentence_transformer()


def tokens_read(reference, texts) -> int:
    """Tokens the model reads, special tokens included, cut at its max length."""
    encoded = reference.tokenizer(texts, truncation=True, max_length=reference.max_seq_length)
    return sum(len(ids) for ids in encoded["input_ids"])


@pytest.mark.parametrize("keys", [None, KEY], ids=["open", "with API_KEYS"])
def test_the_official_openai_client_gets_the_embeddings_of_sentence_transformers(tmp_path, models_dir, reference, keys):
    env = {"API_KEYS": keys} if keys else {}
    with serving(tmp_path, models_dir, **env) as (base, _):
        client = openai.OpenAI(base_url=f"{base}/v1", api_key=keys or "unused", max_retries=0)
        assert [model.id for model in client.models.list()] == [MODEL, f"{MODEL}-int8"]

        default = client.embeddings.create(model=MODEL, input=TEXTS)  # the client asks for base64 and decodes it
        floats = client.embeddings.create(model=MODEL, input=TEXTS, encoding_format="float")
        expected = reference.encode(TEXTS)
        assert [item.index for item in default.data] == list(range(len(TEXTS)))
        for text, got, as_float, want in zip(TEXTS, default.data, floats.data, expected, strict=True):
            assert len(got.embedding) == 384
            assert cosine(got.embedding, want) >= 0.999, text[:40]
            assert np.allclose(got.embedding, as_float.embedding, atol=1e-6), text[:40]  # float32 of the same
        assert default.model == MODEL
        assert default.usage.prompt_tokens == default.usage.total_tokens == tokens_read(reference, TEXTS)

        one = client.embeddings.create(model=MODEL, input=TEXTS[0])
        assert len(one.data) == 1 and cosine(one.data[0].embedding, expected[0]) >= 0.999

        with pytest.raises(openai.UnprocessableEntityError) as refused:
            client.embeddings.create(model="text-embedding-3-small", input="x")
        assert (refused.value.param, refused.value.code) == ("model", "model_not_found")
        with pytest.raises(openai.UnprocessableEntityError) as refused:
            client.embeddings.create(model=MODEL, input="x", dimensions=128)
        assert refused.value.param == "dimensions" and refused.value.code == "unsupported_parameter"

        if keys:
            wrong = openai.OpenAI(base_url=f"{base}/v1", api_key="not-the-key", max_retries=0)
            with pytest.raises(openai.AuthenticationError) as denied:
                wrong.embeddings.create(model=MODEL, input="x")
            assert denied.value.type == "authentication_error"
            with pytest.raises(openai.AuthenticationError):
                wrong.models.list()
