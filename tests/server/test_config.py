"""Config: defaults < file < HALLS_* environment < flags; every key checked and documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.config import ConfigError, ServerConfig, config_keys, config_reference, load_config


def test_defaults_need_no_file_environment_or_flags():
    config = load_config()
    assert config == ServerConfig()
    assert config.host == "127.0.0.1" and config.port == 8080 and config.workers == 1
    assert config.build_path == Path("build") and config.var_path == Path("var")
    assert config.redis_url is None and not config.tls
    assert config.public_url == "http://127.0.0.1:8080"


def test_toml_file_overrides_defaults_and_paths_are_taken_from_root(tmp_path):
    file = tmp_path / "halls.toml"
    file.write_text('root = "/srv/halls"\nport = 9000\nbuild_dir = "out"\nwatch = true\nhub_tick_hz = 20\n')
    config = load_config(file)
    assert config.port == 9000 and config.watch is True and config.hub_tick_hz == 20.0
    assert config.build_path == Path("/srv/halls/out")


def test_yaml_file_is_read_like_toml(tmp_path):
    file = tmp_path / "halls.yaml"
    file.write_text("port: 9001\nredis_url: redis://127.0.0.1:6379/0\n")
    config = load_config(file)
    assert config.port == 9001 and config.redis_url == "redis://127.0.0.1:6379/0"


def test_server_table_in_file_is_accepted(tmp_path):
    file = tmp_path / "halls.toml"
    file.write_text("[server]\nport = 9002\n")
    assert load_config(file).port == 9002


def test_environment_overrides_file_and_flags_override_environment(tmp_path):
    file = tmp_path / "halls.toml"
    file.write_text("port = 9000\nhost = '0.0.0.0'\nworkers = 2\n")
    env = {"HALLS_PORT": "9100", "HALLS_WORKERS": "3", "HALLS_ACCESS_LOG": "off", "OTHER": "x"}
    config = load_config(file, env=env, flags={"port": 9200, "host": None})
    assert config.port == 9200  # flag
    assert config.workers == 3 and config.access_log is False  # environment
    assert config.host == "0.0.0.0"  # file (a None flag means "not given")


def test_halls_config_variable_names_the_config_file(tmp_path):
    file = tmp_path / "site.toml"
    file.write_text("port = 9300\n")
    assert load_config(env={"HALLS_CONFIG": str(file)}).port == 9300


def test_tls_cert_and_key_make_public_url_https(tmp_path):
    config = load_config(flags={"tls_cert": "cert.pem", "tls_key": "key.pem", "root": tmp_path})
    assert config.tls and config.tls_cert == tmp_path / "cert.pem"
    assert config.public_url.startswith("https://")


def test_unknown_key_in_file_is_reported_with_suggestion(tmp_path):
    file = tmp_path / "halls.toml"
    file.write_text("prot = 80\n")
    with pytest.raises(ConfigError, match=r"halls.toml: unknown config key 'prot' \(did you mean 'port'\?\)"):
        load_config(file)


def test_bad_value_in_environment_names_key_and_expected_type():
    with pytest.raises(ConfigError, match=r"environment: port: expected an integer, got 'eighty'"):
        load_config(env={"HALLS_PORT": "eighty"})
    with pytest.raises(ConfigError, match=r"environment: watch: expected true or false, got 'maybe'"):
        load_config(env={"HALLS_WATCH": "maybe"})


@pytest.mark.parametrize("flags, message", [
    ({"port": 70000}, "not a TCP port"),
    ({"workers": 0}, "at least 1"),
    ({"tls_cert": "c.pem"}, "together"),
    ({"workers": 2, "watch": True}, "single worker"),
    ({"objects_url": "https://cdn.example.org"}, "must end with '/'"),
    ({"hub_tick_hz": 0}, "positive"),
])
def test_inconsistent_values_are_refused(flags, message):
    with pytest.raises(ConfigError, match=message):
        load_config(flags=flags)


def test_unreadable_config_file_is_reported(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "missing.toml")


def test_every_config_key_has_a_docstring():
    reference = config_reference()
    assert list(reference) == config_keys()
    assert [key for key, doc in reference.items() if not doc] == []
