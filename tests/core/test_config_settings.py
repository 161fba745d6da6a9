"""The settings table of core/config.py: one place for each variable's name, default and meaning, read by
`Config.from_env` and rendered on the manual's configuration page."""

import dataclasses

import pytest

from catalog import CatalogError
from core.config import ELSEWHERE, Config, ConfigError, settings
from core.errors import InferenceError


def test_every_config_field_has_a_setting_with_a_variable_and_a_meaning():
    table = {name for name, _, _ in settings()}
    assert table == {f.name for f in dataclasses.fields(Config)}
    for name, setting, _ in settings():
        assert setting.env and all(setting.env), name
        assert setting.help.strip(), name


def test_variable_names_are_unique():
    names = [env for _, setting, _ in settings() for env in setting.env] + [v.name for v in ELSEWHERE]
    assert len(names) == len(set(names))


def test_an_empty_environment_gives_the_declared_defaults_but_the_log_format():
    config = Config.from_env({})
    assert dataclasses.replace(config, log_format="json") == Config()
    assert config.log_format == "text"  # embedded: a person reads the log


@pytest.mark.parametrize("name", [s.env[0] for _, s, d in settings() if type(d) is int])
def test_every_integer_setting_reads_its_variable_and_names_it_when_unusable(name):
    field = next(f for f, s, _ in settings() if s.env[0] == name)
    assert getattr(Config.from_env({name: " 7 "}), field) == 7
    with pytest.raises(ConfigError, match=f"{name} must be an integer, got 'many'"):
        Config.from_env({name: "many"})


def test_urls_are_checked_by_scheme_with_the_same_messages():
    assert Config.from_env({"BROKER_URL": "amqp://a;amqp://b"}).broker_url == "amqp://a;amqp://b"
    assert Config.from_env({"BROKER_URL": "stub://"}).embedded
    with pytest.raises(ConfigError, match=r"BROKER_URL must be amqp://\.\.\. or amqps://\.\.\. or stub://"):
        Config.from_env({"BROKER_URL": "redis://x"})
    with pytest.raises(ConfigError, match=r"DATABASE_URL must be sqlite://\.\.\. or postgres://\.\.\., got"):
        Config.from_env({"DATABASE_URL": "mysql://x"})


def test_paths_and_optional_text_become_none_or_paths():
    config = Config.from_env({"MODELS_DIR": "/m", "INFERENCE_CATALOG": " ", "DEFAULT_MODEL": "", "LOG_LEVEL": "debug"})
    assert str(config.models_dir) == "/m" and config.catalog is None and config.default_model is None
    assert config.log_level == "DEBUG"


def test_secrets_stay_out_of_the_repr():
    secret_fields = {name for name, setting, _ in settings() if setting.secret}
    assert secret_fields == {"api_keys", "webhook_secret"}
    assert "k-secret" not in repr(Config.from_env({"API_KEYS": "k-secret"}))


def test_configuration_and_catalog_errors_belong_to_the_one_error_tree():
    assert issubclass(ConfigError, InferenceError)
    assert issubclass(CatalogError, ConfigError)
    assert not issubclass(ConfigError, ValueError)
