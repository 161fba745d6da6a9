"""The harness' HTTP client: against waitress serving the hello-world, and against a server that answers
with bytes written here (chunked bodies, closed connections)."""

from __future__ import annotations

import itertools
import json
import socket
import threading
import time

import pytest
import waitress

from bench import client, hello
from tests.processes import wait_until


@pytest.fixture(scope="module")
def hello_port():
    server = waitress.create_server(hello.create_app(), host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield server.effective_port
    server.close()


class Canned:
    """Accepts connections and answers each request with the next of `answers` (bytes), then closes the
    connection when the answer is `None`. Records the requests' bytes."""

    def __init__(self, answers: list[bytes | None]):
        self.answers = list(answers)
        self.requests: list[bytes] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while self.answers:
            connection, _ = self.listener.accept()
            with connection:
                while self.answers:
                    request = self._read_request(connection)
                    if request is None:
                        break
                    self.requests.append(request)
                    answer = self.answers.pop(0)
                    if answer is None:
                        break
                    connection.sendall(answer)

    @staticmethod
    def _read_request(connection: socket.socket) -> bytes | None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = connection.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.lower().split(b"\r\n")
        lengths = [int(line.split(b":")[1]) for line in lines if line.startswith(b"content-length")]
        length = lengths[0] if lengths else 0
        while len(body) < length:
            body += connection.recv(65536)
        return data


def test_a_post_and_a_get_on_one_keep_alive_connection(hello_port):
    connection = client.Connection(hello_port)
    try:
        posted = connection.request("POST", "/inference", b'{"inputs": "a"}', client.JSON)
        got = connection.request("GET", "/healthz")
    finally:
        connection.close()
    assert posted.status == 202 and posted.json()["status"] == "queued"
    assert got.status == 200 and got.json() == {"status": "ok"}
    assert posted.seconds > 0


def test_load_posts_every_body_once_and_counts_statuses(hello_port):
    bodies = [json.dumps({"inputs": f"text {i}"}).encode() for i in range(50)]
    load = client.load(hello_port, "/inference", bodies, clients=4)
    assert load.count(202) == 50 and len(load.seconds) == 50
    assert load.elapsed > 0 and load.first_sent > 0


def test_run_clients_joins_every_client_then_raises_the_first_error(hello_port):
    roles, threads, finished = itertools.count(), {}, []

    def work(connection: client.Connection) -> None:
        role = next(roles)
        threads[role] = threading.current_thread()
        if role == 0:
            raise ValueError("first")
        if role == 1:  # fails once the first client has failed and ended
            wait_until(lambda: 0 in threads and not threads[0].is_alive(), message="the first client ended")
            raise KeyError("second")
        time.sleep(0.2)  # still working when both errors are in
        finished.append(role)

    with pytest.raises(ValueError, match="first"):
        client.run_clients(hello_port, 4, work)
    assert sorted(finished) == [2, 3] and not any(thread.is_alive() for thread in threads.values())


def test_each_client_has_a_connection_of_its_own_closed_after_and_the_block_runs_meanwhile(hello_port):
    answered, block_ran = [], threading.Event()

    def work(connection: client.Connection) -> None:
        assert block_ran.wait(10), "the block did not run while the clients did"
        answered.append((connection, connection.request("GET", "/healthz").status))

    with client.clients_running(hello_port, 3, work):
        block_ran.set()
    assert len({id(connection) for connection, _ in answered}) == 3
    assert all(status == 200 and connection._socket is None for connection, status in answered)


def test_a_request_is_sent_as_one_http_1_1_message():
    request = client.encode("POST", "/inference", b'{"a": 1}', {"Prefer": "wait=10"})
    head, _, body = request.partition(b"\r\n\r\n")
    assert head.split(b"\r\n")[0] == b"POST /inference HTTP/1.1"
    assert b"Prefer: wait=10" in head and b"Content-Length: 8" in head
    assert body == b'{"a": 1}'


def test_a_chunked_answer_is_read_whole_and_the_connection_kept():
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n"
    plain = b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"
    server = Canned([chunked, plain])
    connection = client.Connection(server.port)
    try:
        assert connection.request("GET", "/a").body == b"abcde"
        second = connection.request("GET", "/b")
    finally:
        connection.close()
    assert (second.status, second.body) == (201, b"ok")
    assert len(server.requests) == 2


def test_a_connection_the_server_closed_is_reopened_once():
    """The server drops the keep-alive connection instead of answering: the request goes again on a new one."""
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n"
    server = Canned([answer + b"a", None, answer + b"b"])
    connection = client.Connection(server.port)
    try:
        assert connection.request("GET", "/1").body == b"a"
        assert connection.request("GET", "/2").body == b"b"
    finally:
        connection.close()
    assert len(server.requests) == 3  # /2 twice: once unanswered, once answered


def test_connection_close_and_a_body_read_to_the_end():
    server = Canned([b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it"])
    connection = client.Connection(server.port)
    try:
        reply = connection.request("GET", "/")
    finally:
        connection.close()
    assert (reply.status, reply.body) == (200, b"all of it")


def test_an_answer_that_is_not_http_is_refused():
    server = Canned([b"SSH-2.0-OpenSSH\r\n\r\n"])
    connection = client.Connection(server.port)
    try:
        with pytest.raises(client.ProtocolError, match="status line"):
            connection.request("GET", "/")
    finally:
        connection.close()
