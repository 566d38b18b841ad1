"""ProviderConfig: defaults, runtime-only cache fields, model lookup and list maintenance."""
from __future__ import annotations

import pytest

from llmc.ProviderConfig import ProviderConfig, api_key_variable


def make(valid=None, invalid=None) -> ProviderConfig:
    return ProviderConfig(name="P", base_api_url="http://127.0.0.1:1/v1", api_key="k",
                          valid_models=valid or {}, invalid_models=invalid or [])


def test_defaults_match_the_plan() -> None:
    config = ProviderConfig()
    assert config.name == "Test Provider"
    assert config.base_api_url == "https://test.openai.com/v1"
    assert config.api_key == ""
    assert config.valid_models == {}
    assert config.invalid_models == []


def test_cache_duration_reads_300_and_is_runtime_only() -> None:
    config = ProviderConfig()
    assert config.cache_duration == 300
    assert config._cached_models == [] and config._cache_timestamp == 0.0
    dumped = config.model_dump()
    assert set(dumped) == {"name", "base_api_url", "api_key", "api_key_env", "found_by_scan", "valid_models",
                           "invalid_models", "model_prices", "model_capabilities"}
    config.cache_duration = 5
    assert config.cache_duration == 5 and "cache_duration" not in config.model_dump()


def test_instances_do_not_share_runtime_state() -> None:
    first, second = ProviderConfig(), ProviderConfig()
    first._cached_models.append({"id": "x"})
    assert second._cached_models == []


def test_yaml_entry_without_invalid_models_loads() -> None:
    config = ProviderConfig(**{"name": "P", "base_api_url": "u", "valid_models": {"a": "b"}})
    assert config.invalid_models == [] and config.get_invalid_models() == []


def test_repr_never_shows_the_key() -> None:
    assert "sk-secret-value" not in repr(ProviderConfig(api_key="sk-secret-value"))


def test_get_valid_and_invalid_models() -> None:
    config = make({"long-a": "a", "long-b": "b"}, ["bad"])
    assert config.get_valid_models() == ["long-a", "long-b"]
    assert config.get_invalid_models() == ["bad"]
    config.get_valid_models().append("x")
    assert "x" not in config.valid_models


def test_find_model_exact_long_or_short_name_first() -> None:
    config = make({"gpt-4o-mini": "mini", "gpt-4o": "4o"})
    assert config.find_model("gpt-4o") == "gpt-4o"  # exact beats the earlier substring match
    assert config.find_model("4o") == "gpt-4o"
    assert config.find_model("mini") == "gpt-4o-mini"


def test_find_model_falls_back_to_substring_of_long_or_short() -> None:
    config = make({"deepseek-chat": "dschat", "deepseek-reasoner": "r1"})
    assert config.find_model("reason") == "deepseek-reasoner"
    assert config.find_model("dsch") == "deepseek-chat"
    assert config.find_model("deepseek") == "deepseek-chat"  # the first match wins


def test_find_model_searches_valid_models_only() -> None:
    config = make({"chat-1": "c1"}, ["embed-1"])
    assert config.find_model("embed-1") is None
    assert config.find_model("embed") is None
    assert config.find_model("nothing-like-it") is None


def test_merge_valid_models_keeps_short_names_and_adds_new_ids_as_their_own() -> None:
    config = make({"gpt-4o-2024-08-06": "4o"})
    config.merge_valid_models(["gpt-4o-2024-08-06", "new-model"])
    assert config.valid_models == {"gpt-4o-2024-08-06": "4o", "new-model": "new-model"}


def test_merge_valid_models_takes_models_out_of_invalid_models() -> None:
    config = make({}, ["m1", "m2"])
    config.merge_valid_models(["m1"])
    assert config.valid_models == {"m1": "m1"} and config.invalid_models == ["m2"]


def test_mark_invalid_keeps_the_lists_disjoint() -> None:
    config = make({"m1": "one", "m2": "two"}, ["old"])
    config.mark_invalid(["m1", "old", "m3"])
    assert config.valid_models == {"m2": "two"}
    assert config.invalid_models == ["old", "m1", "m3"]
    assert not set(config.valid_models) & set(config.invalid_models)
    config.merge_valid_models(["m3"])
    assert not set(config.valid_models) & set(config.invalid_models)


def test_assignment_is_validated() -> None:
    config = make()
    with pytest.raises(ValueError):
        config.valid_models = ["not", "a", "mapping"]  # type: ignore[assignment]


@pytest.mark.parametrize("name, variable", [("openai", "OPENAI_API_KEY"), ("deepseek", "DEEPSEEK_API_KEY"),
                                            ("my-local.llm", "MY_LOCAL_LLM_API_KEY")])
def test_api_key_variable(name: str, variable: str) -> None:
    assert api_key_variable(name) == variable


@pytest.mark.parametrize("url, local", [
    ("http://127.0.0.1:8080/v1", True), ("http://127.8.9.1/v1", True), ("http://localhost:11434/v1", True),
    ("http://LOCALHOST./v1", True), ("http://[::1]:8000/v1", True), ("https://api.openai.com/v1", False),
    ("http://128.0.0.1/v1", False), ("http://localhost.example.com/v1", False), ("http://[::2]/v1", False),
    ("not a url", False), ("http://[bad/v1", False), ("", False)])
def test_a_loopback_url_is_local(url: str, local: bool) -> None:
    assert ProviderConfig(base_api_url=url).is_local() is local


def test_a_local_server_is_usable_without_a_key_and_sends_none() -> None:
    local = ProviderConfig(base_api_url="http://127.0.0.1:8080/v1", api_key="not-configured")
    remote = ProviderConfig(base_api_url="https://api.example.com/v1", api_key="")
    assert local.is_usable() and not local.has_api_key() and local.key_to_send() == ""
    assert not remote.is_usable() and remote.key_to_send() == ""
    keyed = ProviderConfig(base_api_url="http://127.0.0.1:8080/v1", api_key=" secret-key ")
    assert keyed.has_api_key() and keyed.key_to_send() == "secret-key"


def test_the_key_variable_is_api_key_env_else_the_name_rule() -> None:
    assert ProviderConfig().key_variable("my-llm") == "MY_LLM_API_KEY"
    assert ProviderConfig(api_key_env="LOCAL_TOKEN").key_variable("my-llm") == "LOCAL_TOKEN"


def test_prices_are_set_asked_and_dropped_with_the_model() -> None:
    from llmc.discovery.ModelPrice import ModelPrice
    config = ProviderConfig(model_prices={"a": {"prompt": 1, "completion": 2}})
    assert config.price_of("a") == ModelPrice(prompt=1, completion=2) and config.price_of("b") is None
    config.set_prices({"b": ModelPrice(prompt=3, completion=4)})
    assert set(config.model_prices) == {"a", "b"}
    config.mark_invalid(["a"])
    assert config.price_of("a") is None and config.price_of("b") is not None


@pytest.mark.parametrize("key", ["", "   ", "not-configured", "ds-not-configured"])
def test_empty_blank_and_placeholder_keys_are_no_keys(key: str) -> None:
    assert not ProviderConfig(api_key=key).has_api_key()


def test_a_real_looking_key_is_a_key() -> None:
    assert ProviderConfig(api_key="sk-abc").has_api_key()


def test_api_key_env_holds_a_variable_name_as_the_file_rule_says() -> None:
    from pydantic import ValidationError
    with pytest.raises(ValidationError):
        ProviderConfig(api_key_env="sk-my-secret-key")
    with pytest.raises(ValidationError):
        ProviderConfig().api_key_env = "MY KEY"
    assert ProviderConfig(api_key_env="").key_variable("local") == "LOCAL_API_KEY"
