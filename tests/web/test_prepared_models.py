"""A model is advertised, and accepted, only where it is prepared: a request for a catalog model that is not
prepared is refused at once (a non-retryable 422 naming the command that prepares it), never accepted to
fail on a worker, and `/v1/models` lists only what can be used now."""

from dataclasses import replace

import falcon.testing
import pytest

from db import Job
from tests.conftest import queued_messages
from web import create_app


@pytest.fixture
def bare(config, database, sender_stub, catalog, tmp_path):
    """An API whose models directory holds nothing and whose database records no preparation."""
    empty = replace(config, models_dir=tmp_path / "no-models")
    return falcon.testing.TestClient(create_app(empty, sender=sender_stub, catalog=catalog))


def test_a_job_for_a_model_not_prepared_is_refused_naming_the_command_and_nothing_is_kept(bare, sender_stub):
    answer = bare.simulate_post("/inference", json={"model": "distilgpt2", "inputs": "a"})
    assert answer.status_code == 422
    assert answer.json["field"] == "model" and answer.json["title"] == "Model not prepared"
    assert "inference-api models prepare distilgpt2" in answer.json["description"]
    assert Job.select().count() == 0 and queued_messages(sender_stub) == 0


def test_embeddings_for_a_model_not_prepared_are_a_422_the_openai_client_does_not_retry(bare, sender_stub):
    answer = bare.simulate_post("/v1/embeddings", json={"model": "all-MiniLM-L6-v2-int8", "input": "a"})
    assert answer.status_code == 422
    error = answer.json["error"]
    assert (error["param"], error["code"], error["type"]) == ("model", "model_not_prepared", "invalid_request_error")
    assert "inference-api models prepare all-MiniLM-L6-v2-int8" in error["message"]
    assert Job.select().count() == 0 and queued_messages(sender_stub) == 0


def test_the_openai_model_list_shows_only_prepared_models_and_grows_once_one_is_recorded(
    bare, catalog, record_prepared
):
    assert bare.simulate_get("/v1/models").json["data"] == []
    missing = bare.simulate_get("/v1/models/all-MiniLM-L6-v2")
    assert missing.status_code == 404 and missing.json["error"]["code"] == "model_not_prepared"

    record_prepared(catalog.models["all-MiniLM-L6-v2"])
    assert [m["id"] for m in bare.simulate_get("/v1/models").json["data"]] == ["all-MiniLM-L6-v2"]
    assert bare.simulate_get("/v1/models/all-MiniLM-L6-v2").status_code == 200


def test_a_model_recorded_as_prepared_is_accepted_at_once_whatever_the_cache_held(bare, catalog, record_prepared):
    assert bare.simulate_post("/inference", json={"model": "distilgpt2", "inputs": "a"}).status_code == 422
    record_prepared(catalog.models["distilgpt2"])  # prepared a moment later, on another host
    assert bare.simulate_post("/inference", json={"model": "distilgpt2", "inputs": "a"}).status_code == 202


def test_a_model_whose_files_are_on_this_host_counts_as_prepared(client):
    # the `client` fixture's models directory holds the prepared MiniLM models (the embedded mode's case)
    answer = client.simulate_post("/inference", json={"model": "all-MiniLM-L6-v2-int8", "inputs": "a"})
    assert answer.status_code == 202


def test_the_models_on_disk_are_looked_at_once_per_interval_and_again_before_a_refusal(tmp_path, database, monkeypatch):
    from web import prepared as module

    looked: list[str] = []
    monkeypatch.setattr(module, "prepared", lambda directory, name: looked.append(name) or name == "here")
    (tmp_path / "models" / "here").mkdir(parents=True)
    models = module.PreparedModels(tmp_path / "models", ttl=60.0)
    for _ in range(5):
        models.check("here")
    assert looked == ["here"]  # one look at the directory for five accepted jobs
    (tmp_path / "models" / "later").mkdir()  # prepared meanwhile: not in what was read, so read again before refusing
    monkeypatch.setattr(module, "prepared", lambda directory, name: looked.append(name) or name in ("here", "later"))
    models.check("later")
    with pytest.raises(module.ModelNotServed):
        models.check("nowhere")
