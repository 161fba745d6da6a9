"""Text generation on a tiny random GPT-2 built by the test: the ONNX decoder with its KV cache, in numpy,
against transformers' `generate`."""

import pytest

from actors import runtime

pytestmark = pytest.mark.slow

PROMPTS = ["the quick brown fox", "hello world", "vai corinthians", "a"]


@pytest.fixture(scope="module")
def model(tiny):
    return runtime.load(tiny[2] / "tiny-gpt2")


@pytest.fixture(scope="module")
def reference(tiny):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source = tiny[3]["tiny-gpt2"]
    return AutoTokenizer.from_pretrained(source), AutoModelForCausalLM.from_pretrained(source).eval()


def test_greedy_generation_is_token_identical_to_transformers_generate(model, reference):
    import torch

    tokenizer, net = reference
    for prompt in PROMPTS:
        ids = tokenizer(prompt, return_tensors="pt").input_ids
        with torch.no_grad():
            expected = net.generate(
                ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=20,
                do_sample=False,
                pad_token_id=tokenizer.eos_token_id,
            )[0, ids.shape[1] :].tolist()
        ours, reason = model.generate_ids(ids[0].tolist(), 20)
        if expected and expected[-1] == tokenizer.eos_token_id:
            expected = expected[:-1]
        assert ours == expected, prompt
        assert reason == ("length" if len(ours) == 20 else "eos")


def test_greedy_output_is_deterministic_and_includes_the_prompt_by_default(model):
    first = model(PROMPTS[:2], max_new_tokens=10)
    assert first == model(PROMPTS[:2], max_new_tokens=10)
    assert first[0]["generated_text"].startswith(PROMPTS[0])
    assert first[0]["tokens"] <= 10
    alone = model(PROMPTS[:1], max_new_tokens=10, return_full_text=False)[0]["generated_text"]
    assert first[0]["generated_text"] == PROMPTS[0] + alone


def test_sampling_with_a_seed_repeats_and_other_seeds_differ(model):
    params = {"max_new_tokens": 15, "do_sample": True, "temperature": 1.5, "top_k": 0, "top_p": 1.0}
    runs = [model(["hello"], seed=seed, **params)[0]["generated_text"] for seed in (1, 1, 2, 3, 4)]
    assert runs[0] == runs[1]
    assert len(set(runs[1:])) > 1


def test_generation_stops_at_a_stop_string_and_leaves_it_out(model):
    free = model(["the quick"], max_new_tokens=20, return_full_text=False)[0]
    if len(free["generated_text"].strip()) < 2:
        pytest.skip("the random model produced too little text to pick a stop string from")
    stop = free["generated_text"].strip()[:2]
    stopped = model(["the quick"], max_new_tokens=20, return_full_text=False, stop=[stop])[0]
    assert stopped["finish_reason"] == "stop"
    assert stop not in stopped["generated_text"]
    assert free["generated_text"].startswith(stopped["generated_text"])


def test_a_prompt_longer_than_the_context_keeps_its_end_or_is_refused(model):
    prompt = "the quick brown fox jumps over the lazy dog " * 40  # > 128 positions
    out = model([prompt], max_new_tokens=5)[0]
    assert out["truncated"] is True and out["tokens"] <= 5
    with pytest.raises(runtime.InputTooLong, match="truncate is false"):
        model([prompt], max_new_tokens=5, truncate=False)
