"""GET /docs (web/resources/docs.py): Swagger UI from the files installed with the API, open without a key,
listing every route of /openapi.json once a real browser has rendered it."""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import threading
from dataclasses import replace

import pytest
from falcon.testing import TestClient
from waitress import create_server

from tests.servers import IN_CI
from web import create_app
from web.resources.docs import ASSETS

KEY = "docs-key-91b2"


@pytest.fixture
def app(config, database, sender_stub, catalog):
    return create_app(replace(config, api_keys=(KEY,)), sender=sender_stub, catalog=catalog)


@pytest.fixture
def server(app):
    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    threading.Thread(target=server.run, daemon=True).start()
    yield f"http://127.0.0.1:{server.effective_port}"
    server.close()
    server.task_dispatcher.shutdown()


def chromium() -> str:
    found = shutil.which("chromium")
    if found is None:
        if IN_CI:
            pytest.fail("chromium is not installed (.ci/run installs it)")
        pytest.skip("chromium is not installed (Debian: apt-get install chromium)")
    return found


def test_every_route_of_the_document_is_on_the_rendered_page(app, server):
    browser = chromium()
    documented = TestClient(app).simulate_get("/openapi.json").json["paths"]
    dom = subprocess.run(
        [browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=10000", "--dump-dom",
         f"{server}/docs"],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout  # fmt: skip
    rendered = {
        (method.lower(), html.unescape(path))
        for method, path in re.findall(
            r'opblock-summary-method">(\w+)</span>.*?class="opblock-summary-path" data-path="([^"]+)"', dom, re.S
        )
    }
    expected = {(method, path) for path, item in documented.items() for method in item}
    assert expected <= rendered, sorted(expected - rendered)


def test_the_page_and_its_files_are_open_without_a_key_and_the_api_is_not(app):
    client = TestClient(app)
    page = client.simulate_get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'href="docs/swagger-ui.css"' in page.text and "cdn" not in page.text.lower()
    for name, media_type in ASSETS.items():
        asset = client.simulate_get(f"/docs/{name}")
        assert asset.status_code == 200, name
        assert asset.headers["content-type"] == media_type
        assert asset.headers["cache-control"] == "public, max-age=86400" and asset.content
    assert client.simulate_get("/inference").status_code == 401


def test_an_unchanged_file_is_a_304_and_an_unknown_one_a_404(app):
    client = TestClient(app)
    etag = client.simulate_get("/docs/swagger-ui.css").headers["etag"]
    again = client.simulate_get("/docs/swagger-ui.css", headers={"If-None-Match": etag})
    assert again.status_code == 304 and not again.content
    assert client.simulate_get("/docs/secrets.txt").status_code == 404


def test_the_page_with_a_trailing_slash_redirects_to_the_page(server):
    import http.client
    from urllib.parse import urlparse

    address = urlparse(server)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    connection.request("GET", "/docs/")
    response = connection.getresponse()
    assert response.status == 301 and response.getheader("Location") == "/docs"
    connection.close()
