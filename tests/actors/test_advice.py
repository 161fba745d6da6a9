"""`inference-api models prepare` times the fp32 and int8 exports here and says which to run: the shape
of what it prints, with the real prepared models (never the timings themselves)."""

from __future__ import annotations

import math
import re

import pytest

from actors import advice
from inference_api.cli import main

VERDICT = re.compile(
    r"^int8 is (\d+\.\d+x faster here: use all-MiniLM-L6-v2-int8|no faster here \(\d+\.\d+x\): use all-MiniLM-L6-v2) "
    r"\(int8 costs accuracy: cosine >= 0\.\d{3}\)$"
)


def test_the_fp32_and_int8_exports_of_one_source_make_a_family(catalog):
    pairs = {(fp32.name, int8.name) for fp32, int8 in advice.families(catalog)}
    assert ("all-MiniLM-L6-v2", "all-MiniLM-L6-v2-int8") in pairs
    assert all(fp32.quantize is None and int8.quantize == "int8" for fp32, int8 in advice.families(catalog))


def test_int8_is_recommended_only_when_it_is_clearly_faster():
    fast = advice.Advice(advice.Timing("m", 100.0), advice.Timing("m-int8", 160.0), 0.995)
    slow = advice.Advice(advice.Timing("m", 100.0), advice.Timing("m-int8", 97.0), 0.995)
    assert fast.choice == "m-int8" and fast.lines()[-1].startswith("int8 is 1.60x faster here: use m-int8")
    assert slow.choice == "m" and slow.lines()[-1] == (
        "int8 is no faster here (0.97x): use m (int8 costs accuracy: cosine >= 0.995)"
    )


@pytest.mark.slow
def test_the_advice_times_both_prepared_variants_and_recommends_one(catalog, models_dir):
    lines = advice.report(catalog, models_dir, only=["all-MiniLM-L6-v2-int8"], runs=2)
    assert lines[0] == "all-MiniLM-L6-v2 vs all-MiniLM-L6-v2-int8, timed on this machine:"
    assert re.fullmatch(r"all-MiniLM-L6-v2: \d+ texts/s \(one intra-op thread\)", lines[1])
    assert re.fullmatch(r"all-MiniLM-L6-v2-int8: \d+ texts/s \(one intra-op thread\)", lines[2])
    assert VERDICT.match(lines[3]), lines[3]
    cosine = float(re.search(r"cosine >= ([\d.]+)", lines[3]).group(1))
    assert math.isfinite(cosine) and 0.9 < cosine <= 1.0  # the same model, quantized: close, not equal


@pytest.mark.slow
def test_models_prepare_prints_the_advice_unless_told_not_to(environment, capsys):
    main(["models", "prepare", "all-MiniLM-L6-v2", "all-MiniLM-L6-v2-int8"])
    out = capsys.readouterr().out.splitlines()
    assert "all-MiniLM-L6-v2 vs all-MiniLM-L6-v2-int8, timed on this machine:" in out
    assert any(VERDICT.match(line) for line in out), out
    main(["models", "prepare", "all-MiniLM-L6-v2", "all-MiniLM-L6-v2-int8", "--no-advice"])
    assert "timed on this machine" not in capsys.readouterr().out


@pytest.mark.slow
def test_preparing_only_one_variant_gives_no_advice_for_a_family_half_prepared(catalog, tmp_path, models_dir):
    (tmp_path / "all-MiniLM-L6-v2").symlink_to(models_dir / "all-MiniLM-L6-v2")
    assert advice.report(catalog, tmp_path) == []
