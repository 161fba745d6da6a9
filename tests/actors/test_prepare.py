import json

import pytest

from actors.prepare import PrepareError, prepare, sentence_transformers_config
from catalog import ModelSpec, read_manifest


@pytest.mark.slow
def test_the_prepared_default_model_records_its_sentence_transformers_configuration(models_dir):
    manifest = read_manifest(models_dir / "all-MiniLM-L6-v2")
    assert manifest["task"] == "feature-extraction"
    assert (manifest["pooling"], manifest["normalize"], manifest["max_length"]) == ("mean", True, 256)
    assert manifest["dimensions"] == 384
    assert set(manifest["files"]) >= {"model.onnx", "tokenizer.json", "config.json"}
    assert manifest["versions"]["onnxruntime"] and manifest["versions"]["optimum"]


@pytest.mark.slow
def test_preparing_again_is_a_no_op(models_dir, catalog, capsys):
    before = (models_dir / "all-MiniLM-L6-v2" / "model.onnx").stat().st_mtime_ns
    prepare(catalog.get(None), models_dir)
    assert (models_dir / "all-MiniLM-L6-v2" / "model.onnx").stat().st_mtime_ns == before
    assert "already prepared" in capsys.readouterr().err


def test_a_source_that_is_not_a_model_directory_fails_clearly_and_leaves_nothing(tmp_path):
    spec = ModelSpec(name="broken", source=str(tmp_path / "nowhere"), task="feature-extraction")
    with pytest.raises(PrepareError, match="not a model directory"):
        prepare(spec, tmp_path / "models")
    assert list((tmp_path / "models").iterdir()) == []  # no half-written model left behind


def test_sentence_transformers_pooling_and_normalize_are_read_from_the_module_list(tmp_path):
    (tmp_path / "pool").mkdir()
    (tmp_path / "pool" / "config.json").write_text(json.dumps({"pooling_mode_cls_token": True}))
    (tmp_path / "modules.json").write_text(
        json.dumps(
            [{"path": "", "type": "x.Transformer"}, {"path": "pool", "type": "sentence_transformers.models.Pooling"}]
        )
    )
    (tmp_path / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 128}))
    assert sentence_transformers_config(tmp_path) == {"pooling": "cls", "normalize": False, "max_seq_length": 128}


def test_a_plain_transformers_model_defaults_to_mean_pooling(tmp_path):
    assert sentence_transformers_config(tmp_path) == {"pooling": "mean", "normalize": False, "max_seq_length": None}
