import pytest

from actors.registry import Runtimes
from catalog import Catalog
from core.errors import ModelNotPrepared, ModelUnavailable, UnknownModel


@pytest.fixture
def runtimes(tmp_path):
    return Runtimes(Catalog.load(), tmp_path)


def test_preloading_defaults_to_the_default_model(runtimes):
    assert runtimes.preload_names("") == ["all-MiniLM-L6-v2"]
    assert runtimes.preload_names("none") == []
    assert runtimes.preload_names("distilgpt2, all-MiniLM-L6-v2") == ["distilgpt2", "all-MiniLM-L6-v2"]


def test_preloading_all_means_every_prepared_model(runtimes, tmp_path):
    assert runtimes.preload_names("all") == []
    (tmp_path / "distilgpt2").mkdir()
    (tmp_path / "distilgpt2" / "manifest.json").write_text("{}")
    assert runtimes.preload_names("all") == ["distilgpt2"]


def test_preloading_an_unknown_model_is_refused_by_name(runtimes):
    with pytest.raises(UnknownModel, match="nope"):
        runtimes.preload_names("nope")


def test_a_model_that_is_not_prepared_says_how_to_prepare_it(runtimes):
    with pytest.raises(ModelNotPrepared, match="inference-api models prepare distilgpt2"):
        runtimes.get("distilgpt2")


@pytest.mark.slow
def test_a_model_is_loaded_once_and_shared(models_dir):
    runtimes = Runtimes(Catalog.load(), models_dir)
    assert runtimes.get("all-MiniLM-L6-v2") is runtimes.get("all-MiniLM-L6-v2")


@pytest.mark.slow
def test_a_model_that_fails_to_load_is_the_workers_fault_and_its_message_names_no_path(models_dir, tmp_path):
    damaged = tmp_path / "all-MiniLM-L6-v2"
    damaged.mkdir()
    for source in (models_dir / "all-MiniLM-L6-v2").iterdir():  # the manifest and tokenizer, as prepared
        if source.is_file() and source.suffix != ".onnx":
            (damaged / source.name).write_bytes(source.read_bytes())
    (damaged / "model.onnx").write_bytes(b"not an onnx graph")
    with pytest.raises(ModelUnavailable) as failed:
        Runtimes(Catalog.load(), tmp_path).get("all-MiniLM-L6-v2")
    assert str(tmp_path) not in failed.value.description and "/" not in failed.value.description
