"""ProvidersYamlStore and persistence: format, what is (never) written, comments, modes, atomicity."""
from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Dict, List

import pytest
import yaml

from llmc.base import SafeFiles
from llmc.Config import Config
from llmc.base.Errors import ConfigError, WriteError
from llmc.discovery.ProvidersYamlStore import ProvidersYamlStore, parse_yaml
from llmc.Types import PROVIDER_DATA

YAML_NAME = "openaicompat-providers.yaml"


def load(data_dir: Path, environ: Dict[str, str] | None = None) -> Config:
    return Config(data_directory=data_dir, environ=environ or {}, warn=lambda _: None)


def read_yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def test_persist_format(tmp_path: Path) -> None:
    config = load(tmp_path)
    providers = config.config.providers
    providers["deepseek"].merge_valid_models(["deepseek-v4"])
    providers["deepseek"].mark_invalid(["deepseek-embed"])
    providers.persist_provider_configs()
    data = read_yaml(tmp_path / YAML_NAME)
    assert list(data) == ["providers"]
    assert set(data["providers"]) == set(PROVIDER_DATA)
    deepseek = data["providers"]["deepseek"]
    assert deepseek == {"name": "DeepSeek", "base_api_url": "https://api.deepseek.com/v1",
                        "valid_models": {"deepseek-chat": "dschat", "deepseek-reasoner": "r1",
                                         "deepseek-v4": "deepseek-v4"},
                        "invalid_models": ["deepseek-embed"]}
    for entry in data["providers"].values():
        assert "api_key" not in entry
        assert not {"_cached_models", "_cache_timestamp", "cache_duration"} & set(entry)
    assert stat.S_IMODE((tmp_path / YAML_NAME).stat().st_mode) == 0o600


def test_persisted_file_loads_back(tmp_path: Path) -> None:
    config = load(tmp_path)
    config.config.providers["openai"].mark_invalid(["gpt-5"])
    config.config.providers.persist_provider_configs()
    again = load(tmp_path).config.providers["openai"]
    assert "gpt-5" in again.invalid_models and "gpt-5" not in again.valid_models


def test_keys_from_environment_and_config_toml_are_never_written(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[providers.deepseek]\napi_key = "sk-toml-key-9999"\n')
    config = load(tmp_path, {"OPENAI_API_KEY": "sk-env-key-8888"})
    config.config.providers.persist_provider_configs()
    text = (tmp_path / YAML_NAME).read_text()
    assert "sk-env-key-8888" not in text and "sk-toml-key-9999" not in text and "api_key" not in text


def test_a_key_the_yaml_held_stays_and_no_other_is_added(tmp_path: Path) -> None:
    path = tmp_path / YAML_NAME
    path.write_text("providers:\n  hyperbolic:\n    api_key: hk-yaml-key-7777\n")
    path.chmod(0o600)
    config = load(tmp_path, {"OPENAI_API_KEY": "sk-env-key-8888"})
    config.config.providers.persist_provider_configs()
    data = read_yaml(path)
    assert data["providers"]["hyperbolic"]["api_key"] == "hk-yaml-key-7777"
    assert "api_key" not in data["providers"]["openai"]
    assert "sk-env-key-8888" not in path.read_text()


def test_config_toml_overrides_are_not_copied(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(
        '[providers.openai]\nbase_api_url = "http://127.0.0.1:1/v1"\nname = "Local OpenAI"\n'
        'valid_models = { "toml-only" = "t", "gpt-5" = "five" }\n'
        '[providers.local]\nbase_api_url = "http://127.0.0.1:2/v1"\napi_key = "k"\n')
    config = load(tmp_path)
    config.config.providers["local"].merge_valid_models(["found-model"])
    config.config.providers.persist_provider_configs()
    data = read_yaml(tmp_path / YAML_NAME)["providers"]
    assert data["openai"]["base_api_url"] == "https://api.openai.com/v1"
    assert data["openai"]["name"] == "OpenAI"
    assert "toml-only" not in data["openai"]["valid_models"]
    assert data["openai"]["valid_models"]["gpt-5"] == "5"  # the built-in short name, not config.toml's
    assert config.config.providers["openai"].valid_models["gpt-5"] == "five"
    assert "base_api_url" not in data["local"] and "api_key" not in data["local"]
    assert data["local"]["valid_models"] == {"found-model": "found-model"}


def test_comments_and_unknown_keys_are_kept(tmp_path: Path) -> None:
    path = tmp_path / YAML_NAME
    path.write_text("# my providers\nproviders:\n  openai:\n    # keep me\n    colour: blue\n"
                    "    valid_models:\n      gpt-4o-2024-08-06: 4o  # favourite\nextra: 1\n")
    store = ProvidersYamlStore(path)
    store.save({"openai": {"valid_models": {"new": "new"}, "invalid_models": ["bad"]}})
    text = path.read_text()
    for kept in ("# my providers", "# keep me", "colour: blue", "# favourite", "extra: 1"):
        assert kept in text
    data = read_yaml(path)["providers"]["openai"]
    assert data["valid_models"] == {"gpt-4o-2024-08-06": "4o", "new": "new"}
    assert data["invalid_models"] == ["bad"]


def test_save_merges_with_what_the_file_holds_now(tmp_path: Path) -> None:
    path = tmp_path / YAML_NAME
    store = ProvidersYamlStore(path)
    store.save({"a": {"valid_models": {"m1": "m1"}, "invalid_models": ["x1"]}})
    store.save({"b": {"valid_models": {"m2": "m2"}, "invalid_models": []}})
    store.save({"a": {"valid_models": {"x1": "x1"}, "invalid_models": ["m1"]}})
    data = read_yaml(path)["providers"]
    assert data["a"] == {"valid_models": {"x1": "x1"}, "invalid_models": ["m1"]}
    assert data["b"] == {"valid_models": {"m2": "m2"}, "invalid_models": []}


def test_existing_mode_is_kept(tmp_path: Path) -> None:
    path = tmp_path / YAML_NAME
    path.write_text("providers: {}\n")
    path.chmod(0o640)
    ProvidersYamlStore(path).save({"a": {"valid_models": {}, "invalid_models": []}})
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


@pytest.mark.parametrize("text", ["providers: [\n", "providers:\n  a: [1\n", "- a\n- b\n",
                                  "providers: 3\n", "providers:\n  a: 1\n", "a: 1\na: 2\n"])
def test_unparseable_or_wrong_file_is_never_overwritten(tmp_path: Path, text: str) -> None:
    path = tmp_path / YAML_NAME
    path.write_text(text)
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    with pytest.raises(ConfigError) as info:
        ProvidersYamlStore(path).save({"a": {"valid_models": {"m": "m"}, "invalid_models": []}})
    assert str(path) in str(info.value)
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_write_is_atomic_a_failure_mid_write_leaves_the_old_file(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / YAML_NAME
    path.write_text("providers:\n  a:\n    valid_models: {old: old}\n")
    before = path.read_bytes()

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(SafeFiles.os, "replace", fail)
    with pytest.raises(WriteError) as info:
        ProvidersYamlStore(path).save({"a": {"valid_models": {"new": "new"}, "invalid_models": []}})
    assert str(info.value) == f"cannot write {path}: No space left on device; the file is unchanged"
    assert info.value.exit_code == 74  # a full disk is an output error, as the README's exit statuses say
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [YAML_NAME, YAML_NAME + ".lock"]


def test_load_providers(tmp_path: Path) -> None:
    path = tmp_path / YAML_NAME
    store = ProvidersYamlStore(path)
    assert store.load_providers() == {}
    path.write_text("")
    assert store.load_providers() == {}
    path.write_text("providers:\n")
    assert store.load_providers() == {}
    warnings: List[str] = []
    path.write_text("other: 1\nproviders:\n  a: {name: A}\n")
    assert store.load_providers(warn=warnings.append) == {"a": {"name": "A"}}
    assert warnings == [f"Warning: {path}: unknown top-level key 'other' ignored"]


def test_parse_yaml_error_names_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        parse_yaml("a: 1\nb: [\n", tmp_path / "f.yaml")
    assert str(info.value).startswith(f"{tmp_path / 'f.yaml'}: line ")


def test_save_creates_the_directory(tmp_path: Path) -> None:
    path = tmp_path / "new" / YAML_NAME
    ProvidersYamlStore(path).save({"a": {"valid_models": {}, "invalid_models": []}})
    assert read_yaml(path) == {"providers": {"a": {"valid_models": {}, "invalid_models": []}}}
    assert os.access(path, os.R_OK)


def test_a_read_only_directory_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def deny(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(SafeFiles.tempfile, "mkstemp", deny)  # chmod does not stop root
    with pytest.raises(ConfigError, match="Permission denied; the file is unchanged"):
        ProvidersYamlStore(tmp_path / YAML_NAME).save({"a": {"valid_models": {}, "invalid_models": []}})
    with pytest.raises(ConfigError, match="cannot write .*config.toml: Permission denied"):
        Config.write_default_config(tmp_path)


YAML_1_1_LOOKALIKES = ["12:30", "off", "on", "yes", "No", "y", "1e3", "0x10", "0o17", "0b101", "1_000", "null",
                       "~", "NULL", "true", "2024-01-01", ".5", "-.inf", ".NaN", "<<", "=", "plain-id"]


def test_ids_that_yaml_1_1_reads_as_no_text_are_written_quoted_and_read_back(tmp_path: Path) -> None:
    store = ProvidersYamlStore(tmp_path / YAML_NAME)
    models = {model_id: model_id for model_id in YAML_1_1_LOOKALIKES}
    invalid = ["Off", "NO", "True", "0x1F", "12:30:00", "-1_0"]
    store.save({"fake": {"name": "off", "base_api_url": "null", "valid_models": models,
                         "invalid_models": invalid[:3]}})
    store.save({"fake": {"valid_models": {"later": "yes"}, "invalid_models": invalid[3:]}})  # quotes kept
    entry = store.load_providers()["fake"]
    assert entry["name"] == "off" and entry["base_api_url"] == "null"
    assert entry["valid_models"] == {**models, "later": "yes"}
    assert entry["invalid_models"] == invalid
    assert "plain-id: plain-id" in (tmp_path / YAML_NAME).read_text()  # quotes only where needed
    load(tmp_path)  # and the whole configuration loads


def test_a_provider_name_that_yaml_1_1_reads_as_no_text_is_quoted(tmp_path: Path) -> None:
    store = ProvidersYamlStore(tmp_path / YAML_NAME)
    store.save({"yes": {"valid_models": {"m": "m"}, "invalid_models": []}})
    assert list(store.load_providers()) == ["yes"]


def test_quotes_the_user_wrote_are_kept(tmp_path: Path) -> None:
    path = tmp_path / YAML_NAME
    path.write_text("providers:\n  fake:\n    valid_models:\n      '12:30': 'off'  # mine\n")
    store = ProvidersYamlStore(path)
    store.save({"fake": {"valid_models": {"m": "m"}, "invalid_models": []}})
    assert "'12:30': 'off'  # mine" in path.read_text()
    assert store.load_providers()["fake"]["valid_models"] == {"12:30": "off", "m": "m"}


@pytest.mark.parametrize("text, line, key", [
    ("providers:\n  fake:\n    name: A\n  other: {}\n  fake:\n    name: B\n", 5, "fake"),
    ("providers:\n  fake:\n    valid_models:\n      m1: a\n      m2: b\n      m1: c\n", 6, "m1"),
    ("providers:\n  fake:\n    name: A\n    name: B\n", 4, "name"),
    ("providers: {}\nproviders: {}\n", 2, "providers"),
])
def test_duplicate_keys_are_refused_when_loading(tmp_path: Path, text: str, line: int, key: str) -> None:
    path = tmp_path / YAML_NAME
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        ProvidersYamlStore(path).load_providers()
    assert str(info.value).startswith(f"{path}: line {line}: duplicate key '{key}' (first on line ")
    with pytest.raises(ConfigError, match="duplicate key"):
        load(tmp_path)


def test_merge_keys_may_be_overridden_without_counting_as_duplicates(tmp_path: Path) -> None:
    assert parse_yaml("base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  x: 3\n", tmp_path / "f.yaml") == {
        "base": {"x": 1, "y": 2}, "m": {"x": 3, "y": 2}}


@pytest.mark.parametrize("model_id, reason", [
    ("lone\ud800x", "line 6: found invalid Unicode character escape code"),
    ("nel\x85x", "provider 'evil': its models would not read back as saved"),  # YAML 1.1 reads U+0085 as a space
])
def test_a_save_llmc_could_not_read_back_is_refused(tmp_path: Path, model_id: str, reason: str) -> None:
    path = tmp_path / YAML_NAME
    path.write_text("providers:\n  keep:\n    valid_models: {a: a}\n")
    before = path.read_bytes()
    with pytest.raises(ConfigError) as caught:
        ProvidersYamlStore(path).save({"evil": {"valid_models": {model_id: model_id}, "invalid_models": []}})
    assert str(caught.value) == f"{path}: not saved: {reason}; the file is unchanged"
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([YAML_NAME, YAML_NAME + ".lock"])  # no temp file


@pytest.mark.stress
def test_a_save_over_the_read_limit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / YAML_NAME
    huge = {c * 1_000_000: c * 1_000_000 for c in "xyz"}  # 6 MB of YAML: over the 5 MB read limit
    with pytest.raises(ConfigError, match=r"not saved: it would be 6,000,\d+ bytes, over the 5,242,880-byte "
                                          r"limit; the file is unchanged"):
        ProvidersYamlStore(path).save({"evil": {"valid_models": huge}})
    assert not path.exists()


def alias_bomb(levels: int, merge: bool = False) -> str:
    """Billion laughs: each level an anchor of nine aliases to the one before (or nine << merges)."""
    if merge:
        lines = ["l0: &a0 {k: v}"] + [f"l{i}: &a{i} {{<<: [{', '.join([f'*a{i - 1}'] * 9)}], k{i}: v}}"
                                     for i in range(1, levels)]
    else:
        lines = ['l0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
        lines += [f"l{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join(lines) + f"\nproviders:\n  evil:\n    invalid_models: *a{levels - 1}\n"


@pytest.mark.parametrize("merge", [False, True])
def test_an_alias_bomb_is_refused_at_once(tmp_path: Path, merge: bool) -> None:
    path = tmp_path / YAML_NAME
    path.write_text(alias_bomb(7, merge))  # 9**7 values once expanded
    with pytest.raises(ConfigError) as caught:
        load(tmp_path)
    assert str(caught.value) == (f"{path}: line 1: aliases would expand to more than 100,000 values; "
                                 "refused (an alias bomb?)")
    with pytest.raises(ConfigError, match="alias bomb"):
        ProvidersYamlStore(path).save({"evil": {"valid_models": {"m": "m"}}})


def test_a_recursive_alias_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"f.yaml: line 1: an alias refers to a node it is inside$"):
        parse_yaml("a: &a [1, *a]\n", tmp_path / "f.yaml")


def test_a_few_aliases_still_load(tmp_path: Path) -> None:
    text = "base: &url http://127.0.0.1:9/v1\nproviders:\n  a: {base_api_url: *url}\n  b: {base_api_url: *url}\n"
    assert parse_yaml(text, tmp_path / "f.yaml")["providers"]["b"] == {"base_api_url": "http://127.0.0.1:9/v1"}


@pytest.mark.parametrize("entry, problem", [
    ("valid_models: [a]", "provider 'x': field 'valid_models' must be a mapping of long model id to short name"),
    ("base_api_url: 42", "provider 'x': field 'base_api_url' must be text, not a number (42)"),
    ("model_prices: {m: {prompt: -1}}", "provider 'x': model_prices['m'] field 'prompt' must be USD per million"),
])
def test_a_file_edited_into_a_shape_llmc_cannot_load_is_never_overwritten(tmp_path: Path, entry: str,
                                                                          problem: str) -> None:
    path = tmp_path / YAML_NAME
    path.write_text(f"providers:\n  x:\n    {entry}\n")
    before = path.read_bytes()
    with pytest.raises(ConfigError) as info:
        ProvidersYamlStore(path).save({"y": {"valid_models": {"m": "m"}, "invalid_models": []}})
    assert str(info.value).startswith(f"{path}: {problem}") and str(info.value).endswith("; not overwritten")
    assert path.read_bytes() == before


def test_a_save_the_loader_would_refuse_is_not_written(tmp_path: Path) -> None:
    path = tmp_path / YAML_NAME
    with pytest.raises(ConfigError) as info:
        ProvidersYamlStore(path).save({"x": {"valid_models": {"m": ""}, "invalid_models": []}})
    assert str(info.value) == (f"{path}: not saved: provider 'x': valid_models['m'] must be a short name (text), "
                               'not text (""); the file is unchanged')
    assert not path.exists()


def test_load_providers_checks_each_entry_by_the_one_rule(tmp_path: Path) -> None:
    path = tmp_path / YAML_NAME
    path.write_text("providers:\n  a: {name: A, colour: blue}\n")
    warnings: List[str] = []
    assert ProvidersYamlStore(path).load_providers(warn=warnings.append) == {"a": {"name": "A"}}
    assert warnings == [f"Warning: {path}: provider 'a': unknown field 'colour' ignored"]
    path.write_text("providers:\n  a: {invalid_models: {m: m}}\n")
    with pytest.raises(ConfigError, match=f"^{path}: provider 'a': field 'invalid_models' must be a list"):
        ProvidersYamlStore(path).load_providers()
