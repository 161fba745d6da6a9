"""Per-key limits (web/limits.py): requests a second, queued jobs and waits at once, each key its own, from
the keys file or the KEY_* defaults; refusals are 429 with `Retry-After` and the IETF rate-limit headers."""

from dataclasses import replace

import pytest
from falcon.testing import TestClient
from prometheus_client import REGISTRY

from core.config import Config
from core.errors import ConfigError
from core.readers import ApiKey
from web import create_app

ALICE, BOB = "key-alice-5d2e", "key-bob-8c1f"


def bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def keyed(config, database, sender_stub, catalog):
    def build(*keys, **changes) -> TestClient:
        changed = replace(config, api_keys=keys, **changes)
        return TestClient(create_app(changed, sender=sender_stub, catalog=catalog))

    return build


def post(client, key: str):
    return client.simulate_post("/inference", json={"inputs": "x"}, headers=bearer(key))


def test_one_keys_flood_is_refused_with_rate_limit_headers_and_leaves_the_other_key_untouched(keyed):
    client = keyed(ApiKey(ALICE, {"rps": 3}), ApiKey(BOB), key_rps=1000)
    flood = [post(client, ALICE).status_code for _ in range(20)]
    assert flood[:3] == [202] * 3 and set(flood[3:]) == {429}
    refused = post(client, ALICE)
    assert refused.headers["ratelimit-policy"] == '"requests";q=3;w=1'
    assert refused.headers["ratelimit"] == '"requests";r=0;t=1'
    assert int(refused.headers["retry-after"]) >= 1
    assert [post(client, BOB).status_code for _ in range(20)] == [202] * 20  # Bob's admission as before


def test_a_full_key_backlog_is_a_429_counted_under_its_reason(keyed):
    client = keyed(ApiKey(ALICE, {"backlog": 2}), ApiKey(BOB))

    def refused() -> float:
        return REGISTRY.get_sample_value("inference_api_jobs_refused_total", {"reason": "key_backlog"}) or 0.0

    before = refused()
    assert [post(client, ALICE).status_code for _ in range(3)] == [202, 202, 429]
    response = post(client, ALICE)
    assert response.headers["ratelimit-policy"] == '"backlog";q=2;w=5' and response.headers["retry-after"] == "5"
    assert refused() == before + 2
    assert post(client, BOB).status_code == 202


def test_a_key_holding_all_its_waits_is_answered_at_once_while_another_key_still_waits():
    from core.owners import owner_id
    from web.limits import KeyLimits, Policy
    from web.waiting import Waiter

    waiter = Waiter(8, keys=KeyLimits([ApiKey(ALICE, {"waits": 1}), ApiKey(BOB)], Policy(0, 0, 8)))
    alice, bob = owner_id(ALICE), owner_id(BOB)
    with waiter.slot(alice) as first, waiter.slot(alice) as second, waiter.slot(bob) as bobs:
        assert first and not second and bobs
    with waiter.slot(alice) as again:
        assert again  # released


def test_the_keys_file_gives_a_key_its_own_limits_and_the_others_the_defaults(tmp_path):
    path = tmp_path / "keys"
    path.write_text("# tenants\nkey-a  rps=5 backlog=100 waits=4\nkey-b\n")
    config = Config.from_env({"API_KEYS_FILE": str(path)})
    assert config.api_keys == ("key-a", "key-b")  # the keys as before
    assert [key.limits for key in config.api_keys] == [{"rps": 5, "backlog": 100, "waits": 4}, {}]


@pytest.mark.parametrize(("line", "message"), [("key-a rate=5", "'rate' is no limit"), ("key-a rps=x", "whole number")])
def test_an_unusable_limit_in_the_keys_file_names_the_line_never_the_key(tmp_path, line, message):
    path = tmp_path / "keys"
    path.write_text(f"{line}\n")
    with pytest.raises(ConfigError, match=message) as raised:
        Config.from_env({"API_KEYS_FILE": str(path)})
    assert "line 1" in str(raised.value) and "key-a" not in str(raised.value)
