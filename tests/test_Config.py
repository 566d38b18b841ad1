"""Config: the loading sequence, merging, environment keys, model precedence and bad files."""
from __future__ import annotations

import inspect

import os
import stat
from pathlib import Path
from typing import Dict, List

import pytest

from llmc.transport.ProviderRefusals import ProviderRefusals
from llmc.Config import Config, default_config_text, load_toml_file, merge_dicts
from llmc.base.Errors import ConfigError, InvalidModelError
from llmc.transport.HttpClient import HttpSettings
from llmc.ProviderManager import ProviderManager
from llmc.Types import DEFAULT_MODEL, DEFAULT_SYSTEM_PROMPT, PROVIDER_DATA, SASSY_SYSTEM_PROMPT

YAML_NAME = "openaicompat-providers.yaml"


def load(data_dir: Path, environ: Dict[str, str] | None = None, **kwargs) -> tuple[Config, List[str]]:
    warnings: List[str] = []
    config = Config(data_directory=data_dir, environ=environ or {}, warn=warnings.append, **kwargs)
    return config, warnings


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def test_merge_dicts_is_recursive_later_wins_and_skips_none() -> None:
    base = {"a": {"x": 1, "y": 2}, "b": 1, "c": [1]}
    merge_dicts(base, {"a": {"y": 3, "z": None}, "b": None, "c": [2], "d": {"e": 1}})
    assert base == {"a": {"x": 1, "y": 3}, "b": 1, "c": [2], "d": {"e": 1}}


def test_no_files_gives_the_builtin_providers_and_defaults(tmp_path: Path) -> None:
    config, warnings = load(tmp_path / "absent")
    model = config.config
    assert isinstance(model.providers, ProviderManager)
    assert model.providers.keys() == list(PROVIDER_DATA)
    assert model.model == DEFAULT_MODEL and model.system_prompt == DEFAULT_SYSTEM_PROMPT
    assert model.stream is True and model.sassy is False
    assert model.providers["openai"].valid_models == PROVIDER_DATA["openai"]["valid_models"]
    assert warnings == []
    assert not (tmp_path / "absent").exists()  # loading never creates anything


def test_loading_sequence_builtin_then_yaml_then_toml(tmp_path: Path) -> None:
    write(tmp_path / YAML_NAME, """providers:
  openai:
    base_api_url: http://yaml.example/v1
    valid_models:
      yaml-model: ym
  deepseek:
    name: DeepSeek from YAML
""")
    write(tmp_path / "config.toml", """[providers.openai]
base_api_url = "http://toml.example/v1"
[providers.local]
name = "Local"
base_api_url = "http://127.0.0.1:8080/v1"
api_key = "none"
valid_models = { "qwen" = "q" }
""")
    providers = load(tmp_path)[0].config.providers
    assert providers["openai"].base_api_url == "http://toml.example/v1"  # config.toml beats the YAML
    assert providers["openai"].valid_models["yaml-model"] == "ym"  # recursive: YAML models kept
    assert providers["openai"].valid_models["gpt-4o-2024-08-06"] == "4o"  # and the built-in ones
    assert providers["deepseek"].name == "DeepSeek from YAML"
    assert providers["deepseek"].base_api_url == "https://api.deepseek.com/v1"
    assert providers["local"].valid_models == {"qwen": "q"}


def test_yaml_without_invalid_models_works(tmp_path: Path) -> None:
    write(tmp_path / YAML_NAME, "providers:\n  openai:\n    valid_models:\n      m: m\n")
    providers = load(tmp_path)[0].config.providers
    assert providers["openai"].invalid_models == []
    assert providers["openai"].find_model("m") == "m"


def test_yaml_null_values_are_skipped(tmp_path: Path) -> None:
    write(tmp_path / YAML_NAME, "providers:\n  openai:\n    base_api_url: null\n    name: ~\n")
    providers = load(tmp_path)[0].config.providers
    assert providers["openai"].base_api_url == "https://api.openai.com/v1"
    assert providers["openai"].name == "OpenAI"


def test_environment_key_fills_a_placeholder_and_remembers_where_it_came_from(tmp_path: Path) -> None:
    config, warnings = load(tmp_path, {"OPENAI_API_KEY": "sk-env-1234", "HYPERBOLIC_API_KEY": "hk-5678"})
    providers = config.config.providers
    assert providers["openai"].api_key == "sk-env-1234"  # was "not-configured"
    assert providers["hyperbolic"].api_key == "hk-5678"  # was empty
    assert config.key_sources["openai"] == "environment (OPENAI_API_KEY)"
    assert config.key_sources["hyperbolic"] == "environment (HYPERBOLIC_API_KEY)"
    assert not any("API key" in w or "sk-env-1234" in w for w in warnings)  # not said at every start


def test_environment_key_does_not_replace_a_real_key(tmp_path: Path) -> None:
    write(tmp_path / "config.toml", '[providers.deepseek]\napi_key = "file-key"\n')
    config, warnings = load(tmp_path, {"DEEPSEEK_API_KEY": "env-key"})
    assert config.config.providers["deepseek"].api_key == "file-key"
    assert not any("DEEPSEEK_API_KEY" in w for w in warnings)


def test_environment_key_works_for_any_provider(tmp_path: Path) -> None:
    write(tmp_path / "config.toml", '[providers.my-local]\nbase_api_url = "http://127.0.0.1:9/v1"\n')
    config, warnings = load(tmp_path, {"MY_LOCAL_API_KEY": "local-key"})
    assert config.config.providers["my-local"].api_key == "local-key"
    assert config.key_sources["my-local"] == "environment (MY_LOCAL_API_KEY)"


@pytest.mark.parametrize("flag, env, file, expected", [
    ("deepseek/r1", "openai/4o", "openai/5", "deepseek/r1"),
    (None, "openai/4o", "openai/5", "openai/4o"),
    (None, None, "openai/5", "openai/5"),
    (None, None, None, DEFAULT_MODEL),
])
def test_model_precedence(tmp_path: Path, flag, env, file, expected) -> None:
    if file:
        write(tmp_path / "config.toml", f'model = "{file}"\n')
    environ = {"LLMC_DEFAULT_MODEL": env} if env else {}
    assert load(tmp_path, environ, model=flag)[0].config.model == expected


def test_model_source_names_where_the_model_came_from(tmp_path: Path) -> None:
    assert load(tmp_path)[0].model_source == "the built-in default"
    write(tmp_path / "config.toml", 'model = "nosuch"\n')
    assert load(tmp_path)[0].model_source == f"from {tmp_path / 'config.toml'}"
    config = load(tmp_path, {"LLMC_DEFAULT_MODEL": "nosuch"})[0]
    assert (config.config.model, config.model_source) == ("nosuch", "from LLMC_DEFAULT_MODEL")
    config = load(tmp_path, {"LLMC_DEFAULT_MODEL": "other"}, model="nosuch")[0]
    assert (config.config.model, config.model_source) == ("nosuch", "from -m/--model")
    assert load(tmp_path, {"LLMC_DEFAULT_MODEL": ""})[0].model_source == f"from {tmp_path / 'config.toml'}"


def test_system_prompt_precedence(tmp_path: Path) -> None:
    write(tmp_path / "config.toml", 'system_prompt = "from file"\n')
    assert load(tmp_path)[0].config.system_prompt == "from file"
    assert load(tmp_path, {"LLMC_SYSTEM_PROMPT": "from env"})[0].config.system_prompt == "from env"
    assert load(tmp_path, {"LLMC_SYSTEM_PROMPT": "from env"},
                system_prompt="from flag")[0].config.system_prompt == "from flag"


def test_sassy_from_flag_or_file(tmp_path: Path) -> None:
    config = load(tmp_path, sassy=True)[0].config
    assert config.sassy is True and config.system_prompt == SASSY_SYSTEM_PROMPT
    write(tmp_path / "config.toml", "sassy = true\n")
    config = load(tmp_path, {"LLMC_SYSTEM_PROMPT": "env"})[0].config
    assert config.sassy is True and config.system_prompt == SASSY_SYSTEM_PROMPT


def test_timeouts_and_retries_reach_the_http_settings(tmp_path: Path) -> None:
    write(tmp_path / "config.toml", "connect_timeout = 2.5\nread_timeout = 7\nmax_retries = 1\n")
    config = load(tmp_path)[0]
    settings = Config.http_settings(config.config)
    assert isinstance(settings, HttpSettings)
    assert (settings.connect_timeout, settings.read_timeout, settings.max_retries) == (2.5, 7.0, 1)
    assert config.config.providers.discovery_service.settings == settings


def test_create_config_writes_every_setting_and_never_overwrites(tmp_path: Path) -> None:
    path = Config.write_default_config(tmp_path / "new")
    text = path.read_text()
    assert text == default_config_text()
    for setting in ("model", "system_prompt", "sassy", "stream", "connect_timeout", "read_timeout",
                    "max_retries", "concurrency"):
        assert f"\n{setting} = " in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_toml_file(path)["model"] == DEFAULT_MODEL  # the file is valid TOML


MINE = ("model = 'local/mine'\nmax_tokens = 99  # my cap\nmy_own_note = [1, 2]\n"
        "providers.other.base_api_url = 'http://127.0.0.1:9000/v1'\n\n"
        "[providers.local]\nbase_api_url = 'http://127.0.0.1:8080/v1'\nvalid_models = { m = 'm' }\n")


@pytest.mark.parametrize("held", ["model = 'local/mine'\n", MINE])
def test_create_config_writes_the_template_around_the_settings_a_file_holds(tmp_path: Path, held: str) -> None:
    """--add-provider may have written a one-line config.toml: the template goes around it, no setting lost."""
    path = write(tmp_path / "config.toml", held)
    path.chmod(0o640)
    before = load_toml_file(path)
    assert Config.write_default_config(tmp_path) == path
    after = load_toml_file(path)
    assert {key: after[key] for key in before} == before  # every setting it held, as it held it
    template = load_toml_file(write(tmp_path / "t.toml", default_config_text()))
    assert {key: after[key] for key in template if key not in before} == {
        key: value for key, value in template.items() if key not in before}
    text = path.read_text()
    assert text.startswith("# llmc configuration.") and "# Provider overrides" in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    Config.write_default_config(tmp_path)  # again: nothing changes
    assert path.read_text() == text


def test_create_config_leaves_a_file_it_cannot_read_as_it_is(tmp_path: Path) -> None:
    path = write(tmp_path / "config.toml", "model = 'unterminated\n")
    with pytest.raises(ConfigError, match=f"^{path}: .*; not changed"):
        Config.write_default_config(tmp_path)
    assert path.read_text() == "model = 'unterminated\n"


def test_default_config_loads_back_to_the_defaults(tmp_path: Path) -> None:
    Config.write_default_config(tmp_path)
    config, warnings = load(tmp_path)
    assert config.config.model == DEFAULT_MODEL and warnings == []


# ----- bad input -------------------------------------------------------------------------------

def test_toml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path / "config.toml", 'model = "a"\nstream = tru\n')
    with pytest.raises(ConfigError) as info:
        load(tmp_path)
    assert str(path) in str(info.value) and "line 2" in str(info.value)


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path / YAML_NAME, "providers:\n  openai:\n    name: [unclosed\n    x: 1\n")
    with pytest.raises(ConfigError) as info:
        load(tmp_path)
    assert str(path) in str(info.value) and "line " in str(info.value)


@pytest.mark.parametrize("yaml_text, expected", [
    ("providers:\n  openai:\n    valid_models: [a, b]\n", "provider 'openai': field 'valid_models'"),
    ("providers:\n  x:\n    base_api_url: 42\n", "provider 'x': field 'base_api_url' must be text, not a number"),
    ("providers:\n  x:\n    invalid_models: {a: b}\n", "provider 'x': field 'invalid_models'"),
    ("providers:\n  x:\n    valid_models: {a: 3}\n", "valid_models['a']"),
    ("providers:\n  x: [1, 2]\n", "provider 'x' must be a mapping"),
    ("providers: [openai]\n", "'providers' must be a mapping"),
    ("- just\n- a list\n", "expected a mapping"),
    ("providers:\n  7:\n    name: seven\n", "provider name a number (7)"),
    ("providers:\n  x:\n    model_prices: [a]\n", "provider 'x': field 'model_prices' must be a mapping"),
    ("providers:\n  x:\n    model_prices: {m: 3}\n", "model_prices['m'] must be a mapping of prompt"),
    ("providers:\n  x:\n    model_prices: {m: {prompt: -1}}\n", "model_prices['m'] field 'prompt' must be USD"),
    ("providers:\n  x:\n    model_prices: {m: {prompt: '1e-05'}}\n", "field 'prompt' must be USD per million"),
    ("providers:\n  x:\n    model_prices: {m: {prompt: .nan}}\n", "field 'prompt' must be USD per million"),
    ("providers:\n  x:\n    model_prices: {m: {tokens: 1}}\n", "model_prices['m'] has unknown field 'tokens'"),
])
def test_yaml_wrong_types_name_provider_and_field(tmp_path: Path, yaml_text: str, expected: str) -> None:
    write(tmp_path / YAML_NAME, yaml_text)
    with pytest.raises(ConfigError) as info:
        load(tmp_path)
    assert expected in str(info.value) and YAML_NAME in str(info.value)


def test_wrong_key_type_never_shows_the_value(tmp_path: Path) -> None:
    write(tmp_path / "config.toml", "[providers.openai]\napi_key = 123456789\n")
    with pytest.raises(ConfigError) as info:
        load(tmp_path)
    assert "api_key" in str(info.value) and "123456789" not in str(info.value)


@pytest.mark.parametrize("toml_text, expected", [
    ('model = 5\n', "field 'model'"),
    ('sassy = "yes"\n', "field 'sassy': Input should be a valid boolean"),
    ('stream = "no"\n', "field 'stream': Input should be a valid boolean"),
    ('connect_timeout = inf\n', "field 'connect_timeout': Input should be a finite number"),
    ('read_timeout = nan\n', "field 'read_timeout': Input should be a finite number"),
    ('max_retries = true\n', "field 'max_retries'"),
    ('read_timeout = -1\n', "field 'read_timeout'"),
    ('read_timeout = 1e12\n', "field 'read_timeout': Input should be less than or equal to 3600"),
    ('connect_timeout = 1e300\n', "field 'connect_timeout': Input should be less than or equal to 300"),
    ('model = ""\n', "field 'model' must not be empty"),
    ('[providers."a/b"]\nbase_api_url = "http://127.0.0.1:1/v1"\n', "provider name 'a/b' must not contain '/'"),
    ('[providers.OpenAI]\nbase_api_url = "http://127.0.0.1:1/v1"\n', "providers 'openai' and 'OpenAI' differ only in case"),
    ('providers = "x"\n', "'providers' must be a table"),
    ('[providers.openai]\nvalid_models = ["a"]\n', "provider 'openai': field 'valid_models'"),
])
def test_toml_wrong_types(tmp_path: Path, toml_text: str, expected: str) -> None:
    write(tmp_path / "config.toml", toml_text)
    with pytest.raises(ConfigError) as info:
        load(tmp_path)
    assert expected in str(info.value) and "config.toml" in str(info.value)


def test_unknown_fields_are_warned_and_ignored(tmp_path: Path) -> None:
    write(tmp_path / "config.toml", 'modle = "x"\n[providers.openai]\napikey = "oops"\n')
    write(tmp_path / YAML_NAME, "provider: {}\nproviders:\n  deepseek:\n    colour: blue\n")
    config, warnings = load(tmp_path)
    assert any("unknown setting 'modle'" in w for w in warnings)
    assert any("provider 'openai': unknown field 'apikey'" in w for w in warnings)
    assert any("provider 'deepseek': unknown field 'colour'" in w for w in warnings)
    assert any("unknown top-level key 'provider'" in w for w in warnings)
    assert not any("oops" in w for w in warnings)
    assert config.config.model == DEFAULT_MODEL


@pytest.mark.parametrize("name", ["config.toml", YAML_NAME])
def test_empty_files_are_fine(tmp_path: Path, name: str) -> None:
    write(tmp_path / name, "")
    assert load(tmp_path)[0].config.providers.keys() == list(PROVIDER_DATA)


@pytest.mark.parametrize("name", ["config.toml", YAML_NAME])
def test_a_directory_in_place_of_a_file(tmp_path: Path, name: str) -> None:
    (tmp_path / name).mkdir()
    with pytest.raises(ConfigError, match="is a directory"):
        load(tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
@pytest.mark.parametrize("name", ["config.toml", YAML_NAME])
def test_unreadable_file(tmp_path: Path, name: str) -> None:
    write(tmp_path / name, "", mode=0o000)
    with pytest.raises(ConfigError, match="permission denied"):
        load(tmp_path)


@pytest.mark.parametrize("name", ["config.toml", YAML_NAME])
def test_unreadable_file_simulated(tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    target = write(tmp_path / name, "")
    real_open = os.open

    def deny(path, *args, **kwargs):
        if Path(path) == target:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", deny)
    with pytest.raises(ConfigError) as info:
        load(tmp_path)
    assert str(target) in str(info.value) and "permission denied" in str(info.value)


def test_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_bytes(b"model = \"\xff\xfe\"\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load(tmp_path)


@pytest.mark.parametrize("name", ["config.toml", YAML_NAME])
def test_a_fifo_or_device_in_place_of_a_file_is_refused_at_once(tmp_path: Path, name: str) -> None:
    os.mkfifo(tmp_path / name)  # no writer: reading would block forever
    with pytest.raises(ConfigError, match=r"not a regular file \(a FIFO\)"):
        load(tmp_path)
    (tmp_path / name).unlink()
    (tmp_path / name).symlink_to("/dev/zero")  # reading would never end
    with pytest.raises(ConfigError, match=r"not a regular file \(a character device\)"):
        load(tmp_path)


def test_a_utf8_bom_is_accepted(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_bytes(b'\xef\xbb\xbfmodel = "openai/4o"\n')
    (tmp_path / YAML_NAME).write_bytes(b"\xef\xbb\xbfproviders:\n  openai:\n    valid_models: {gpt-x: x}\n")
    config = load(tmp_path)[0].config
    assert config.model == "openai/4o"
    assert config.providers["openai"].valid_models["gpt-x"] == "x"


def test_data_directory_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match="is not a directory"):
        load(tmp_path / "file")


def test_yaml_provider_without_base_url_is_ignored_with_a_warning(tmp_path: Path) -> None:
    write(tmp_path / YAML_NAME, "providers:\n  orphan:\n    api_key: k\n    valid_models: {m: m}\n")
    config, warnings = load(tmp_path)
    assert "orphan" not in config.config.providers  # never sends its key to a placeholder URL
    assert any("provider 'orphan' has no base_api_url" in w for w in warnings)


def test_yaml_with_keys_readable_by_others_warns_with_the_fix(tmp_path: Path) -> None:
    path = write(tmp_path / YAML_NAME, "providers:\n  openai:\n    api_key: sk-abcdef123456\n", mode=0o644)
    warnings = load(tmp_path)[1]
    assert f"run: chmod 600 {path}" in " ".join(warnings)
    assert not any("sk-abcdef123456" in w for w in warnings)
    path.chmod(0o600)
    assert not any("chmod" in w for w in load(tmp_path)[1])


def test_config_toml_with_a_key_readable_by_others_warns_with_the_fix(tmp_path: Path) -> None:
    path = write(tmp_path / "config.toml", '[providers.openai]\napi_key = "sk-abcdef123456"\n', mode=0o644)
    warnings = load(tmp_path)[1]
    assert f"Warning: {path} holds API keys and is readable by others; run: chmod 600 {path}" in warnings
    assert not any("abcdef123456" in w for w in warnings)
    path.chmod(0o600)
    assert not any("chmod" in w for w in load(tmp_path)[1])
    write(tmp_path / "config.toml", '[providers.local]\napi_key = "none"\nmodel_hint = 1\n', mode=0o644)
    assert not any("chmod" in w for w in load(tmp_path)[1])  # a placeholder is no key


def test_yaml_without_keys_readable_by_others_is_fine(tmp_path: Path) -> None:
    write(tmp_path / YAML_NAME, "providers:\n  openai:\n    name: O\n", mode=0o644)
    assert load(tmp_path)[1] == []


@pytest.mark.parametrize("key", ["fake-not-configured", "not-configured", "none", "local", '""', "'  '"])
def test_yaml_with_only_placeholder_keys_readable_by_others_is_fine(tmp_path: Path, key: str) -> None:
    write(tmp_path / YAML_NAME, f"providers:\n  openai:\n    api_key: {key}\n"
                                "  deepseek:\n    api_key: ds-not-configured\n", mode=0o644)
    assert load(tmp_path)[1] == []


def test_bad_files_are_never_modified(tmp_path: Path) -> None:
    toml = write(tmp_path / "config.toml", "model = \n")
    yaml = write(tmp_path / YAML_NAME, "providers: [\n")
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in (toml, yaml)}
    with pytest.raises(ConfigError):
        load(tmp_path)
    toml.write_text('model = "openai/4o"\n')
    before[toml] = (toml.read_bytes(), toml.stat().st_mtime_ns)
    with pytest.raises(ConfigError):
        load(tmp_path)
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in (toml, yaml)} == before


def test_models_remembered_invalid_beat_builtin_ones_and_config_toml_wins(tmp_path: Path) -> None:
    write(tmp_path / YAML_NAME, "providers:\n  openai:\n    invalid_models: [gpt-5, gpt-5-nano]\n"
                                "  deepseek:\n    valid_models: {both: b}\n    invalid_models: [both]\n")
    write(tmp_path / "config.toml", '[providers.openai]\nvalid_models = { "gpt-5-nano" = "nano" }\n')
    providers = load(tmp_path)[0].config.providers
    assert "gpt-5" not in providers["openai"].valid_models and "gpt-5" in providers["openai"].invalid_models
    assert providers["openai"].valid_models["gpt-5-nano"] == "nano"
    assert "gpt-5-nano" not in providers["openai"].invalid_models
    assert "both" not in providers["deepseek"].valid_models
    for provider in providers.values():
        assert not set(provider.valid_models) & set(provider.invalid_models)


def test_an_environment_key_is_used_without_a_notice(tmp_path: Path, capsys) -> None:
    notices: List[str] = []
    config = Config(data_directory=tmp_path, environ={"DEEPSEEK_API_KEY": "ds-env-key-123456"}, warn=notices.append)
    assert capsys.readouterr() == ("", "") and notices == []
    assert config.key_sources["deepseek"] == "environment (DEEPSEEK_API_KEY)"


def test_update_valid_models_runs_discovery_at_start(tmp_path: Path) -> None:
    from tests.fake_openai_server import FakeOpenAIServer
    with FakeOpenAIServer(chat_models=["c1"], non_chat_models=["e1"]) as server:
        write(tmp_path / "config.toml", f'[providers.fake]\nbase_api_url = "{server.base_url}"\n'
                                        'api_key = "test-key"\n')
        reports: List[str] = []
        config = Config(data_directory=tmp_path, environ={}, warn=lambda _: None, report=reports.append,
                        update_valid_models=True)
    assert config.config.providers["fake"].valid_models == {"c1": "c1"}
    assert config.config.providers["fake"].invalid_models == ["e1"]
    assert any(line.startswith("fake: 2 models found, 1 valid, 1 invalid") for line in reports)
    assert "c1: c1" in (tmp_path / YAML_NAME).read_text()
    assert config.valid_models_updated is True


def test_update_valid_models_is_a_boolean_and_off_by_default(tmp_path: Path) -> None:
    write(tmp_path / "config.toml", '[providers.fake]\nbase_api_url = "http://127.0.0.1:9/v1"\n'
                                    'api_key = "test-key"\n')
    config = Config(data_directory=tmp_path, environ={})
    assert config.valid_models_updated is None and not (tmp_path / YAML_NAME).exists()  # nothing discovered
    assert inspect.signature(Config).parameters["update_valid_models"].annotation in (bool, "bool")


def test_a_provider_without_a_name_is_called_by_its_key(tmp_path: Path) -> None:
    write(tmp_path / "config.toml", '[providers.local]\nbase_api_url = "http://127.0.0.1:1/v1"\n')
    assert Config(data_directory=tmp_path, environ={}).config.providers["local"].name == "local"


def test_models_another_llmc_discovered_are_taken_in_once(tmp_path: Path) -> None:
    config = Config(data_directory=tmp_path, environ={})
    assert config.reload_providers_if_changed() is False
    manager = config.config.providers
    refused = manager.refusals.setdefault("openai", ProviderRefusals())
    other = Config(data_directory=tmp_path, environ={})
    other.config.providers["openai"].merge_valid_models(["gpt-found-elsewhere"])
    other.config.providers.persist_provider_configs(["openai"])
    assert config.reload_providers_if_changed() is True
    assert "gpt-found-elsewhere" in config.config.providers["openai"].valid_models
    assert config.config.providers is manager and manager.refusals["openai"] is refused  # the run's, kept
    assert config.reload_providers_if_changed() is False


def test_the_concurrency_of_the_command_line_reaches_every_part_and_survives_a_reload(tmp_path: Path) -> None:
    write(tmp_path / "config.toml", "concurrency = 9\nread_timeout = 7\n")
    config = Config(data_directory=tmp_path, environ={}, concurrency=4)

    def concurrencies() -> tuple:
        manager = config.config.providers
        return (config.config.concurrency, manager.concurrency, manager.discovery_service.concurrency,
                manager.discovery_service.settings.pool_size, manager.http_settings.pool_size,
                manager.http_settings.read_timeout)
    assert concurrencies() == (4, 4, 4, 4, 4, 7.0)
    other = Config(data_directory=tmp_path, environ={})
    assert other.config.providers.concurrency == 9  # without the flag, config.toml's value
    other.config.providers["openai"].merge_valid_models(["gpt-found-elsewhere"])
    other.config.providers.persist_provider_configs(["openai"])
    assert config.reload_providers_if_changed() is True
    assert "gpt-found-elsewhere" in config.config.providers["openai"].valid_models
    assert concurrencies() == (4, 4, 4, 4, 4, 7.0)


def test_a_broken_file_on_reload_is_reported_once_and_the_models_kept(tmp_path: Path) -> None:
    config = Config(data_directory=tmp_path, environ={})
    write(tmp_path / YAML_NAME, "providers: [unclosed\n")
    with pytest.raises(ConfigError):
        config.reload_providers_if_changed()
    assert config.reload_providers_if_changed() is False and "openai" in config.config.providers


# Writing config.toml: the default model
COMMENTED_CONFIG = """# my settings
model = "openai/4o"  # the one I like
# stream or not
stream = false

[providers.local]
name = "Local"  # llama.cpp
base_api_url = "http://127.0.0.1:8080/v1"
api_key = "none"
valid_models = { "qwen" = "q" }
"""


def test_set_default_model_keeps_comments_other_settings_and_mode(tmp_path: Path) -> None:
    path = write(tmp_path / "config.toml", COMMENTED_CONFIG, mode=0o640)
    config, _ = load(tmp_path)
    assert config.set_default_model("q") == "local/qwen"
    text = path.read_text()
    assert text == COMMENTED_CONFIG.replace('model = "openai/4o"', 'model = "local/qwen"')
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert load(tmp_path)[0].config.model == "local/qwen"
    assert not list(tmp_path.glob(".config.toml.*"))  # no temp file left


def test_set_default_model_adds_the_key_before_the_tables_and_creates_a_private_file(tmp_path: Path) -> None:
    path = write(tmp_path / "config.toml", "# only a comment\n[providers.openai]\napi_key = \"none\"\n")
    config, _ = load(tmp_path)
    config.set_default_model("5-mini")
    assert load_toml_file(path) == {"model": "openai/gpt-5-mini", "providers": {"openai": {"api_key": "none"}}}
    assert path.read_text().startswith("# only a comment\n")
    fresh = tmp_path / "fresh"
    config, _ = load(fresh)
    config.set_default_model("openai/4o")
    assert (fresh / "config.toml").read_text() == 'model = "openai/gpt-4o-2024-08-06"\n'
    assert stat.S_IMODE((fresh / "config.toml").stat().st_mode) == 0o600


def test_set_default_model_refuses_an_unknown_model_and_leaves_the_file(tmp_path: Path) -> None:
    path = write(tmp_path / "config.toml", COMMENTED_CONFIG)
    config, _ = load(tmp_path)
    with pytest.raises(InvalidModelError, match="Invalid model: nonesuch"):
        config.set_default_model("nonesuch")
    assert path.read_text() == COMMENTED_CONFIG


def test_set_default_model_never_overwrites_an_unreadable_or_broken_file(tmp_path: Path) -> None:
    path = write(tmp_path / "config.toml", COMMENTED_CONFIG)
    config, _ = load(tmp_path)
    path.write_text("model = [unclosed\n")
    with pytest.raises(ConfigError, match="config.toml: .*not changed"):
        config.set_default_model("4o")
    assert path.read_text() == "model = [unclosed\n"
    path.write_bytes(b"model = \"\xff\"\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        config.set_default_model("4o")
    assert path.read_bytes() == b"model = \"\xff\"\n"
    path.write_text("model = [unclosed\n")
    if os.geteuid() != 0:  # root reads anything
        path.chmod(0)
        with pytest.raises(ConfigError, match="permission denied"):
            config.set_default_model("4o")
        path.chmod(0o600)
        assert path.read_text() == "model = [unclosed\n"


def test_set_default_model_says_when_llmc_default_model_still_overrides_it(tmp_path: Path) -> None:
    config, warnings = load(tmp_path, environ={"LLMC_DEFAULT_MODEL": "openai/4o"})
    config.set_default_model("5-nano")
    assert warnings[-1] == "Note: LLMC_DEFAULT_MODEL=openai/4o still overrides it while it is set"


def test_set_default_model_says_at_once_why_the_model_cannot_chat_now(tmp_path: Path) -> None:
    config, warnings = load(tmp_path)
    assert config.set_default_model("4o") == "openai/gpt-4o-2024-08-06"
    assert warnings == ["Note: openai/gpt-4o-2024-08-06 cannot chat now: its provider has no API key now "
                        "(set OPENAI_API_KEY); it is the default all the same"]
    keyed, warnings = load(tmp_path / "keyed", environ={"OPENAI_API_KEY": "sk-test-0123456789"})
    keyed.set_default_model("4o")
    assert not [w for w in warnings if "cannot chat" in w]
