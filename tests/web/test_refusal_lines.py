"""A flood of one key's refusals (web/metrics.py `RefusalLines`): the refusals by its own limits are logged at
INFO once a second per key and reason, with how many went to debug since; every other request keeps its
line; and a refusal by a key's rate, answered before routing, counts as a refusal of POST /inference."""

import logging
from dataclasses import replace

import pytest
from falcon.testing import TestClient
from prometheus_client import REGISTRY

from core.readers import ApiKey
from web import create_app

ALICE, BOB = "key-alice-5d2e", "key-bob-8c1f"


def post(client, key: str):
    return client.simulate_post("/inference", json={"inputs": "x"}, headers={"Authorization": f"Bearer {key}"})


@pytest.fixture
def client(config, database, sender_stub, catalog):
    changed = replace(config, api_keys=(ApiKey(ALICE, {"rps": 2}), ApiKey(BOB, {"rps": 1})), key_rps=1000)
    return TestClient(create_app(changed, sender=sender_stub, catalog=catalog))


def request_lines(caplog) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "web.requests"]


def test_a_keys_flood_of_refusals_is_one_info_line_a_second_and_the_rest_at_debug(client, caplog):
    with caplog.at_level(logging.DEBUG, logger="web.requests"):
        statuses = [post(client, ALICE).status_code for _ in range(30)]
        bob = [post(client, BOB).status_code for _ in range(3)]
    assert statuses[:2] == [202, 202] and set(statuses[2:]) == {429} and bob == [202, 429, 429]
    lines = request_lines(caplog)
    assert len(lines) == 33  # at debug, every request still has its line
    info = [
        (record.status, getattr(record, "unlogged_refusals", 0)) for record in lines if record.levelno == logging.INFO
    ]
    assert info == [(202, 0), (202, 0), (429, 0), (202, 0), (429, 0)]  # Alice's first refusal, then Bob's own


def test_the_next_line_after_a_second_says_how_many_refusals_went_to_debug():
    from web.metrics import RefusalLines

    now = [100.0]
    lines = RefusalLines(every=1.0, clock=lambda: now[0])
    assert lines.level("alice", "rate") == (logging.INFO, 0)
    assert [lines.level("alice", "rate") for _ in range(5)] == [(logging.DEBUG, 0)] * 5
    assert lines.level("alice", "key_backlog") == (logging.INFO, 0)  # each reason on its own
    now[0] += 1.0
    assert lines.level("alice", "rate") == (logging.INFO, 5)
    assert lines.level("alice", "rate") == (logging.DEBUG, 0)
    assert lines.level("alice", None) == lines.level(None, "rate") == (logging.INFO, 0)  # not a key's limit


def test_a_refusal_by_a_keys_rate_counts_under_rate(client):
    def refused() -> float:
        return REGISTRY.get_sample_value("inference_api_jobs_refused_total", {"reason": "rate"}) or 0.0

    before = refused()
    assert [post(client, ALICE).status_code for _ in range(5)] == [202, 202, 429, 429, 429]
    assert refused() == before + 3


def test_refusals_of_the_openai_route_count_like_those_of_post_inference(client):
    def refused(reason: str) -> float:
        return REGISTRY.get_sample_value("inference_api_jobs_refused_total", {"reason": reason}) or 0.0

    before = {reason: refused(reason) for reason in ("rate", "invalid")}
    auth = {"Authorization": f"Bearer {ALICE}"}
    statuses = [client.simulate_post("/v1/embeddings", json={"input": 3}, headers=auth).status_code for _ in range(5)]
    assert statuses[2:] == [429, 429, 429] and all(400 <= status < 500 for status in statuses[:2])
    assert refused("rate") == before["rate"] + 3
    assert refused("invalid") == before["invalid"] + 2
