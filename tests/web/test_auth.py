"""API keys: `Authorization: Bearer <key>` on every data route once keys are configured (web/auth.py),
and the keys read once from API_KEYS / API_KEYS_FILE (core/config.py)."""

import hmac
import json
import uuid
from dataclasses import replace

import pytest
from falcon.testing import TestClient

from core.config import Config, ConfigError
from db import Job
from inference_api import cli
from tests.conftest import queued_messages
from web import create_app
from web.auth import BearerAuth

KEYS = ("key-one-4b1d", "key-two-9e7c")
JSON = {"content-type": "application/json"}


@pytest.fixture
def keyed(config, database, sender_stub, catalog):
    return TestClient(create_app(replace(config, api_keys=KEYS), sender=sender_stub, catalog=catalog))


def data_routes():
    """Every data route, as (method, path, body)."""
    return [
        ("POST", "/inference", json.dumps({"inputs": "Vai Corinthians"})),
        ("GET", f"/inference/{uuid.uuid4()}", None),
        ("POST", f"/inference/{uuid.uuid4()}/cancel", None),
        ("GET", "/models", None),
        ("GET", "/models/all-MiniLM-L6-v2", None),
    ]


def call(client, method, path, body, headers=None):
    return client.simulate_request(method, path, body=body, headers={**JSON, **(headers or {})})


BAD_AUTHORIZATION = {
    "no header": None,
    "empty": "",
    "a wrong key": "Bearer not-a-key",
    "a key's prefix": f"Bearer {KEYS[0][:-1]}",
    "a key and more": f"Bearer {KEYS[0]}x",
    "the key without the scheme": KEYS[0],
    "another scheme": f"Basic {KEYS[0]}",
    "the scheme alone": "Bearer",
    "non-ASCII": "Bearer cl\u00e9",
}


@pytest.mark.parametrize(
    "route", data_routes(), ids=lambda r: f"{r[0]} {r[1].split('/')[1]}{'/cancel' * r[1].endswith('cancel')}"
)
@pytest.mark.parametrize("authorization", BAD_AUTHORIZATION.values(), ids=BAD_AUTHORIZATION.keys())
def test_a_data_route_is_401_without_the_right_key(keyed, sender_stub, route, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    response = call(keyed, *route, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer ")
    assert response.json["title"] == "Unauthorized" and response.json["description"]
    assert not any(key in response.text for key in KEYS)
    assert Job.select().count() == 0 and queued_messages(sender_stub) == 0


def test_a_wrong_key_is_told_apart_from_a_missing_one_as_rfc_6750_says(keyed):
    missing = keyed.simulate_get("/models")
    wrong = keyed.simulate_get("/models", headers={"Authorization": "Bearer nope"})
    assert "error=" not in missing.headers["www-authenticate"]
    assert 'error="invalid_token"' in wrong.headers["www-authenticate"]


@pytest.mark.parametrize("key", KEYS)
def test_every_data_route_answers_with_any_configured_key(keyed, key):
    auth = {"Authorization": f"Bearer {key}"}
    accepted = call(keyed, "POST", "/inference", json.dumps({"inputs": "Vai Corinthians"}), auth)
    assert accepted.status_code == 202
    assert keyed.simulate_get(accepted.headers["location"], headers=auth).status_code == 200
    assert keyed.simulate_post(accepted.headers["location"] + "/cancel", headers=auth).status_code == 200
    assert keyed.simulate_get("/models", headers=auth).status_code == 200
    assert keyed.simulate_get("/models/all-MiniLM-L6-v2", headers=auth).status_code == 200


def test_the_scheme_is_case_insensitive_and_spaces_around_the_key_do_not_matter(keyed):
    assert keyed.simulate_get("/models", headers={"Authorization": f"bearer   {KEYS[1]} "}).status_code == 200


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/openapi.json", "/healthz/"])
def test_health_routes_and_the_api_description_stay_open_with_keys_configured(keyed, path):
    assert keyed.simulate_get(path).status_code == 200


def test_an_unknown_path_is_401_too_and_tells_nothing_about_the_routes(keyed):
    assert keyed.simulate_get("/admin").status_code == 401


def test_without_keys_every_route_is_open(client):
    assert client.simulate_get("/models").status_code == 200
    assert call(client, "POST", "/inference", json.dumps({"inputs": "a"})).status_code == 202


def test_every_key_is_compared_in_constant_time_even_after_a_match(monkeypatch):
    compared = []
    real = hmac.compare_digest

    def compare_digest(a, b):
        compared.append(b)
        return real(a, b)

    monkeypatch.setattr("web.auth.hmac.compare_digest", compare_digest)
    auth = BearerAuth(["a", "b", "c"])
    assert auth.accepts("a") and not auth.accepts("z")
    assert compared == [b"a", b"b", b"c"] * 2


def test_the_middleware_refuses_to_exist_without_keys():
    with pytest.raises(ValueError):
        BearerAuth([])


# Configuration: API_KEYS and API_KEYS_FILE, read once.


def test_no_key_configured_is_the_open_embedded_default():
    assert Config.from_env({}).api_keys == ()
    assert Config.from_env({"API_KEYS": "  "}).api_keys == ()


def test_api_keys_are_comma_separated_stripped_and_kept_once():
    assert Config.from_env({"API_KEYS": " k1, k2,,k1 "}).api_keys == ("k1", "k2")


def test_the_keys_file_has_one_key_a_line_with_blank_lines_and_comments_ignored(tmp_path):
    secret = tmp_path / "api-keys"
    secret.write_text("# rotated 2024-05\nk-new\n\n   # the old one, until Friday\n  k-old  \n")
    config = Config.from_env({"API_KEYS_FILE": str(secret), "API_KEYS": "k-env"})
    assert config.api_keys == ("k-env", "k-new", "k-old")


def test_keys_never_show_in_the_config_repr(tmp_path):
    config = Config.from_env({"API_KEYS": "s3cr3t-key"})
    assert config.api_keys == ("s3cr3t-key",)
    assert "s3cr3t-key" not in repr(config) and "s3cr3t-key" not in str(config)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot be read"),  # missing
        ("directory", "cannot be read"),
        (b"\xff\xfe-not-utf-8\n", "not UTF-8"),
        ("# only a comment\n\n", "holds no key"),
        ("good-key\nbad key with spaces\n", "line 2 is not a usable key"),
    ],
    ids=["missing", "a directory", "not UTF-8", "no key", "a key with spaces"],
)
def test_a_keys_file_that_cannot_serve_is_a_configuration_error_at_start(tmp_path, content, message):
    path = tmp_path / "api-keys"
    if content == "directory":
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError, match=message) as raised:
        Config.from_env({"API_KEYS_FILE": str(path)})
    assert "bad key" not in str(raised.value)


@pytest.mark.parametrize("value", [",", " , ", "ok,caf\u00e9", "ok,a\tb"])
def test_api_keys_that_cannot_travel_in_a_header_are_a_configuration_error_that_does_not_show_them(value):
    with pytest.raises(ConfigError, match="API_KEYS") as raised:
        Config.from_env({"API_KEYS": value})
    assert "caf\u00e9" not in str(raised.value) and "a\tb" not in str(raised.value)


def test_the_command_stops_at_start_on_a_missing_keys_file(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("API_KEYS_FILE", str(tmp_path / "nowhere"))
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    with pytest.raises(SystemExit) as exited:
        cli.main(["migrate"])
    assert exited.value.code == 2
    assert "API_KEYS_FILE" in capsys.readouterr().err
