"""Types: the built-in providers of the behaviour spec and the ConfigModel defaults."""
import pytest
from pydantic import ValidationError

from llmc.ProviderConfig import ProviderConfig
from llmc.ProviderManager import ProviderManager
from llmc.Types import DEFAULT_MODEL, PROVIDER_DATA, ConfigModel


def test_built_in_providers_match_the_spec() -> None:
    assert list(PROVIDER_DATA)[:3] == ["openai", "deepseek", "hyperbolic"]
    assert PROVIDER_DATA["openai"]["base_api_url"] == "https://api.openai.com/v1"
    assert PROVIDER_DATA["openai"]["valid_models"]["gpt-4.1-mini-2025-04-14"] == "4.1-mini"
    assert PROVIDER_DATA["deepseek"]["valid_models"] == {"deepseek-chat": "dschat", "deepseek-reasoner": "r1"}
    assert PROVIDER_DATA["hyperbolic"]["valid_models"]["Qwen/QwQ-32B"] == "qdub"
    assert [PROVIDER_DATA[p]["api_key"] for p in list(PROVIDER_DATA)[:3]] == ["not-configured", "ds-not-configured", ""]


PRESETS = {"openrouter": "https://openrouter.ai/api/v1", "groq": "https://api.groq.com/openai/v1",
           "together": "https://api.together.ai/v1", "mistral": "https://api.mistral.ai/v1",
           "fireworks": "https://api.fireworks.ai/inference/v1", "cerebras": "https://api.cerebras.ai/v1",
           "deepinfra": "https://api.deepinfra.com/v1/openai", "xai": "https://api.x.ai/v1",
           "gemini": "https://generativelanguage.googleapis.com/v1beta/openai"}


def test_the_presets_have_their_documented_base_url_no_key_and_no_models() -> None:
    for name, url in PRESETS.items():
        config = ProviderConfig(**PROVIDER_DATA[name])
        assert (config.base_api_url, config.valid_models, config.has_api_key()) == (url, {}, False)
        assert config.key_variable(name) == name.upper() + "_API_KEY"  # the variable each provider's docs name


def test_every_built_in_provider_is_a_valid_provider_config() -> None:
    for entry in PROVIDER_DATA.values():
        assert ProviderConfig(**entry).valid_models == entry.get("valid_models", {})


def test_config_model_defaults_and_provider_manager() -> None:
    manager = ProviderManager({name: ProviderConfig(**entry) for name, entry in PROVIDER_DATA.items()})
    model = ConfigModel(providers=manager)
    assert model.model == DEFAULT_MODEL == "openai/4.1-mini"
    assert model.stream is True and model.sassy is False
    assert model.providers is manager
    assert manager.validate_model(model.model) == "gpt-4.1-mini-2025-04-14"


def test_config_model_rejects_wrong_types_and_unknown_fields() -> None:
    with pytest.raises(ValidationError):
        ConfigModel(stream="often")
    with pytest.raises(ValidationError):
        ConfigModel(colour=True)
    with pytest.raises(ValidationError):
        ConfigModel(concurrency=0)


@pytest.mark.parametrize("field, value", [
    ("sassy", "yes"), ("stream", "no"), ("stream", 1), ("sassy", "true"),
    ("connect_timeout", float("inf")), ("read_timeout", float("nan")), ("connect_timeout", True),
    ("read_timeout", "60"), ("max_retries", True), ("max_retries", 2.0), ("concurrency", "8"),
])
def test_config_model_takes_settings_of_their_own_type_only(field: str, value) -> None:
    with pytest.raises(ValidationError) as info:
        ConfigModel(**{field: value})
    assert info.value.errors()[0]["loc"] == (field,)


def test_config_model_takes_whole_numbers_for_seconds() -> None:
    model = ConfigModel(connect_timeout=5, read_timeout=2.5, sassy=True, stream=False)
    assert (model.connect_timeout, model.read_timeout, model.sassy, model.stream) == (5.0, 2.5, True, False)
    model.concurrency = 4  # assignment is checked the same way
    with pytest.raises(ValidationError):
        model.stream = "yes"


def test_the_settings_give_the_options_each_chat_request_goes_with() -> None:
    from llmc.base.ChatOptions import ChatOptions
    settings = ConfigModel(temperature=0.4, max_tokens=300, stream=False)
    assert settings.chat_options() == ChatOptions(temperature=0.4, max_tokens=300, stream=False)
    settings.temperature = 1.2  # /temperature: the next request goes with it
    assert settings.chat_options().temperature == 1.2
