import datetime as dt
from dataclasses import replace
from pathlib import Path

import peewee
import pytest
from falcon.testing import TestClient

import db
from actors.fleet import record_prepared
from actors.sending import open_sender
from db import Job, WorkerProcess
from db.base import utcnow
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
def test_models_lists_the_shipped_catalog_and_what_is_prepared_from_the_database(client, models_dir):
    for name in ("all-MiniLM-L6-v2", "all-MiniLM-L6-v2-int8"):
        record_prepared(models_dir / name)  # what `inference-api models prepare` writes
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
    assert minilm["batching"] == {"max_batch_size": 16, "max_wait_ms": 5}
    assert minilm["versions"]["onnxruntime"] and minilm["prepared_at"].endswith("Z")
    # hub models: listed, not prepared (no hub), and nothing breaks
    assert models["distilgpt2"]["prepared"] is False
    assert models["bert-base-multilingual-uncased-sentiment"]["task"] == "text-classification"


def test_an_unknown_model_is_a_404(client):
    response = client.simulate_get("/models/nope")
    assert response.status_code == 404
    assert "nope" in response.json["description"]


def test_a_model_with_no_recorded_preparation_is_not_prepared_even_with_its_files_at_hand(client):
    response = client.simulate_get("/models/all-MiniLM-L6-v2")  # the config's MODELS_DIR holds it: not read
    assert response.status_code == 200
    assert (response.json["prepared"], response.json["ready"], response.json["workers"]) == (False, False, 0)


def beat(worker_id: str, models: list[str], expiry: float = 30.0) -> None:
    WorkerProcess.beat(
        worker_id, host="h", pid=1, models=models, started_at=utcnow(), expiry=dt.timedelta(seconds=expiry)
    )


def test_a_model_is_ready_while_live_workers_have_it_loaded_and_says_how_many(client):
    beat("w1", ["all-MiniLM-L6-v2", "all-MiniLM-L6-v2-int8"])
    beat("w2", ["all-MiniLM-L6-v2"])
    beat("killed", ["distilgpt2"], expiry=-1)  # its heartbeat expired: a process killed without a goodbye
    models = {m["name"]: m for m in client.simulate_get("/models").json["models"]}
    assert {name: (m["ready"], m["workers"]) for name, m in models.items()} == {
        "all-MiniLM-L6-v2": (True, 2),
        "all-MiniLM-L6-v2-int8": (True, 1),
        "bert-base-multilingual-uncased-sentiment": (False, 0),
        "distilgpt2": (False, 0),
    }
    WorkerProcess.forget("w2")
    assert client.simulate_get("/models/all-MiniLM-L6-v2").json["workers"] == 1


def test_a_job_for_a_model_no_live_worker_has_loaded_is_accepted_and_says_so(config, database, sender_stub, catalog):
    client = TestClient(create_app(config, sender=sender_stub, catalog=catalog))  # a fresh readiness cache
    response = client.simulate_post("/inference", json={"inputs": "hello"})
    assert response.status_code == 202
    assert response.headers["inference-model-ready"] == "false"
    assert Job.get_by_id(response.json["id"]).status == "queued"


def test_a_job_for_a_loaded_model_says_it_is_ready(config, database, sender_stub, catalog):
    beat("w1", ["all-MiniLM-L6-v2"])
    client = TestClient(create_app(config, sender=sender_stub, catalog=catalog))
    assert client.simulate_post("/inference", json={"inputs": "hello"}).headers["inference-model-ready"] == "true"
    other = client.simulate_post("/inference", json={"model": "all-MiniLM-L6-v2-int8", "inputs": "hello"})
    assert other.status_code == 202 and other.headers["inference-model-ready"] == "false"


def test_readyz_is_about_the_api_own_dependencies_not_the_workers(client):
    assert WorkerProcess.select().count() == 0
    assert client.simulate_get("/readyz").status_code == 200


@pytest.mark.slow
def test_the_api_reads_no_model_files(config, database, sender_stub, catalog, models_dir, tmp_path, monkeypatch):
    record_prepared(models_dir / "all-MiniLM-L6-v2")
    opened = []
    real_open = Path.open
    monkeypatch.setattr(Path, "open", lambda self, *a, **k: opened.append(self) or real_open(self, *a, **k))
    client = TestClient(create_app(replace(config, models_dir=tmp_path / "none"), sender=sender_stub, catalog=catalog))
    view = client.simulate_get("/models/all-MiniLM-L6-v2").json
    assert (view["prepared"], view["dimensions"]) == (True, 384)
    assert (
        client.simulate_post("/inference", json={"inputs": "x", "parameters": {"truncate": False}}).status_code == 202
    )
    assert [p for p in opened if "models" in str(p)] == []


def test_a_job_is_accepted_without_the_header_when_the_database_cannot_say_who_runs_it(
    config, database, sender_stub, catalog, monkeypatch
):
    def unreadable(cls):
        raise peewee.OperationalError("the worker table is locked")

    monkeypatch.setattr(WorkerProcess, "loaded", classmethod(unreadable))
    client = TestClient(create_app(config, sender=sender_stub, catalog=catalog))
    response = client.simulate_post("/inference", json={"inputs": "hello"})
    assert response.status_code == 202  # the job is committed and sent: readiness is advice only
    assert "inference-model-ready" not in response.headers


def test_the_openapi_document_describes_readiness(client):
    document = client.simulate_get("/openapi.json").json
    accepted = document["paths"]["/inference"]["post"]["responses"]["202"]["headers"]
    assert accepted["Inference-Model-Ready"]["schema"] == {"enum": ["true", "false"]}
    model = document["components"]["schemas"]["Model"]
    assert {"prepared", "ready", "workers"} <= set(model["required"])


def test_readyz_answers_from_checks_made_at_most_every_two_seconds(client, monkeypatch):
    calls = []
    monkeypatch.setattr("web.resources.health.ping_database", lambda: calls.append("database"))
    answers = [client.simulate_get("/readyz").status_code for _ in range(20)]
    assert answers == [200] * 20
    assert calls == ["database"]  # twenty probes, one check


def test_with_a_metrics_port_the_api_port_has_no_metrics(config, database, catalog, sender_stub):
    from web.app import create_metrics_app

    def metrics(app) -> object:
        return TestClient(app).simulate_get("/metrics")

    separate = replace(config, metrics_port=free_port())
    assert metrics(create_app(separate, sender=sender_stub, catalog=catalog)).status_code == 404
    own = metrics(create_metrics_app(separate, sender_stub))
    assert own.status_code == 200 and "inference_api_build_info" in own.text
    assert metrics(create_app(config, sender=sender_stub, catalog=catalog)).status_code == 200  # the default
