"""The API's waitress server (`inference_api.serve.create_server`): a response leaves in one send, headers
and body together, from the main loop, which is the one place that sends it. With waitress' default
(`send_bytes` 1) the request's thread sent the headers, then the body, while the main loop spun on
select beside it."""

import http.client
import threading

import pytest
from waitress.channel import HTTPChannel

from core.config import Config
from inference_api.serve import SEND_BYTES, create_server
from tests.servers import free_port

BODY = b"x" * 5000


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(BODY)))])
    return [BODY]


@pytest.fixture
def sends(monkeypatch):
    sizes: list[int] = []
    send = HTTPChannel.send

    def counted(self, data, do_close=True):
        sizes.append(len(data))
        return send(self, data, do_close)

    monkeypatch.setattr(HTTPChannel, "send", counted)
    return sizes


def test_each_response_leaves_in_one_send_with_its_headers(sends):
    server = create_server(app, Config.from_env({"HOST": "127.0.0.1", "PORT": str(free_port()), "WEB_THREADS": "4"}))
    threading.Thread(target=server.run, daemon=True).start()
    try:
        client = http.client.HTTPConnection("127.0.0.1", server.effective_port, timeout=5)
        for _ in range(3):  # keep-alive: the same channel each time
            client.request("GET", "/")
            response = client.getresponse()
            assert (response.status, response.read()) == (200, BODY)
        client.close()
    finally:
        server.close()
        server.task_dispatcher.shutdown()
    assert len(sends) == 3 and all(size > len(BODY) for size in sends)  # one send each, headers included
    assert server.adj.send_bytes == SEND_BYTES
