"""Config: defaults < file < HALLS_* environment < flags; every key checked and documented."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from server.config import (
    AuthSettings,
    ConfigError,
    ForwardingSettings,
    HubSettings,
    LrsSettings,
    ReportSettings,
    ServerConfig,
    config_defaults,
    config_keys,
    config_reference,
    load_config,
)

ROOT = Path(__file__).resolve().parents[2]


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
    assert config.port == 9000 and config.watch is True and config.hub.tick_hz == 20.0
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


@pytest.mark.parametrize(
    "flags, message",
    [
        ({"port": 70000}, "not a TCP port"),
        ({"workers": 0}, "at least 1"),
        ({"tls_cert": "c.pem"}, "together"),
        ({"workers": 2, "watch": True}, "single worker"),
        ({"objects_url": "https://cdn.example.org"}, "must end with '/'"),
        ({"hub_tick_hz": 0}, "positive"),
        ({"hub_rate_burst": 0}, "hub_rate_burst: must be positive"),
        ({"lrs_batch_size": 0}, "lrs_batch_size: must be at least 1"),
        ({"enrolment": "code"}, "'code' needs enrolment_code"),
    ],
)
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


# --- sections ----------------------------------------------------------------------------


def test_section_keys_from_file_environment_and_flags_reach_their_sections(tmp_path):
    file = tmp_path / "halls.toml"
    file.write_text("hub_tick_hz = 15\nlrs_url = 'https://lrs.example/xapi'\nreport_utc_offset = 0\n")
    env = {"HALLS_HUB_NEIGHBOURS": "8", "HALLS_LRS_PAGE_SIZE": "50", "HALLS_TRAINERS": "t1, t2，t3"}
    flags = {"signin_failures": 3, "lrs_batch_size": 7, "hub_tick_hz": 12}
    config = load_config(file, env=env, flags=flags)
    assert config.hub == HubSettings(tick_hz=12.0, neighbours=8)  # the flag beats the file
    assert config.forwarding == ForwardingSettings(url="https://lrs.example/xapi", batch_size=7)
    assert config.lrs == LrsSettings(page_size=50)
    assert config.auth == AuthSettings(trainers=("t1", "t2", "t3"), signin_failures=3)
    assert config.report == ReportSettings(utc_offset=0.0)


def test_table_in_file_stands_for_its_key_prefix(tmp_path):
    file = tmp_path / "halls.toml"
    file.write_text(
        "port = 9000\n[hub]\ntick_hz = 10\nrate_burst = 2\n[lrs]\nurl = 'https://lrs.example'\n"
        "page_size = 20\n[auth]\ntrainers = ['t1', 't2']\n[session]\nttl = 60\n"
    )
    config = load_config(file)
    assert config.port == 9000 and config.hub == HubSettings(tick_hz=10.0, rate_burst=2.0)
    assert config.forwarding.url == "https://lrs.example" and config.lrs.page_size == 20
    assert config.auth.trainers == ("t1", "t2") and config.auth.session_ttl == 60.0


def test_tables_inside_the_server_table_and_yaml_mappings_are_read_alike(tmp_path):
    toml = tmp_path / "halls.toml"
    toml.write_text("[server]\nport = 9002\n[server.hub]\nneighbours = 4\n")
    yaml = tmp_path / "halls.yaml"
    yaml.write_text("port: 9002\nhub:\n  neighbours: 4\n")
    assert load_config(toml) == load_config(yaml)
    assert load_config(yaml).hub.neighbours == 4 and load_config(yaml).port == 9002


def test_hub_rate_burst_is_a_key_and_reaches_the_hub(tmp_path):
    from server.app import create_app
    from server.hub.service import HUB

    assert config_defaults()["hub_rate_burst"] == 5.0 and "at once" in config_reference()["hub_rate_burst"]
    config = load_config(env={"HALLS_HUB_RATE_BURST": "1.5", "HALLS_TRAINER_KEY": "sesame"}, flags={"root": tmp_path})
    app = create_app(config)
    assert app[HUB].settings.rate_burst == 1.5 and app[HUB].trainer_key == "sesame"


def test_every_subsystem_gets_its_own_section_from_the_app_factory(tmp_path):
    from server.app import create_app
    from server.learning import progress
    from server.learning.auth import SESSIONS, SIGNIN_GUARD
    from server.learning.forwarder import FORWARDER
    from server.lrs.service import LRS_STATE

    config = load_config(
        flags={
            "root": tmp_path,
            "hub_neighbours": 5,
            "session_ttl": 90,
            "signin_window": 30,
            "branches": "一支部,二支部",
            "lrs_poll_interval": 0.5,
            "lrs_page_size": 9,
            "report_utc_offset": 0,
            "session_secret": "a secret of sixteen bytes",
        }
    )
    app = create_app(config)
    assert app[SESSIONS].ttl == 90.0 and app[SESSIONS].branches == ("一支部", "二支部")
    assert app[SIGNIN_GUARD].window == 30.0
    assert app[FORWARDER].settings is config.forwarding and app[FORWARDER].settings.poll_interval == 0.5
    assert app[LRS_STATE].settings.page_size == 9 and app[LRS_STATE].db_path == tmp_path / "var" / "lrs.sqlite3"
    assert app[progress.REPORTS].zone.utcoffset(None).total_seconds() == 0


def test_unknown_key_in_a_table_is_reported_with_suggestion(tmp_path):
    file = tmp_path / "halls.toml"
    file.write_text("[hub]\ntick_hx = 10\n")
    message = r"halls.toml: unknown config key 'hub_tick_hx' \(did you mean 'hub_tick_hz'\?\)"
    with pytest.raises(ConfigError, match=message):
        load_config(file)
    message = r"flags: unknown config key 'hub_rate_brust' \(did you mean 'hub_rate_burst'\?\)"
    with pytest.raises(ConfigError, match=message):
        load_config(flags={"hub_rate_brust": 2})


def test_key_given_both_flat_and_in_a_table_is_refused(tmp_path):
    file = tmp_path / "halls.toml"
    file.write_text("hub_tick_hz = 5\n[hub]\ntick_hz = 10\n")
    with pytest.raises(ConfigError, match=r"halls.toml: config key 'hub_tick_hz' is given twice"):
        load_config(file)


def test_list_keys_take_a_list_or_a_comma_separated_string():
    assert load_config(flags={"admins": ["root", " ops "]}).auth.admins == ("root", "ops")
    with pytest.raises(ConfigError, match=r"flags: admins: expected a list or a comma-separated string, got 3"):
        load_config(flags={"admins": 3})


def test_relative_paths_in_sections_are_taken_from_root(tmp_path):
    config = load_config(flags={"root": tmp_path, "enrolment": "list", "enrolment_tokens": "codes.txt"})
    assert config.auth.enrolment_tokens == tmp_path / "codes.txt"


def test_config_keys_are_the_flat_keys_of_fields_and_sections():
    keys = config_keys()
    assert len(keys) == len(set(keys))
    assert {
        "hub_tick_hz",
        "hub_rate_burst",
        "trainer_key",
        "trainers",
        "lrs_url",
        "lrs_embedded",
        "report_utc_offset",
    } <= set(keys)
    assert not {"hub", "auth", "forwarding", "lrs", "report"} & set(keys)
    assert config_defaults()["lrs_page_size"] == LrsSettings().page_size


# --- defaults in one place -----------------------------------------------------------------

SETTINGS_CLASSES = {
    "ServerConfig",
    "HubSettings",
    "AuthSettings",
    "ForwardingSettings",
    "LrsSettings",
    "ReportSettings",
}


def _first_party_sources():
    for package in ("server", "tools", "scenes"):
        for path in sorted((ROOT / package).rglob("*.py")):
            yield path, ast.parse(path.read_text(encoding="utf-8"))


def _names_a_config(node: ast.expr) -> bool:
    text = ast.unparse(node).lower()
    return any(word in text for word in ("config", "cfg", "settings"))


def test_no_first_party_code_reads_a_config_by_getattr_or_takes_it_untyped():
    found = []
    for path, tree in _first_party_sources():
        where = path.relative_to(ROOT)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("getattr", "hasattr")
                and node.args
                and _names_a_config(node.args[0])
            ):
                found.append(f"{where}:{node.lineno}: {ast.unparse(node)}")
            if (
                isinstance(node, ast.arg)
                and node.arg in ("config", "cfg", "settings")
                and (node.annotation is None or ast.unparse(node.annotation) in ("Any", "typing.Any", "object"))
            ):
                found.append(f"{where}:{node.lineno}: untyped parameter {node.arg!r}")
    assert found == []


def test_settings_classes_are_defined_once_in_server_config():
    defined = [
        f"{path.relative_to(ROOT)}:{node.name}"
        for path, tree in _first_party_sources()
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef) and node.name in SETTINGS_CLASSES | {"ForwarderSettings"}
    ]
    assert sorted(defined) == sorted(f"server/config.py:{name}" for name in SETTINGS_CLASSES)
    from_config = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path, tree in _first_party_sources()
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef) and node.name == "from_config"
    ]
    assert from_config == []
