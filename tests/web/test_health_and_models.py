import pytest
from falcon.testing import TestClient

import db
from actors.sending import open_sender
from tests.servers import free_port
from web import create_app


def test_healthz_answers_without_touching_anything(config, catalog, sender_stub):
    db.connect(f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere")  # a database that is down
    client = TestClient(create_app(config, sender=sender_stub, catalog=catalog))
    assert client.simulate_get("/healthz").json == {"status": "ok"}


def test_readyz_is_ready_when_database_and_broker_answer(client):
    response = client.simulate_get("/readyz")
    assert response.status_code == 200
    assert response.json == {"status": "ready", "checks": {"database": "ok", "broker": "ok"}}


def test_readyz_is_503_when_the_broker_url_points_at_a_closed_port(config, database, catalog):
    actors = open_sender(f"amqp://guest:guest@127.0.0.1:{free_port()}/")
    response = TestClient(create_app(config, sender=actors, catalog=catalog)).simulate_get("/readyz")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.json["checks"]["database"] == "ok"
    assert response.json["checks"]["broker"] == "unavailable"
    assert "127.0.0.1" not in response.text and "guest" not in response.text  # no driver text on an open route


def test_readyz_is_503_when_the_database_is_down(config, catalog, sender_stub):
    db.connect(f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere")
    response = TestClient(create_app(config, sender=sender_stub, catalog=catalog)).simulate_get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"]["broker"] == "ok"
    assert response.json["checks"]["database"] == "unavailable"
    assert "127.0.0.1" not in response.text and "postgres" not in response.text and "nowhere" not in response.text


@pytest.mark.slow
def test_models_lists_the_shipped_catalog_and_what_is_prepared_here(client, models_dir):
    response = client.simulate_get("/models")
    assert response.status_code == 200
    assert response.json["default"] == "all-MiniLM-L6-v2"
    models = {m["name"]: m for m in response.json["models"]}
    assert set(models) == {
        "all-MiniLM-L6-v2",
        "all-MiniLM-L6-v2-int8",
        "bert-base-multilingual-uncased-sentiment",
        "distilgpt2",
    }
    minilm = models["all-MiniLM-L6-v2"]
    assert (minilm["task"], minilm["prepared"], minilm["dimensions"], minilm["max_length"]) == (
        "feature-extraction",
        True,
        384,
        256,
    )
    assert minilm["onnx_bytes"] > 10_000_000 and minilm["optimization"] == "O2"
    assert minilm["batching"] == {"max_batch_size": 32, "max_wait_ms": 5}
    # hub models: listed, not prepared here (no hub), and nothing breaks
    assert models["distilgpt2"]["prepared"] is False
    assert models["bert-base-multilingual-uncased-sentiment"]["task"] == "text-classification"


def test_an_unknown_model_is_a_404(client):
    response = client.simulate_get("/models/nope")
    assert response.status_code == 404
    assert "nope" in response.json["description"]


def test_a_model_that_is_not_prepared_says_so(config, database, sender_stub, catalog, tmp_path):
    from dataclasses import replace

    empty = replace(config, models_dir=tmp_path / "empty")
    response = TestClient(create_app(empty, sender=sender_stub, catalog=catalog)).simulate_get(
        "/models/all-MiniLM-L6-v2"
    )
    assert response.status_code == 200
    assert response.json["prepared"] is False
