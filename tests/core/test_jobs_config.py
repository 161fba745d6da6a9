"""The settings of retention and webhooks (core/config.py)."""

import pytest

from core.config import Config, ConfigError
from tests.webhook_receiver import new_secret


def test_results_are_kept_seven_days_by_default_and_zero_keeps_them_for_ever():
    assert Config.from_env({}).result_ttl == 7 * 24 * 3600
    assert Config.from_env({"RESULT_TTL": "0"}).result_ttl == 0
    with pytest.raises(ConfigError, match="RESULT_TTL must be >= 0"):
        Config.from_env({"RESULT_TTL": "-1"})


def test_a_webhook_secret_is_standard_webhooks_base64_of_24_to_64_bytes():
    secret = new_secret()
    assert Config.from_env({"WEBHOOK_SECRET": secret}).webhook_secret == secret
    assert Config.from_env({"WEBHOOK_SECRET": secret.rstrip("=")}).webhook_secret  # unpadded is fine
    with pytest.raises(ConfigError, match="base64"):
        Config.from_env({"WEBHOOK_SECRET": "whsec_not base64!"})
    with pytest.raises(ConfigError, match="24 to 64 bytes"):
        Config.from_env({"WEBHOOK_SECRET": "whsec_c2hvcnQ="})
    assert secret not in repr(Config.from_env({"WEBHOOK_SECRET": secret}))


@pytest.mark.parametrize(("raw", "allowed"), [("", False), ("0", False), ("true", True), ("1", True), ("yes", True)])
def test_private_webhook_addresses_are_refused_unless_allowed(raw, allowed):
    assert Config.from_env({"WEBHOOK_ALLOW_PRIVATE": raw}).webhook_allow_private is allowed


def test_an_unreadable_flag_is_a_configuration_error():
    with pytest.raises(ConfigError, match="WEBHOOK_ALLOW_PRIVATE"):
        Config.from_env({"WEBHOOK_ALLOW_PRIVATE": "maybe"})


def test_worker_nice_defaults_to_10_and_must_be_a_nice_level():
    assert Config.from_env({}).worker_nice == 10
    assert Config.from_env({"WORKER_NICE": "0"}).worker_nice == 0
    for bad in ("20", "-1", "high"):
        with pytest.raises(ConfigError, match="WORKER_NICE"):
            Config.from_env({"WORKER_NICE": bad})


def test_bulk_nice_defaults_to_19_must_be_a_nice_level_and_reaches_the_worker_settings():
    from types import SimpleNamespace

    from actors.setup import WorkerSettings

    assert Config.from_env({}).bulk_nice == 19
    config = Config.from_env({"BULK_NICE": "15"})
    assert WorkerSettings.from_config(config, SimpleNamespace(preload_names=lambda _: [])).bulk_nice == 15
    for bad in ("20", "-1", "low"):
        with pytest.raises(ConfigError, match="BULK_NICE"):
            Config.from_env({"BULK_NICE": bad})
