"""`/v1/files`: uploads stored in chunks and read back whole, per API key, with OpenAI's shapes and errors."""

from dataclasses import replace

import pytest
from falcon.testing import TestClient

from db.bulk import File, FileChunk
from db.bulk import files as stored
from tests.web.bulk_helpers import embedding_lines, jsonl, multipart, upload
from web import create_app
from web.bulk import files

CONTENT = jsonl(embedding_lines(["one", "two", "three"]))


@pytest.fixture
def keyed(config, sender_stub, catalog, database):
    app = create_app(replace(config, api_keys=("key-a", "key-b")), sender=sender_stub, catalog=catalog)
    return TestClient(app)


def auth(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def test_an_uploaded_file_is_described_as_openai_does_and_its_content_reads_back_whole(client):
    made = upload(client, CONTENT, name="requests.jsonl")
    assert made.status_code == 200, made.text
    body = made.json
    assert body["id"].startswith("file-") and body["object"] == "file"
    assert (body["bytes"], body["filename"], body["purpose"], body["status"]) == (
        len(CONTENT),
        "requests.jsonl",
        "batch",
        "processed",
    )
    assert client.simulate_get(f"/v1/files/{body['id']}").json == body
    content = client.simulate_get(f"/v1/files/{body['id']}/content")
    assert content.status_code == 200 and content.content == CONTENT
    assert File.get_by_id(body["id"]).lines == 3


def test_a_file_larger_than_a_chunk_is_stored_in_several_and_read_back_in_order(client, monkeypatch):
    monkeypatch.setattr(stored, "CHUNK_BYTES", 100)
    content = jsonl(embedding_lines([f"text {i}" for i in range(40)]))
    made = upload(client, content).json
    assert FileChunk.select().where(FileChunk.file == made["id"]).count() == -(-len(content) // 100)
    assert client.simulate_get(f"/v1/files/{made['id']}/content").content == content


def test_files_are_listed_newest_first_with_a_cursor(client):
    ids = [upload(client, CONTENT).json["id"] for _ in range(3)]
    first = client.simulate_get("/v1/files", params={"limit": 2}).json
    assert [f["id"] for f in first["data"]] == ids[::-1][:2] and first["has_more"] is True
    rest = client.simulate_get("/v1/files", params={"limit": 2, "after": first["last_id"]}).json
    assert [f["id"] for f in rest["data"]] == [ids[0]] and rest["has_more"] is False


def test_a_deleted_file_and_its_content_are_gone(client):
    file_id = upload(client, CONTENT).json["id"]
    assert client.simulate_delete(f"/v1/files/{file_id}").json == {"id": file_id, "object": "file", "deleted": True}
    gone = client.simulate_get(f"/v1/files/{file_id}")
    assert gone.status_code == 404 and gone.json["error"]["code"] == "file_not_found"
    assert FileChunk.select().where(FileChunk.file == file_id).count() == 0


def test_another_key_gets_404_for_a_file_and_does_not_see_it_listed(keyed):
    file_id = upload(keyed, CONTENT, headers=auth("key-a")).json["id"]
    assert keyed.simulate_get(f"/v1/files/{file_id}", headers=auth("key-b")).status_code == 404
    assert keyed.simulate_get(f"/v1/files/{file_id}/content", headers=auth("key-b")).status_code == 404
    assert keyed.simulate_delete(f"/v1/files/{file_id}", headers=auth("key-b")).status_code == 404
    assert keyed.simulate_get("/v1/files", headers=auth("key-b")).json["data"] == []
    assert keyed.simulate_get(f"/v1/files/{file_id}", headers=auth("key-a")).status_code == 200


def test_a_file_past_the_size_limit_is_a_413_in_openais_shape_and_leaves_nothing(client, monkeypatch):
    monkeypatch.setattr(stored, "CHUNK_BYTES", 64)
    monkeypatch.setattr(files, "READ_BYTES", 64)
    small = TestClient(_app_with(client, max_bytes=200))
    refused = upload(small, CONTENT * 10)
    assert refused.status_code == 413, refused.text
    assert refused.json["error"]["code"] == "file_too_large"
    assert FileChunk.select().count() == 0 and File.select().count() == 0


def test_a_file_past_the_line_limit_is_refused_and_leaves_nothing(client):
    small = TestClient(_app_with(client, max_lines=2))
    refused = upload(small, CONTENT)
    assert refused.status_code == 413 and "more than 2 lines" in refused.json["error"]["message"]
    assert FileChunk.select().count() == 0


@pytest.mark.parametrize(
    ("send", "param"),
    [
        (lambda c: upload(c, CONTENT, purpose="fine-tune"), "purpose"),
        (lambda c: upload(c, CONTENT, purpose=None), "purpose"),
        (lambda c: c.simulate_post("/v1/files", json={"purpose": "batch"}), None),
        (lambda c: upload(c, b""), "file"),
        (lambda c: upload(c, CONTENT, extra="model"), "model"),
    ],
    ids=["another purpose", "no purpose", "json body", "an empty file", "another field"],
)
def test_a_bad_upload_is_a_clear_4xx_in_openais_shape(client, send, param):
    refused = send(client)
    assert 400 <= refused.status_code < 500 and set(refused.json["error"]) == {"message", "type", "param", "code"}
    assert refused.json["error"]["param"] == param
    assert File.select().count() == 0


def test_a_malformed_multipart_body_is_a_400(client):
    broken = multipart(CONTENT)
    broken["body"] = broken["body"][:40]
    refused = client.simulate_post("/v1/files", **broken)
    assert refused.status_code == 400 and "error" in refused.json


def _app_with(client, **limits):
    """The app of `client` with its files route re-added under other limits."""
    app = client.app
    resource = files.Files(**limits)
    app.add_route("/v1/files", resource)
    return app
